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
/// whole bring-up of a fresh VM; the VM is built in the iteration setup, outside the measurement.
/// The target: every assist within 2x of <c>none</c>.
/// </summary>
[MemoryDiagnoser]
public class W9BringUp
{
    private const ulong Base = 0xFEE0_0000;
    private VirtualMachine _vm = null!;

    /// <summary>The backend.</summary>
    [Params(AccelKind.None, AccelKind.Apicv, AccelKind.Avic, AccelKind.X2Avic)]
    public AccelKind Accel { get; set; }

    [IterationSetup]
    public void Setup() => _vm = new VirtualMachine(new VmOptions { Cpus = 4096, Accel = Accel });

    [IterationCleanup]
    public void Cleanup() => _vm.Dispose();

    [Benchmark]
    public long SvrAndLdrOnEveryVcpu()
    {
        foreach (var v in _vm.Vcpus)
        {
            v.MmioWrite(Base + ApicOffset.Svr, 0x1FF, 4);
            v.MmioWrite(Base + ApicOffset.Ldr, (1u << (v.Index & 7)) << 24, 4);
        }

        return _vm.Router.MapRebuilds;
    }
}
