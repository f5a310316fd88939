// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Tests.Core;

/// <summary>Per-slot statistics counters: each counter of each slot is its own, and sums are per counter.</summary>
public class StripedCountersTests
{
    [Fact]
    public void Each_slot_and_counter_is_counted_apart_and_summed_per_counter()
    {
        var counters = new StripedCounters(slots: 5, counters: 8);
        Assert.Equal(5, counters.Slots);
        for (int slot = 0; slot < 5; slot++)
        {
            for (int counter = 0; counter < 8; counter++)
            {
                // Slot s adds (s + 1) << counter to counter c: every sum below is 15 << c.
                for (int k = 0; k < (slot + 1) << counter; k++)
                {
                    counters.Increment(slot, counter);
                }
            }
        }

        for (int counter = 0; counter < 8; counter++)
        {
            Assert.Equal(15L << counter, counters.Sum(counter));
        }
    }

    [Fact]
    public void Bad_shapes_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StripedCounters(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StripedCounters(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StripedCounters(1, 9));
        Assert.Equal(0, new StripedCounters(0, 1).Sum(0));
    }
}
