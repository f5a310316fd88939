// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Cpu;
using VirtualApic.Fabric;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W7 cross-thread posting: N sender threads deliver MSIs (vm.DeliverMsi, fixed, physical
/// destination 0, each sender cycling its own 16 vectors) as fast as they can at vCPU 0 (x2APIC
/// mode, no backend), whose thread (the benchmark thread) takes, EOIs and IRETs until it has taken
/// 20 000 interrupts. One operation = one interrupt taken, so interrupts per second = 1e9 / (ns/op).
/// Senders are not throttled: a vector posted again while still in IRR coalesces, as on hardware.
/// Where the process may use two CPUs or more, the receiver is pinned to the first and the senders
/// to the others (two senders on a two-CPU machine share one), as a VMM pins its vCPU threads apart
/// from its device threads: unpinned, the scheduler sometimes put a sender on the receiver's CPU,
/// where the two took turns a time slice at a time (six fresh processes read 434-576 ns with one
/// sender and 563-775 with two unpinned, 325-392 and 351-395 pinned). Pinned, an interrupt still
/// costs up to one round trip of the IRR line between the two CPUs, which the host decides
/// (bench/baseline/line-pingpong.c; docs/performance.md, "Twenty-sixth session").
/// </summary>
[MemoryDiagnoser]
public class W7CrossThread
{
    private const int PerInvoke = 20_000;
    private const ulong MsiAddress = 0xFEE0_0000;

    private VirtualMachine _vm = null!;
    private Vcpu _vcpu = null!;
    private Thread[] _senders = [];
    private readonly ManualResetEventSlim _go = new(false);
    private volatile bool _running;
    private volatile bool _stop;
    private int[] _cpus = [];
    private int _pinnedReceiver = -1;

    /// <summary>Sender threads.</summary>
    [Params(1, 2)]
    public int Senders { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = 1 });
        _vcpu = _vm.Vcpus[0];
        Guest.EnterX2Apic(_vcpu);
        _cpus = ThreadAffinity.AllowedCpus();
        _senders = new Thread[Senders];
        for (int s = 0; s < Senders; s++)
        {
            int first = 0x30 + (s * 0x40);
            int cpu = _cpus.Length >= 2 ? _cpus[1 + (s % (_cpus.Length - 1))] : -1;
            _senders[s] = new Thread(() => SenderLoop(first, cpu)) { IsBackground = true, Name = "msi-sender" };
            _senders[s].Start();
        }

        Guest.Check(Receive() == PerInvoke, "received the fixed count");
        JitWarmup.UntilQuiet(() => Receive());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _go.Set();
        foreach (var t in _senders)
        {
            t.Join();
        }

        _go.Dispose();
        _vm.Dispose();
    }

    private void SenderLoop(int firstVector, int cpu)
    {
        if (cpu >= 0)
        {
            ThreadAffinity.PinCurrentThread(cpu);
        }

        var vm = _vm;
        while (true)
        {
            _go.Wait();
            if (_stop)
            {
                return;
            }

            int k = 0;
            while (_running)
            {
                vm.DeliverMsi(MsiAddress, (uint)(firstVector + k));
                k = (k + 1) & 15;
            }
        }
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public int Receive()
    {
        var vcpu = _vcpu;
        if (_cpus.Length >= 2 && _pinnedReceiver != Environment.CurrentManagedThreadId)
        {
            ThreadAffinity.PinCurrentThread(_cpus[0]); // the thread that runs the iterations
            _pinnedReceiver = Environment.CurrentManagedThreadId;
        }

        _running = true;
        _go.Set();
        int taken = 0;
        while (taken < PerInvoke)
        {
            if (Guest.TakeAndEoiX2(vcpu) >= 0)
            {
                taken++;
            }
        }

        _running = false;
        _go.Reset();
        return taken;
    }
}
