// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>
/// The APIC timer at its edges: the reserved mode, coalesced periodic expiries, the TSC-deadline
/// rounding and limits, clocks near the end of time, and the state a reset or a snapshot leaves
/// (SDM 11.5.4; KVM lapic.c <c>start_apic_timer</c>, <c>apic_timer_fn</c>, <c>kvm_lapic_reset</c>).
/// </summary>
public class TimerEdgeTests
{
    private const byte Vector = 0xEC;
    private const uint OneShot = Vector;
    private const uint Periodic = (1u << 17) | Vector;
    private const uint Deadline = (2u << 17) | Vector;
    private const uint ReservedMode = (3u << 17) | Vector;
    private const uint DivideBy1 = 0xB;

    private static (LocalApic Apic, VirtualClock Clock) Create(ApicProfile? profile = null, long tscKhz = 2_000_000)
    {
        var clock = new VirtualClock();
        var config = new ApicConfig { Profile = profile ?? ApicProfile.Architectural, TscKhz = tscKhz };
        var apic = TestApic.Create(config: config, clock: clock);
        apic.Host().Loopback = false;
        return (apic, clock);
    }

    private static void Start(LocalApic apic, uint lvtt, uint tdcr, uint tmict)
    {
        Assert.True(apic.Write(ApicOffset.LvtTimer, lvtt));
        Assert.True(apic.Write(ApicOffset.Tdcr, tdcr));
        Assert.True(apic.Write(ApicOffset.Tmict, tmict));
    }

    [Fact]
    public void The_reserved_timer_mode_keeps_tmict_but_counts_nothing()
    {
        // KVM __start_apic_timer arms one-shot and periodic only; mode 11b has no period.
        var (apic, clock) = Create();

        Start(apic, ReservedMode, DivideBy1, 1000);

        Assert.Equal(TimerMode.Reserved, apic.Timer.Mode);
        Assert.Equal(1000u, apic.Read(ApicOffset.Tmict));
        Assert.Equal(0, apic.Timer.PeriodNs);
        Assert.False(apic.Timer.IsArmed);
        Assert.Equal(0u, apic.Read(ApicOffset.Tmcct));
        clock.Advance(1_000_000);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Fact]
    public void Tmcct_right_after_the_load_reads_the_whole_count_and_then_counts_down()
    {
        var (apic, clock) = Create();
        Start(apic, OneShot, DivideBy1, 1000); // 1000 MHz, divider 1: one count a ns

        Assert.Equal(1000u, apic.Read(ApicOffset.Tmcct));
        clock.Advance(1);
        Assert.Equal(999u, apic.Read(ApicOffset.Tmcct));
        clock.Advance(998);
        Assert.Equal(1u, apic.Read(ApicOffset.Tmcct));
    }

    [Fact]
    public void A_periodic_tmcct_reloads_to_the_full_count_at_each_period_boundary()
    {
        var (apic, clock) = Create();
        Start(apic, Periodic, DivideBy1, 1000);

        clock.Advance(1000);
        Assert.Equal(1, apic.Timer.Expirations);
        Assert.Equal(1000u, apic.Read(ApicOffset.Tmcct));
        clock.Advance(250);
        Assert.Equal(750u, apic.Read(ApicOffset.Tmcct));
    }

    [Fact]
    public void Switching_a_stopped_timer_to_periodic_leaves_it_stopped_under_kvm()
    {
        // The periodic minimum applies to a running count only: a stopped timer keeps period 0.
        var (apic, clock) = Create(ApicProfile.Kvm);
        Assert.True(apic.Write(ApicOffset.LvtTimer, OneShot));

        Assert.True(apic.Write(ApicOffset.LvtTimer, Periodic));

        Assert.Equal(TimerMode.Periodic, apic.Timer.Mode);
        Assert.Equal(0, apic.Timer.PeriodNs);
        Assert.False(apic.Timer.IsArmed);
        clock.Advance(1_000_000);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Fact]
    public void Rewriting_the_lvt_in_the_same_mode_keeps_the_running_count()
    {
        var (apic, clock) = Create();
        Start(apic, OneShot, DivideBy1, 1000);
        clock.Advance(400);

        Assert.True(apic.Write(ApicOffset.LvtTimer, OneShot - 1)); // another vector, same mode

        Assert.True(apic.Timer.IsArmed);
        Assert.Equal(1000, apic.Timer.TargetNs);
        Assert.Equal(600u, apic.Read(ApicOffset.Tmcct));
    }

    [Fact]
    public void Switching_periodic_to_one_shot_keeps_the_count_and_fires_once()
    {
        var (apic, clock) = Create();
        Start(apic, Periodic, DivideBy1, 1000);
        clock.Advance(300);

        Assert.True(apic.Write(ApicOffset.LvtTimer, OneShot));

        Assert.Equal(TimerMode.OneShot, apic.Timer.Mode);
        Assert.Equal(1000u, apic.Read(ApicOffset.Tmict));
        Assert.Equal(700u, apic.Read(ApicOffset.Tmcct));
        clock.Advance(10_000);
        Assert.Equal(1, apic.Timer.Expirations);
    }

    [Fact]
    public void Rewriting_the_deadline_lvt_keeps_the_armed_deadline()
    {
        var (apic, clock) = Create();
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        apic.Timer.WriteTscDeadline(4000); // 2000 ns at 2 GHz

        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline - 1));

        Assert.Equal(4000ul, apic.Timer.ReadTscDeadline());
        clock.Advance(2000);
        Assert.Equal(1, apic.Timer.Expirations);
        Assert.True(apic.IrrHas(Vector - 1));
    }

    [Fact]
    public void Periodic_expiries_within_one_clock_advance_are_counted_and_delivered_once()
    {
        // Every expiry up to the end of the advance sets the same IRR bit before anyone looks; KVM
        // injects its pending count once too. The next expiry stays on the period grid.
        var (apic, clock) = Create();
        Start(apic, Periodic, DivideBy1, 1000);

        clock.AdvanceTo(10_500);

        Assert.Equal(10, apic.Timer.Expirations);
        Assert.True(apic.IrrHas(Vector));
        Assert.Equal(11_000, apic.Timer.TargetNs);
        clock.AdvanceTo(10_999);
        Assert.Equal(10, apic.Timer.Expirations);
        clock.AdvanceTo(11_000);
        Assert.Equal(11, apic.Timer.Expirations);
    }

    [Fact]
    public void A_divider_change_after_a_one_shot_fired_sets_the_period_and_arms_nothing()
    {
        var (apic, clock) = Create();
        Start(apic, OneShot, DivideBy1, 1000);
        clock.Advance(1000);
        Assert.Equal(1, apic.Timer.Expirations);

        Assert.True(apic.Write(ApicOffset.Tdcr, 0x0)); // divide by 2

        Assert.Equal(2000, apic.Timer.PeriodNs);
        Assert.False(apic.Timer.IsArmed);
        clock.Advance(100_000);
        Assert.Equal(1, apic.Timer.Expirations);
    }

    [Fact]
    public void A_divider_change_in_deadline_mode_latches_the_divider_and_leaves_the_deadline()
    {
        var (apic, clock) = Create();
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        apic.Timer.WriteTscDeadline(4000);

        Assert.True(apic.Write(ApicOffset.Tdcr, 0xA)); // divide by 128

        Assert.Equal(128, apic.Timer.DivideCount);
        Assert.Equal(0, apic.Timer.PeriodNs);
        Assert.Equal(2000, apic.Timer.TargetNs);
        clock.Advance(2000);
        Assert.Equal(1, apic.Timer.Expirations);
    }

    [Fact]
    public void Rewriting_the_same_divider_keeps_the_target()
    {
        var (apic, clock) = Create();
        Start(apic, OneShot, 0x3, 100); // divide by 16: 1600 ns
        clock.Advance(600);

        Assert.True(apic.Write(ApicOffset.Tdcr, 0x3));

        Assert.Equal(1600, apic.Timer.TargetNs);
        Assert.Equal(1600, apic.Timer.PeriodNs);
    }

    [Fact]
    public void A_tsc_deadline_between_two_nanoseconds_fires_at_the_later_one()
    {
        // 3 GHz: TSC 3001 falls after ns 1000 (TSC 3000) and is reached at ns 1001 (TSC 3003).
        var (apic, clock) = Create(tscKhz: 3_000_000);
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        clock.Advance(1000);

        apic.Timer.WriteTscDeadline(3001);

        Assert.False(apic.IrrHas(Vector));
        Assert.Equal(1001, apic.Timer.TargetNs);
        clock.Advance(1);
        Assert.True(apic.IrrHas(Vector));
        Assert.True(ApicTimer.TscAt(clock.NowNs, 3_000_000) >= 3001);
    }

    [Fact]
    public void A_past_tsc_deadline_fires_now_counts_one_expiry_and_disarms()
    {
        var (apic, clock) = Create();
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        clock.Advance(5000);

        apic.Timer.WriteTscDeadline(2);

        Assert.Equal(1, apic.Timer.Expirations);
        Assert.Equal(5000, apic.Timer.TargetNs);
        Assert.Equal(0ul, apic.Timer.TscDeadline);
        Assert.False(apic.Timer.IsArmed);
        Assert.True(apic.IrrHas(Vector));
    }

    [Fact]
    public void The_largest_tsc_deadline_is_armed_at_the_end_of_time_and_does_not_fire()
    {
        // 1 MHz TSC: deadline 2^64-1 is about 1.8e19 us, beyond what a long of ns holds.
        var (apic, clock) = Create(tscKhz: 1000);
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));

        apic.Timer.WriteTscDeadline(ulong.MaxValue);

        Assert.True(apic.Timer.IsArmed);
        Assert.Equal(long.MaxValue, apic.Timer.TargetNs);
        Assert.Equal(ulong.MaxValue, apic.Timer.ReadTscDeadline());
        clock.Advance(1L << 60);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Fact]
    public void A_deadline_reads_0_while_the_apic_is_hardware_disabled()
    {
        // KVM kvm_get_lapic_tscdeadline_msr returns 0 unless the APIC is present (enabled in APIC_BASE).
        var (apic, _) = Create(ApicProfile.Kvm);
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        apic.Timer.WriteTscDeadline(1_000_000);

        Assert.True(apic.SetApicBase(TestApic.DisabledBase | ApicBase.BspBit, hostInitiated: false));

        Assert.Equal(0ul, apic.Timer.ReadTscDeadline());
        Assert.Equal(1_000_000ul, apic.Timer.TscDeadline);
    }

    [Fact]
    public void A_count_started_near_the_end_of_time_saturates_its_target()
    {
        var (apic, clock) = Create();
        clock.SetTime(long.MaxValue - 100);

        Start(apic, OneShot, DivideBy1, 1000);

        Assert.True(apic.Timer.IsArmed);
        Assert.Equal(long.MaxValue, apic.Timer.TargetNs);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Fact]
    public void A_periodic_timer_that_reaches_the_end_of_time_fires_once_and_stops()
    {
        var (apic, clock) = Create();
        clock.SetTime(long.MaxValue - 2500);
        Start(apic, Periodic, DivideBy1, 1000);

        clock.AdvanceTo(long.MaxValue);

        // Expiries at the end of time minus 1500 and minus 500; the next would be past it.
        Assert.Equal(2, apic.Timer.Expirations);
        Assert.False(apic.Timer.IsArmed);
        Assert.Equal(long.MaxValue - 500, apic.Timer.TargetNs);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reset_and_init_return_the_timer_to_a_stopped_one_shot_dividing_by_2(bool init)
    {
        var (apic, clock) = Create();
        Start(apic, Deadline, 0xA, 0);
        apic.Timer.WriteTscDeadline(1_000_000);
        Assert.Equal(128, apic.Timer.DivideCount);

        if (init)
        {
            apic.InitReset();
        }
        else
        {
            apic.Reset();
        }

        Assert.Equal(TimerMode.OneShot, apic.Timer.Mode);
        Assert.Equal(2, apic.Timer.DivideCount);
        Assert.Equal(0, apic.Timer.PeriodNs);
        Assert.Equal(0, apic.Timer.TargetNs);
        Assert.Equal(0ul, apic.Timer.TscDeadline);
        Assert.False(apic.Timer.IsArmed);
        Assert.Equal(0, apic.Timer.PendingInjections);
        clock.Advance(10_000_000);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Fact]
    public void Reset_stops_a_running_periodic_count()
    {
        var (apic, clock) = Create();
        Start(apic, Periodic, DivideBy1, 1000);
        clock.Advance(1500);
        Assert.Equal(1, apic.Timer.Expirations);

        apic.Reset();

        Assert.Equal(0, apic.Timer.PeriodNs);
        Assert.Equal(0, apic.Timer.TargetNs);
        clock.Advance(10_000);
        Assert.Equal(1, apic.Timer.Expirations);
    }

    [Fact]
    public void Save_reports_the_mode_period_target_and_deadline()
    {
        var (apic, clock) = Create();
        clock.Advance(100);
        Start(apic, Periodic, DivideBy1, 1000);
        Assert.Equal(new ApicTimerState(TimerMode.Periodic, 1000, true, 1100, 0), apic.Timer.Save());

        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        apic.Timer.WriteTscDeadline(10_000);
        Assert.Equal(new ApicTimerState(TimerMode.TscDeadline, 0, true, 5000, 10_000), apic.Timer.Save());
    }

    [Fact]
    public void Restoring_an_unarmed_state_arms_nothing_and_keeps_its_fields()
    {
        var (apic, clock) = Create();
        Start(apic, Periodic, DivideBy1, 1000);
        byte[] image = new byte[0x400];
        apic.Page.CopyTo(image);

        apic.RestorePage(image, new ApicTimerState(TimerMode.Periodic, 1000, false, 7000, 0));

        Assert.False(apic.Timer.IsArmed);
        Assert.Equal(1000, apic.Timer.PeriodNs);
        Assert.Equal(7000, apic.Timer.TargetNs);
        clock.Advance(100_000);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Theory]
    [InlineData(1000ul, 2, 1000L, 2000L)]
    [InlineData(1ul, 1, 3L, 333L)] // floors
    [InlineData(0xFFFF_FFFFul, 128, 1L, 549_755_813_760_000L)] // the longest count: no overflow
    public void The_period_of_a_count_is_count_times_divider_over_the_bus_frequency(ulong count, int divide, long busMhz, long ns) =>
        Assert.Equal(ns, ApicTimer.PeriodForCount(count, divide, busMhz));

    [Theory]
    [InlineData(1000L, 2_000_000L, 2000ul)]
    [InlineData(1L, 1500L, 0ul)] // floors
    [InlineData(1_000_000L, 1L, 1ul)]
    public void The_tsc_at_a_time_is_ns_times_khz_over_a_million(long ns, long khz, ulong tsc) =>
        Assert.Equal(tsc, ApicTimer.TscAt(ns, khz));
}
