// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W3 ipi-unicast: x2APIC physical mode; vCPU i writes the ICR (WRMSR 0x830, fixed, vector 0x50,
/// destination i+1 mod N), then vCPU i+1 takes the interrupt, EOIs (WRMSR 0x80B) and IRETs.
/// One operation = one IPI; 64 IPIs per invocation walk a window that moves through the VM.
/// </summary>
[MemoryDiagnoser]
public class W3IpiUnicast : X2ApicRing
{
    [GlobalSetup]
    public void Setup()
    {
        BuildRing();
        Guest.Check(Unicast() == PerInvoke * Vector, "every IPI taken with its vector");
        JitWarmup.UntilQuiet(() => Unicast());
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public int Unicast()
    {
        var vcpus = Ring;
        int n = vcpus.Length;
        int i = Cursor;
        int acc = 0;
        for (int k = 0; k < PerInvoke; k++)
        {
            int target = i + 1 == n ? 0 : i + 1;
            vcpus[i].TryWriteMsr(Guest.MsrIcr, ((ulong)target << 32) | Vector);
            acc += Guest.TakeAndEoiX2(vcpus[target]);
            i = target;
        }

        Cursor = i;
        return acc;
    }
}
