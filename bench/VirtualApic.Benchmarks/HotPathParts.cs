// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Benchmarks;

/// <summary>
/// Not a workload: the price of single steps that the W1-W5 hot paths take, each repeated 100 times
/// per invocation, to back the causes named in docs/performance.md with measurements.
/// </summary>
[MemoryDiagnoser]
public class HotPathParts
{
    private const int N = 100;

    private VirtualMachine _vm = null!;
    private Vcpu _vcpu = null!;
    private LocalApic _apic = null!;
    private uint _plainCounter;
    private OwnerThread _owner;
    private int _ownerId;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = 1 });
        _vcpu = _vm.Vcpus[0];
        _apic = _vcpu.Apic;
        Guest.EnterX2Apic(_vcpu);
        _owner.BindToCurrentThread();
        _ownerId = Environment.CurrentManagedThreadId;
        Guest.Check(OwnerByStackWindow() == N && OwnerByThreadId() == N, "the benchmark thread is the owner");
        JitWarmup.UntilQuiet(HostKick, ExitCount, () => PlainIncrement(), () => PicHasInterrupt(), () => PendingVectorEmpty(),
            () => IrrAtomicSetClear(), () => IrrPlainSetClear(), () => OwnerByThreadId(), () => OwnerByStackWindow());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    /// <summary>VirtualMachine.Kick via the APIC's host: Vcpu.Kick (Interlocked.Increment + ManualResetEventSlim.Set) + event.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public void HostKick()
    {
        var apic = _apic;
        var host = apic.Host;
        for (int i = 0; i < N; i++)
        {
            host.Kick(apic);
        }
    }

    /// <summary>Is this the bound IRR's owner thread, asked the old way: Environment.CurrentManagedThreadId (a runtime call).</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public int OwnerByThreadId()
    {
        int owner = _ownerId;
        int acc = 0;
        for (int i = 0; i < N; i++)
        {
            acc += Environment.CurrentManagedThreadId == owner ? 1 : 0;
        }

        return acc;
    }

    /// <summary>The same question as LocalApic asks it now: OwnerThread.IsCurrent, a local's address against the owner's stack window.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public int OwnerByStackWindow()
    {
        int acc = 0;
        for (int i = 0; i < N; i++)
        {
            acc += _owner.IsCurrent() ? 1 : 0;
        }

        return acc;
    }

    /// <summary>ExitStatistics.Count: one Interlocked.Increment per emulated exit.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public void ExitCount()
    {
        var exits = _vcpu.Exits;
        for (int i = 0; i < N; i++)
        {
            exits.Count(ExitReason.MsrWrite);
        }
    }

    /// <summary>What ExitCount would cost as a plain owner-thread increment (baseline).</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public uint PlainIncrement()
    {
        for (int i = 0; i < N; i++)
        {
            _plainCounter++;
        }

        return _plainCounter;
    }

    /// <summary>ExternalPic.HasInterrupt, read by every Vcpu.Take: a lock.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public int PicHasInterrupt()
    {
        var pic = _vm.Pic;
        int n = 0;
        for (int i = 0; i < N; i++)
        {
            n += pic.HasInterrupt ? 1 : 0;
        }

        return n;
    }

    /// <summary>LocalApic.PendingVector on an empty IRR: SyncToIrr + an 8-word scan + PPR (Acknowledge does it twice).</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public int PendingVectorEmpty()
    {
        var apic = _apic;
        int n = 0;
        for (int i = 0; i < N; i++)
        {
            n += apic.PendingVector();
        }

        return n;
    }

    /// <summary>An IRR set and clear with Interlocked (as AcceptFixed + Acknowledge do).</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public bool IrrAtomicSetClear()
    {
        var page = _apic.Page;
        bool b = false;
        for (int i = 0; i < N; i++)
        {
            page.TestAndSetVectorAtomic(ApicOffset.Irr, 0x40);
            b ^= page.TestAndClearVectorAtomic(ApicOffset.Irr, 0x40);
        }

        return b;
    }

    /// <summary>The same set and clear as plain owner-thread stores (baseline).</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public bool IrrPlainSetClear()
    {
        var page = _apic.Page;
        bool b = false;
        for (int i = 0; i < N; i++)
        {
            page.SetVector(ApicOffset.Irr, 0x40);
            b ^= page.TestVector(ApicOffset.Irr, 0x40);
            page.ClearVector(ApicOffset.Irr, 0x40);
        }

        return b;
    }
}
