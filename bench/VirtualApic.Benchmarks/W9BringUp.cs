// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W9 bring-up, 4096 vCPUs (issue 12 item 7): what a guest's boot does to every APIC, the SVR write
/// that software-enables it and the LDR write that gives it a flat logical ID, through the guest's
/// MMIO path (so the backend's exits and inhibit evaluation are in the cost). One operation = the
/// whole bring-up of a fresh VM; each iteration brings up <see cref="Vms"/> VMs built in the iteration
/// setup, outside the measurement, so that an iteration lasts milliseconds rather than a fraction of one
/// (one 4096-vCPU bring-up alone is too short for the timer on a loaded machine).
/// The target: every assist within 2x of <c>none</c>.
/// </summary>
[MemoryDiagnoser]
public class W9BringUp
{
    private const ulong Base = 0xFEE0_0000;
    private const int Vms = 4;
    private readonly VirtualMachine[] _vms = new VirtualMachine[Vms];

    /// <summary>The backend.</summary>
    [Params(AccelKind.None, AccelKind.Apicv, AccelKind.Avic, AccelKind.X2Avic)]
    public AccelKind Accel { get; set; }

    [IterationSetup]
    public void Setup()
    {
        for (int i = 0; i < Vms; i++)
        {
            _vms[i] = new VirtualMachine(new VmOptions { Cpus = 4096, Accel = Accel });
        }

        // Building four VMs leaves tens of MB of garbage (the previous iteration's VMs too): collect
        // it here, so that no background collection of the setup's garbage runs during the bring-up.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    [IterationCleanup]
    public void Cleanup()
    {
        foreach (var vm in _vms)
        {
            vm.Dispose();
        }
    }

    [Benchmark(OperationsPerInvoke = Vms)]
    public long SvrAndLdrOnEveryVcpu()
    {
        long rebuilds = 0;
        foreach (var vm in _vms)
        {
            foreach (var v in vm.Vcpus)
            {
                v.MmioWrite(Base + ApicOffset.Svr, 0x1FF, 4);
                v.MmioWrite(Base + ApicOffset.Ldr, (1u << (v.Index & 7)) << 24, 4);
            }

            rebuilds += vm.Router.MapRebuilds;
        }

        return rebuilds;
    }
}
