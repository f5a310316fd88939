// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Cpu;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W3 with every target halted, the IPI an idle guest sends most (a reschedule to an idle CPU): the
/// ring of <see cref="W3IpiUnicast"/>, but each vCPU halts after its send and the target wakes to
/// take the IPI, EOI and IRET. Under x2AVIC every IPI is an incomplete-IPI exit (TARGET_NOT_RUNNING)
/// whose handler kicks the targets: constant work per target is the point (docs/performance.md,
/// "Forty-second session"). Not a compare.sh workload: a probe case.
/// </summary>
public class W3IpiToHalted : X2ApicRing
{
    [GlobalSetup]
    public void Setup()
    {
        BuildRing();
        for (int i = 1; i < Ring.Length; i++)
        {
            Ring[i].Hlt();
            Guest.Check(Ring[i].State == VcpuRunState.Halted, "the targets halted");
        }

        Guest.Check(HaltedRing() == PerInvoke * Vector, "every IPI taken with its vector");
        JitWarmup.UntilQuiet(() => HaltedRing());
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public int HaltedRing()
    {
        var vcpus = Ring;
        int n = vcpus.Length;
        int i = Cursor;
        int acc = 0;
        for (int k = 0; k < PerInvoke; k++)
        {
            int target = i + 1 == n ? 0 : i + 1;
            vcpus[i].TryWriteMsr(Guest.MsrIcr, ((ulong)target << 32) | Vector);
            vcpus[i].Hlt();
            acc += Guest.TakeAndEoiX2(vcpus[target]);
            i = target;
        }

        Cursor = i;
        return acc;
    }
}
