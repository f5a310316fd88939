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
}
