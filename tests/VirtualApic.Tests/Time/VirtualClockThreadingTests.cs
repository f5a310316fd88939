// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Time;

namespace VirtualApic.Tests.Time;

/// <summary>
/// The clock as an embedder with one thread per vCPU and a clock thread uses it
/// (docs/threading.md, "Timers"), and the host cost of what a guest does to it.
/// </summary>
[Collection(nameof(VirtualClockThreadingTests))]
public class VirtualClockThreadingTests
{
    private const ulong Base = 0xFEE0_0000;
    private const byte Vector = 0xEC;

    private static VirtualMachine Vm(int cpus, ApicProfile? profile = null)
    {
        var vm = new VirtualMachine(new VmOptions { Cpus = cpus, Profile = profile ?? ApicProfile.Kvm });
        foreach (var v in vm.Vcpus)
        {
            v.MmioWrite(Base + ApicOffset.Svr, 0x1FF, 4);
            v.Sti();
        }

        return vm;
    }

    [Fact]
    public void Vcpu_threads_arm_and_cancel_while_another_thread_advances_and_every_timer_fires()
    {
        using var vm = Vm(4);
        var errors = new List<Exception>();
        using var stop = new CancellationTokenSource();
        long[] ticks = new long[4];
        var threads = vm.Vcpus.Select(v => new Thread(() =>
        {
            try
            {
                v.BindToCurrentThread();
                v.MmioWrite(Base + ApicOffset.LvtTimer, Vector, 4); // one-shot
                int i = 0;
                while (!stop.IsCancellationRequested)
                {
                    // Re-arm, sometimes cancel, and take whatever fired.
                    v.MmioWrite(Base + ApicOffset.Tmict, (uint)(i++ % 7 == 0 ? 0 : 50 + (i % 100)), 4);
                    var e = v.Take();
                    if (e.Kind == GuestEventKind.Vector)
                    {
                        Interlocked.Increment(ref ticks[v.Index]);
                        v.MmioWrite(Base + ApicOffset.Eoi, 0, 4);
                        v.Iret();
                    }
                }
            }
            catch (Exception ex)
            {
                lock (errors)
                {
                    errors.Add(ex);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        try
        {
            // Race for a fixed number of advances, then keep going only until every vCPU has seen a
            // tick: the end depends on progress, not on how loaded the host is (the bound is a hang guard).
            var guard = System.Diagnostics.Stopwatch.StartNew();
            for (long n = 0; n < 200_000 || (Array.IndexOf(ticks, 0L) >= 0 && guard.Elapsed < TimeSpan.FromSeconds(60)); n++)
            {
                vm.Clock.Advance(37);
            }
        }
        finally
        {
            stop.Cancel();
            threads.ForEach(t => t.Join());
        }

        Assert.True(errors.Count == 0, string.Join("\n", errors));
        Assert.All(ticks, t => Assert.True(t > 0, "a vCPU's timer never fired"));
    }

    /// <summary>
    /// The clock's thread serves every vCPU's timer, so it must not wait for one vCPU's timer
    /// operation: here this thread plays an owner in the middle of one (it holds vCPU 0's timer lock)
    /// while another thread advances past both vCPUs' deadlines. A clock that waited would not
    /// return until the hold ends (the join below fails, where vCPU threads spinning on TMICT
    /// writes on a host with fewer cores than threads slowed the clock 150-500 times).
    /// </summary>
    [Fact]
    public void The_clock_does_not_wait_for_a_timer_operation_in_progress_and_the_holder_runs_the_expiry()
    {
        using var vm = Vm(2);
        foreach (var v in vm.Vcpus)
        {
            v.MmioWrite(Base + ApicOffset.LvtTimer, Vector, 4); // one-shot
            v.MmioWrite(Base + ApicOffset.Tmict, 100, 4);
        }

        var held = vm.Vcpus[0].Apic.Timer;
        var other = vm.Vcpus[1].Apic.Timer;
        var advance = new Thread(() => vm.Clock.Advance(1_000_000));
        using (held.Hold())
        {
            advance.Start();
            bool returned = advance.Join(TimeSpan.FromSeconds(30));
            Assert.True(returned, "the clock's thread waited for vCPU 0's timer operation");
            Assert.Equal(1, other.Expirations); // the other vCPU's timer fired on time
            Assert.Equal(0, held.Expirations);  // this one is left to the holder
        }

        // Letting go ran the expiry on this thread: vCPU 0 is bound to none, so it is delivered now.
        Assert.Equal(1, held.Expirations);
        Assert.False(held.IsArmed);
        Assert.Equal(Vector, vm.Vcpus[0].Take().Vector);
        Assert.Equal(Vector, vm.Vcpus[1].Take().Vector);
    }

    /// <summary>
    /// An expiry handed to the holder runs after the holder's operation, as if it had fallen due just
    /// after it: a TMICT rewrite inside the hold restarts the count, and the old expiry is stale.
    /// </summary>
    [Fact]
    public void A_handed_over_expiry_is_stale_after_the_holders_rearm()
    {
        using var vm = Vm(1);
        var v = vm.Vcpus[0];
        v.MmioWrite(Base + ApicOffset.LvtTimer, Vector, 4);
        v.MmioWrite(Base + ApicOffset.Tmict, 100, 4);
        var timer = v.Apic.Timer;
        var advance = new Thread(() => vm.Clock.Advance(1_000));
        using (timer.Hold())
        {
            advance.Start();
            Assert.True(advance.Join(TimeSpan.FromSeconds(30)), "the clock's thread waited for the timer operation");
            v.MmioWrite(Base + ApicOffset.Tmict, 1_000_000, 4); // the operation in progress: a re-arm
        }

        Assert.Equal(0, timer.Expirations);
        Assert.True(timer.IsArmed);
        Assert.Equal(GuestEventKind.None, v.Take().Kind);
        vm.Clock.Advance(timer.TargetNs - vm.Clock.NowNs);
        Assert.Equal(1, timer.Expirations);
        Assert.Equal(Vector, v.Take().Vector);
    }

    [Fact]
    public void A_tsc_deadline_in_the_past_fires_only_the_writers_timer()
    {
        using var vm = Vm(2);
        var (writer, other) = (vm.Vcpus[0], vm.Vcpus[1]);
        other.MmioWrite(Base + ApicOffset.LvtTimer, Vector, 4);
        other.MmioWrite(Base + ApicOffset.Tmict, 100, 4);
        vm.Clock.SetTime(10_000); // as a restore does: the other vCPU's timer is due, not yet run
        writer.MmioWrite(Base + ApicOffset.LvtTimer, (2u << 17) | Vector, 4);

        Assert.True(writer.TryWriteMsr(Vcpu.MsrTscDeadline, 1));

        Assert.Equal(1, writer.Apic.Timer.Expirations);
        Assert.Equal(0, other.Apic.Timer.Expirations); // its timer fires on the clock's thread, not here
        vm.Clock.RunDue();
        Assert.Equal(1, other.Apic.Timer.Expirations);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Ten_million_timer_rewrites_leave_memory_flat(bool tscDeadline)
    {
        using var vm = Vm(1);
        var v = vm.Vcpus[0];
        v.MmioWrite(Base + ApicOffset.LvtTimer, tscDeadline ? (2u << 17) | Vector : Vector, 4);
        v.MmioWrite(Base + ApicOffset.Tmict, 1000, 4);
        Assert.True(v.TryWriteMsr(Vcpu.MsrTscDeadline, 1_000_000));
        long before = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000_000; i++)
        {
            if (tscDeadline)
            {
                v.TryWriteMsr(Vcpu.MsrTscDeadline, 1_000_000 + (ulong)i);
            }
            else
            {
                v.MmioWrite(Base + ApicOffset.Tmict, 1000 + (uint)(i & 0xFFFF), 4);
            }
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        long after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(allocated < 64 << 10, $"{allocated / 1024} KiB allocated by 10^7 re-arms");
        Assert.True(after - before < 1 << 20, $"{(after - before) / 1024} KiB retained after 10^7 re-arms");
        Assert.Equal(1, vm.Clock.ArmedCount);
    }

    [Fact]
    public void A_one_ns_periodic_timer_costs_bounded_host_time_under_the_architectural_profile()
    {
        using var vm = Vm(1, ApicProfile.Architectural);
        var v = vm.Vcpus[0];
        v.MmioWrite(Base + ApicOffset.Tdcr, 0xB, 4); // divide by 1
        v.MmioWrite(Base + ApicOffset.LvtTimer, (1u << 17) | Vector, 4);
        v.MmioWrite(Base + ApicOffset.Tmict, 1, 4);  // 1 bus cycle: 1 ns at 1000 MHz

        // 10^10 virtual ns: ten seconds of host time per 10^9 expirations if each one is run.
        var run = new Thread(() => vm.Clock.Advance(10_000_000_000)) { IsBackground = true };
        run.Start();
        Assert.True(run.Join(TimeSpan.FromSeconds(20)), "advancing 10 s of a 1 ns periodic timer did not finish");
        Assert.Equal(10_000_000_000, v.Apic.Timer.Expirations);
        Assert.Equal(GuestEventKind.Vector, v.Take().Kind); // the expirations are delivered (coalesced into one IRR bit)
    }

    [Fact]
    public void Advancing_past_the_end_of_time_is_an_argument_error_and_the_clock_survives()
    {
        var clock = new VirtualClock();
        clock.Advance(10);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => clock.Advance(long.MaxValue));
        Assert.Equal("ns", ex.ParamName);
        Assert.Equal(10, clock.NowNs);
        clock.Advance(5);
        Assert.Equal(15, clock.NowNs);
    }
}

/// <summary>The memory measurements see the whole process: nothing else may run beside them.</summary>
[CollectionDefinition(nameof(VirtualClockThreadingTests), DisableParallelization = true)]
public sealed class VirtualClockThreadingCollection
{
}
