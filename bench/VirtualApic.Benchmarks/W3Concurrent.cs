// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Cpu;
using VirtualApic.Fabric;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W3 on two threads at once: the even and the odd vCPUs of a 64-vCPU VM each run W3's unicast ring
/// (a vCPU writes the ICR to the next one of its ring, which takes, EOIs and IRETs) on their own
/// thread, pinned apart where two CPUs are allowed, so neighbouring vCPUs belong to different
/// threads as in a VMM. The benchmark thread's IPIs are timed while the other thread runs its ring
/// without pause. The rings share no vCPU: what an IPI costs beyond the ring alone
/// (<c>Peer = false</c>, the other thread idle) is what state on the delivery path that another vCPU
/// writes costs (docs/performance.md, "Thirty-seventh session": VM-wide statistics counters made it
/// 2-3x).
/// </summary>
[MemoryDiagnoser]
public class W3Concurrent
{
    private const int PerInvoke = 64;
    private const byte Vector = 0x50;

    private VirtualMachine _vm = null!;
    private Vcpu[] _mine = null!;
    private Vcpu[] _peers = null!;
    private Thread? _peer;
    private volatile bool _stop;
    private int _cursor;
    private int[] _cpus = [];
    private int _pinned = -1;

    /// <summary>The backend.</summary>
    [Params("none", "x2avic")]
    public string Accel { get; set; } = "none";

    /// <summary>Whether the other half's ring runs meanwhile.</summary>
    [Params(true, false)]
    public bool Peer { get; set; } = true;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = 64, Accel = Guest.ParseAccel(Accel) });
        foreach (var v in _vm.Vcpus)
        {
            Guest.EnterX2Apic(v);
        }

        _mine = [.. _vm.Vcpus.Where((v, i) => i % 2 == 0)];
        _peers = [.. _vm.Vcpus.Where((v, i) => i % 2 == 1)];
        _cpus = ThreadAffinity.AllowedCpus();
        Guest.Check(Unicast() == PerInvoke * Vector, "every IPI taken with its vector");
        if (Peer)
        {
            int cpu = _cpus.Length >= 2 ? _cpus[1] : -1;
            _peer = new Thread(() => PeerLoop(cpu)) { IsBackground = true, Name = "w3-peer" };
            _peer.Start();
        }

        JitWarmup.UntilQuiet(() => Unicast());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _peer?.Join();
        _vm.Dispose();
    }

    private void PeerLoop(int cpu)
    {
        if (cpu >= 0)
        {
            ThreadAffinity.PinCurrentThread(cpu);
        }

        var vcpus = _peers;
        int i = 0;
        long taken = 0;
        while (!_stop)
        {
            int target = i + 1 == vcpus.Length ? 0 : i + 1;
            vcpus[i].TryWriteMsr(Guest.MsrIcr, ((ulong)vcpus[target].Apic.X2ApicId << 32) | Vector);
            taken += Guest.TakeAndEoiX2(vcpus[target]) == Vector ? 1 : 0;
            i = target;
        }

        Guest.Check(taken > 0, "the peer ring took its IPIs");
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public int Unicast()
    {
        if (_cpus.Length >= 2 && _pinned != Environment.CurrentManagedThreadId)
        {
            ThreadAffinity.PinCurrentThread(_cpus[0]); // the thread that runs the iterations
            _pinned = Environment.CurrentManagedThreadId;
        }

        var vcpus = _mine;
        int n = vcpus.Length;
        int i = _cursor;
        int acc = 0;
        for (int k = 0; k < PerInvoke; k++)
        {
            int target = i + 1 == n ? 0 : i + 1;
            vcpus[i].TryWriteMsr(Guest.MsrIcr, ((ulong)vcpus[target].Apic.X2ApicId << 32) | Vector);
            acc += Guest.TakeAndEoiX2(vcpus[target]);
            i = target;
        }

        _cursor = i;
        return acc;
    }
}
