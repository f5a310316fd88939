// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
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

    private void Build(int cpus, Func<int> takeEoi, Func<int> ackEoi, Func<int> resetIrr)
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = cpus });
        _vcpus = [.. _vm.Vcpus];
        _apics = [.. _vcpus.Select(v => v.Apic)];
        foreach (var v in _vcpus)
        {
            Guest.EnterX2Apic(v);
        }

        Guest.Check(takeEoi() == (cpus - 1) * Vector, "every target takes the broadcast");
        Guest.Check(ackEoi() == (cpus - 1) * Vector, "every target acknowledges the broadcast");
        Guest.Check(resetIrr() == cpus - 1, "every target accepts the broadcast");
        JitWarmup.UntilQuiet(() => takeEoi(), () => ackEoi(), () => resetIrr());
    }

    [GlobalSetup(Targets = [nameof(TakeEoi256), nameof(AckEoi256), nameof(ResetIrr256)])]
    public void Setup256() => Build(256, TakeEoi256, AckEoi256, ResetIrr256);

    [GlobalSetup(Targets = [nameof(TakeEoi4096), nameof(AckEoi4096), nameof(ResetIrr4096)])]
    public void Setup4096() => Build(4096, TakeEoi4096, AckEoi4096, ResetIrr4096);

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    // Each benchmark method is its own loop, and the broadcast a call: the JIT's inlining budget is a
    // multiple of the compiled method's own IL size, so a method that only called a shared round
    // (7 bytes of IL) left the take, EOI and IRET of every target out of line (docs/performance.md,
    // "Thirty-seventh session"); and in a VMM the sender's ICR write runs on another vCPU's thread.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Broadcast() => _vcpus[0].TryWriteMsr(Guest.MsrIcr, IcrValue);

    // A vector the APIC did not take adds nothing, so the set-up check sees any miss.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AckEoi(LocalApic apic, Vcpu vcpu)
    {
        int p = apic.PendingVector();
        int taken = apic.Acknowledge(p) ? p : 0;
        vcpu.TryWriteMsr(Guest.MsrEoi, 0);
        return taken;
    }

    [Benchmark(OperationsPerInvoke = 255)]
    public int TakeEoi256()
    {
        Broadcast();
        var vcpus = _vcpus;
        int acc = 0;
        for (int i = 1; i < vcpus.Length; i++)
        {
            acc += Guest.TakeAndEoiX2(vcpus[i]);
        }

        return acc;
    }

    [Benchmark(OperationsPerInvoke = 255)]
    public int AckEoi256()
    {
        Broadcast();
        var (vcpus, apics) = (_vcpus, _apics);
        int acc = 0;
        for (int i = 1; i < apics.Length; i++)
        {
            acc += AckEoi(apics[i], vcpus[i]);
        }

        return acc;
    }

    [Benchmark(OperationsPerInvoke = 255)]
    public int ResetIrr256()
    {
        Broadcast();
        var apics = _apics;
        int acc = 0;
        for (int i = 1; i < apics.Length; i++)
        {
            acc += apics[i].Page.TestAndClearVectorAtomic(ApicOffset.Irr, Vector) ? 1 : 0;
        }

        return acc;
    }

    [Benchmark(OperationsPerInvoke = 4095)]
    public int TakeEoi4096()
    {
        Broadcast();
        var vcpus = _vcpus;
        int acc = 0;
        for (int i = 1; i < vcpus.Length; i++)
        {
            acc += Guest.TakeAndEoiX2(vcpus[i]);
        }

        return acc;
    }

    [Benchmark(OperationsPerInvoke = 4095)]
    public int AckEoi4096()
    {
        Broadcast();
        var (vcpus, apics) = (_vcpus, _apics);
        int acc = 0;
        for (int i = 1; i < apics.Length; i++)
        {
            acc += AckEoi(apics[i], vcpus[i]);
        }

        return acc;
    }

    [Benchmark(OperationsPerInvoke = 4095)]
    public int ResetIrr4096()
    {
        Broadcast();
        var apics = _apics;
        int acc = 0;
        for (int i = 1; i < apics.Length; i++)
        {
            acc += apics[i].Page.TestAndClearVectorAtomic(ApicOffset.Irr, Vector) ? 1 : 0;
        }

        return acc;
    }
}
