// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Machine;

namespace VirtualApic.Guest.Tests.Machine;

public class TimeModelTests
{
    /// <summary>
    /// The documented rule is "each PAUSE in a streak doubles the cost, up to the cap": with a cap far
    /// above the base the doubling must go on past any fixed streak length, and never overflow.
    /// </summary>
    [Fact]
    public void Pause_cost_doubles_per_streak_step_until_the_cap_whatever_the_cap()
    {
        var model = new TimeModel(PauseBaseNs: 1, PauseMaxNs: 1L << 40);
        Assert.Equal(1L << 19, model.PauseCost(19));
        Assert.Equal(1L << 20, model.PauseCost(20));
        Assert.Equal(1L << 39, model.PauseCost(39));
        Assert.Equal(1L << 40, model.PauseCost(40));
        Assert.Equal(1L << 40, model.PauseCost(41));

        // Long streaks stay at the cap (a shift by 64 or more must not wrap around to a cheap PAUSE).
        Assert.Equal(1L << 40, model.PauseCost(63));
        Assert.Equal(1L << 40, model.PauseCost(64));
        Assert.Equal(1L << 40, model.PauseCost(1000));
        Assert.Equal(100_000L, TimeModel.Default.PauseCost(70));
    }

    /// <summary>A cap that is not the base times a power of two: the last doubling still under it is paid, the next is capped.</summary>
    [Fact]
    public void The_last_doubling_under_an_uneven_cap_is_paid_in_full()
    {
        var model = new TimeModel(PauseBaseNs: 3, PauseMaxNs: 7);
        Assert.Equal(3L, model.PauseCost(0));
        Assert.Equal(6L, model.PauseCost(1));
        Assert.Equal(7L, model.PauseCost(2));
    }

    [Fact]
    public void A_large_base_reaches_the_cap_without_overflowing()
    {
        var model = new TimeModel(PauseBaseNs: long.MaxValue / 4, PauseMaxNs: long.MaxValue);
        Assert.Equal(long.MaxValue / 4, model.PauseCost(0));
        Assert.Equal(long.MaxValue / 2 - 1, model.PauseCost(1));
        Assert.Equal(long.MaxValue, model.PauseCost(3));
    }
}
