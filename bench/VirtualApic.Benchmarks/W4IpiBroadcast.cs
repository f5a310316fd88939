// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W4 ipi-broadcast: x2APIC mode, no backend; vCPU 0 writes the ICR with shorthand all-excluding-self
/// (fixed, vector 0x60). One operation = one delivered interrupt (N-1 per invocation). Three variants of
/// the reset that lets the next round deliver again: every target takes, EOIs and IRETs through the
/// vCPU (<c>TakeEoi</c>: the interrupt-window checks, the handler entry and IRET included); every
/// target's APIC acknowledges and the vCPU EOIs (<c>AckEoi</c>: PendingVector, Acknowledge, WRMSR EOI,
/// the shape of bhyve's harness, <c>vlapic_pending_intr</c>, <c>vlapic_intr_accepted</c>,
/// <c>lapic_wrmsr</c>, and of W1's vCPU level); or the target's IRR bit is cleared directly
/// (<c>ResetIrr</c>, close to delivery alone).
/// </summary>
[MemoryDiagnoser]
public class W4IpiBroadcast
{
    private const byte Vector = 0x60;
    private const ulong IcrValue = Guest.IcrAllExcludingSelf | Vector;

    private VirtualMachine _vm = null!;
    private Vcpu[] _vcpus = null!;
    private LocalApic[] _apics = null!;

    private void Build(int cpus)
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = cpus });
        _vcpus = [.. _vm.Vcpus];
        _apics = [.. _vcpus.Select(v => v.Apic)];
        foreach (var v in _vcpus)
        {
            Guest.EnterX2Apic(v);
        }

        Guest.Check(RoundTakeEoi() == (cpus - 1) * Vector, "every target takes the broadcast");
        Guest.Check(RoundAckEoi() == (cpus - 1) * Vector, "every target acknowledges the broadcast");
        Guest.Check(RoundResetIrr() == cpus - 1, "every target accepts the broadcast");
    }

    [GlobalSetup(Targets = [nameof(TakeEoi256), nameof(AckEoi256), nameof(ResetIrr256)])]
    public void Setup256()
    {
        Build(256);
        JitWarmup.UntilQuiet(() => RoundTakeEoi(), () => RoundAckEoi(), () => RoundResetIrr());
    }

    [GlobalSetup(Targets = [nameof(TakeEoi4096), nameof(AckEoi4096), nameof(ResetIrr4096)])]
    public void Setup4096()
    {
        Build(4096);
        JitWarmup.UntilQuiet(() => RoundTakeEoi(), () => RoundAckEoi(), () => RoundResetIrr());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    private int RoundTakeEoi()
    {
        var vcpus = _vcpus;
        vcpus[0].TryWriteMsr(Guest.MsrIcr, IcrValue);
        int acc = 0;
        for (int i = 1; i < vcpus.Length; i++)
        {
            acc += Guest.TakeAndEoiX2(vcpus[i]);
        }

        return acc;
    }

    // A vector the APIC did not take adds nothing, so the set-up check sees any miss.
    private int RoundAckEoi()
    {
        var vcpus = _vcpus;
        var apics = _apics;
        vcpus[0].TryWriteMsr(Guest.MsrIcr, IcrValue);
        int acc = 0;
        for (int i = 1; i < apics.Length; i++)
        {
            var apic = apics[i];
            int p = apic.PendingVector();
            acc += apic.Acknowledge(p) ? p : 0;
            vcpus[i].TryWriteMsr(Guest.MsrEoi, 0);
        }

        return acc;
    }

    private int RoundResetIrr()
    {
        var apics = _apics;
        _vcpus[0].TryWriteMsr(Guest.MsrIcr, IcrValue);
        int acc = 0;
        for (int i = 1; i < apics.Length; i++)
        {
            acc += apics[i].Page.TestAndClearVectorAtomic(ApicOffset.Irr, Vector) ? 1 : 0;
        }

        return acc;
    }

    [Benchmark(OperationsPerInvoke = 255)]
    public int TakeEoi256() => RoundTakeEoi();

    [Benchmark(OperationsPerInvoke = 255)]
    public int AckEoi256() => RoundAckEoi();

    [Benchmark(OperationsPerInvoke = 255)]
    public int ResetIrr256() => RoundResetIrr();

    [Benchmark(OperationsPerInvoke = 4095)]
    public int TakeEoi4096() => RoundTakeEoi();

    [Benchmark(OperationsPerInvoke = 4095)]
    public int AckEoi4096() => RoundAckEoi();

    [Benchmark(OperationsPerInvoke = 4095)]
    public int ResetIrr4096() => RoundResetIrr();
}
