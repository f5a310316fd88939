// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// The exit counts of one vCPU (the <c>perf kvm stat</c> view): one count per reason, their total, and
/// the reason names scenarios and reports spell, which parse back ignoring case.
/// </summary>
public class ExitStatisticsTests
{
    [Fact]
    public void Every_reason_name_parses_back_ignoring_case_and_nothing_else_parses()
    {
        Assert.Equal(Enum.GetValues<ExitReason>(), ExitStatistics.Reasons);
        foreach (var reason in ExitStatistics.Reasons)
        {
            string name = ExitStatistics.NameOf(reason);
            Assert.True(ExitStatistics.TryParse(name.ToUpperInvariant(), out var parsed), name);
            Assert.Equal(reason, parsed);
        }

        Assert.Equal("avic-noaccel", ExitStatistics.NameOf(ExitReason.AvicNoAccel));
        Assert.False(ExitStatistics.TryParse("exit", out var none));
        Assert.Equal(default, none);
    }

    [Fact]
    public void Counts_are_per_reason_their_total_is_the_sum_and_clear_zeroes_them()
    {
        var stats = new ExitStatistics();
        stats.Count(ExitReason.MsrWrite);
        stats.Count(ExitReason.MsrWrite);
        stats.Count(ExitReason.AvicIncompleteIpi);
        Assert.Equal(2, stats[ExitReason.MsrWrite]);
        Assert.Equal(1, stats[ExitReason.AvicIncompleteIpi]);
        Assert.Equal(0, stats[ExitReason.MsrRead]);
        Assert.Equal(3, stats.Total);
        stats.Clear();
        Assert.Equal(0, stats.Total);
        Assert.Equal(0, stats[ExitReason.MsrWrite]);
    }

    [Fact]
    public void Every_reason_has_a_count_of_its_own()
    {
        // The counts live in a fixed-size store inside the object: a reason without a slot would throw
        // on the exit path, and two reasons sharing one would merge their counts.
        var stats = new ExitStatistics();
        var reasons = ExitStatistics.Reasons;
        for (int i = 0; i < reasons.Count; i++)
        {
            for (int n = 0; n <= i; n++)
            {
                stats.Count(reasons[i]);
            }
        }

        for (int i = 0; i < reasons.Count; i++)
        {
            Assert.Equal(i + 1, stats[reasons[i]]);
        }

        Assert.Equal(reasons.Count * (reasons.Count + 1) / 2, stats.Total);
    }
}
