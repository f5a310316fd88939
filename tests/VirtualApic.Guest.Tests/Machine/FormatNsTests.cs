// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Machine;

namespace VirtualApic.Guest.Tests.Machine;

public class FormatNsTests
{
    [Theory]
    [InlineData(0L, "0ns")]
    [InlineData(999L, "999ns")]
    [InlineData(1_000L, "1us")]
    [InlineData(1_500L, "1.5us")]
    [InlineData(999_999L, "999.999us")]
    [InlineData(1_000_000L, "1ms")]
    [InlineData(3_200_000L, "3.2ms")]
    [InlineData(999_999_999L, "1000ms")]
    [InlineData(1_000_000_000L, "1s")]
    [InlineData(1_840_000_000L, "1.84s")]
    public void Virtual_times_are_shown_in_the_largest_unit_they_reach_with_up_to_three_decimals(long ns, string text) =>
        Assert.Equal(text, GuestMachine.FormatNs(ns));
}
