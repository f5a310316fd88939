// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Cpu;
using VirtualApic.Fabric;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W3 ipi-unicast: x2APIC physical mode; vCPU i writes the ICR (WRMSR 0x830, fixed, vector 0x50,
/// destination i+1 mod N), then vCPU i+1 takes the interrupt, EOIs (WRMSR 0x80B) and IRETs.
/// One operation = one IPI; 64 IPIs per invocation walk a window that moves through the VM.
/// </summary>
[MemoryDiagnoser]
public class W3IpiUnicast
{
    private const int PerInvoke = 64;
    private const byte Vector = 0x50;

    private VirtualMachine _vm = null!;
    private Vcpu[] _vcpus = null!;
    private int _cursor;

    /// <summary>The backend.</summary>
    [Params("none", "apicv", "avic", "x2avic")]
    public string Accel { get; set; } = "none";

    /// <summary>vCPUs in the VM (64 is the workload; 1024 checks the cost is constant per target).</summary>
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

        Guest.Check(Unicast() == PerInvoke * Vector, "every IPI taken with its vector");
        JitWarmup.UntilQuiet(() => Unicast());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public int Unicast()
    {
        var vcpus = _vcpus;
        int n = vcpus.Length;
        int i = _cursor;
        int acc = 0;
        for (int k = 0; k < PerInvoke; k++)
        {
            int target = i + 1 == n ? 0 : i + 1;
            vcpus[i].TryWriteMsr(Guest.MsrIcr, ((ulong)target << 32) | Vector);
            acc += Guest.TakeAndEoiX2(vcpus[target]);
            i = target;
        }

        _cursor = i;
        return acc;
    }
}
