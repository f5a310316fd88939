// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Cpu;
using VirtualApic.Fabric;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W3 with every target halted, the IPI an idle guest sends most (a reschedule to an idle CPU): one
/// thread, a ring over the vCPUs where each sends a fixed x2APIC IPI to the next, halts, and the
/// target wakes to take it, EOI and IRET. Under AVIC every IPI is an incomplete-IPI exit
/// (TARGET_NOT_RUNNING) whose handler kicks the targets: constant work per target is the point
/// (docs/performance.md, "Forty-second session"). Not a compare.sh workload: a probe case.
/// </summary>
public class W3IpiToHalted
{
    private const int PerInvoke = 64;
    private const byte Vector = 0x50;

    private VirtualMachine _vm = null!;
    private Vcpu[] _vcpus = null!;
    private int _cursor;

    /// <summary>The backend.</summary>
    [Params("none", "apicv", "avic", "x2avic")]
    public string Accel { get; set; } = "none";

    /// <summary>vCPUs in the VM.</summary>
    [Params(64, 1024)]
    public int Cpus { get; set; } = 64;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = Cpus, Accel = Guest.ParseAccel(Accel) });
        _vcpus = [.. _vm.Vcpus];
        foreach (var v in _vcpus)
        {
            Guest.EnterX2Apic(v);
        }

        for (int i = 1; i < _vcpus.Length; i++)
        {
            _vcpus[i].Hlt();
            Guest.Check(_vcpus[i].State == VcpuRunState.Halted, "the targets halted");
        }

        Guest.Check(Ring() == PerInvoke * Vector, "every IPI taken with its vector");
        JitWarmup.UntilQuiet(() => Ring());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public int Ring()
    {
        var vcpus = _vcpus;
        int n = vcpus.Length;
        int i = _cursor;
        int acc = 0;
        for (int k = 0; k < PerInvoke; k++)
        {
            int target = i + 1 == n ? 0 : i + 1;
            vcpus[i].TryWriteMsr(Guest.MsrIcr, ((ulong)target << 32) | Vector);
            vcpus[i].Hlt();
            acc += Guest.TakeAndEoiX2(vcpus[target]);
            i = target;
        }

        _cursor = i;
        return acc;
    }
}
