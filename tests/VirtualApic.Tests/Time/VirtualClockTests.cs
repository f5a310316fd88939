// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Time;

namespace VirtualApic.Tests.Time;

public class VirtualClockTests
{
    [Fact]
    public void Timers_fire_in_deadline_order_with_the_clock_at_their_deadline()
    {
        var clock = new VirtualClock();
        var fired = new List<(string, long)>();
        var a = new ClockTimer(clock, () => fired.Add(("a", clock.NowNs)));
        var b = new ClockTimer(clock, () => fired.Add(("b", clock.NowNs)));
        a.Arm(300);
        b.Arm(100);
        clock.Advance(1000);
        Assert.Equal([("b", 100L), ("a", 300L)], fired);
        Assert.Equal(1000, clock.NowNs);
    }

    [Fact]
    public void Cancelled_and_rearmed_timers_fire_only_for_their_last_arm()
    {
        var clock = new VirtualClock();
        int count = 0;
        var t = new ClockTimer(clock, () => count++);
        t.Arm(100);
        t.Cancel();
        clock.Advance(200);
        Assert.Equal(0, count);
        t.Arm(250);
        t.Arm(400);
        clock.Advance(100);
        Assert.Equal(0, count);
        clock.Advance(100);
        Assert.Equal(1, count);
    }

    [Fact]
    public void A_timer_armed_in_the_past_fires_on_RunDue()
    {
        var clock = new VirtualClock();
        clock.Advance(500);
        int count = 0;
        var t = new ClockTimer(clock, () => count++);
        t.Arm(10);
        clock.RunDue();
        Assert.Equal(1, count);
        Assert.Equal(500, clock.NowNs);
    }

    [Fact]
    public void TryPeekNextDeadline_reports_the_earliest_armed_deadline_across_re_arms_and_cancels()
    {
        var clock = new VirtualClock();
        Assert.False(clock.TryPeekNextDeadline(out _));
        var a = new ClockTimer(clock, () => { });
        var b = new ClockTimer(clock, () => { });
        a.Arm(300);
        b.Arm(500);
        Assert.True(clock.TryPeekNextDeadline(out long next));
        Assert.Equal(300, next);

        a.Arm(700); // re-armed: 300 is no longer a deadline
        Assert.True(clock.TryPeekNextDeadline(out next));
        Assert.Equal(500, next);

        b.Cancel();
        Assert.True(clock.TryPeekNextDeadline(out next));
        Assert.Equal(700, next);

        clock.AdvanceTo(next);
        Assert.False(clock.TryPeekNextDeadline(out _));
    }

    [Fact]
    public void Bad_arguments_are_refused_by_name_and_leave_the_clock_as_it_was()
    {
        var clock = new VirtualClock();
        clock.Advance(100);

        Assert.Equal("ns", Assert.Throws<ArgumentOutOfRangeException>(() => clock.Advance(-1)).ParamName);
        Assert.Equal("targetNs", Assert.Throws<ArgumentOutOfRangeException>(() => clock.AdvanceTo(99)).ParamName);
        Assert.Equal("ns", Assert.Throws<ArgumentOutOfRangeException>(() => clock.SetTime(-1)).ParamName);
        Assert.Equal(100, clock.NowNs);
        Assert.Equal(100, clock.AdvanceTargetNs);

        Assert.Equal("clock", Assert.Throws<ArgumentNullException>(() => new ClockTimer(null!, () => { })).ParamName);
        Assert.Equal("onFire", Assert.Throws<ArgumentNullException>(() => new ClockTimer(clock, (Action)null!)).ParamName);
    }

    [Fact]
    public void Time_runs_to_its_last_nanosecond_and_no_further()
    {
        var clock = new VirtualClock();
        clock.Advance(10);

        clock.Advance(long.MaxValue - 10);

        Assert.Equal(long.MaxValue, clock.NowNs);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => clock.Advance(1));
        Assert.Contains($"advancing 1 ns from {long.MaxValue} ns would pass the end of virtual time", ex.Message, StringComparison.Ordinal);
        clock.Advance(0);
        Assert.Equal(long.MaxValue, clock.NowNs);
    }

    [Fact]
    public void The_advance_target_is_the_advance_in_progress_and_follows_a_restored_time()
    {
        var clock = new VirtualClock();
        var seen = new List<long>();
        var t = new ClockTimer(clock, () => seen.Add(clock.AdvanceTargetNs));
        t.Arm(40);

        clock.AdvanceTo(1_000);
        Assert.Equal([1_000L], seen); // what a periodic timer may coalesce up to
        Assert.Equal(1_000, clock.AdvanceTargetNs);

        clock.SetTime(10); // a restore to an earlier time: the old target must not linger
        Assert.Equal(10, clock.NowNs);
        Assert.Equal(10, clock.AdvanceTargetNs);
    }
}
