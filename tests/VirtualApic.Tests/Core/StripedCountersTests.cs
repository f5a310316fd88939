// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Tests.Core;

/// <summary>A per-slot statistics counter: every slot's increments count, and the sum is over every slot.</summary>
public class StripedCountersTests
{
    [Fact]
    public void Every_slots_increments_are_summed()
    {
        var counters = new StripedCounters(slots: 5);
        for (int slot = 0; slot < 5; slot++)
        {
            // Slot s adds 1 << s: the sum is 31 only if every slot counted on its own.
            for (int k = 0; k < 1 << slot; k++)
            {
                counters.Increment(slot);
            }
        }

        Assert.Equal(31, counters.Sum());
    }

    [Fact]
    public void A_copy_counts_into_the_same_slots()
    {
        // AVIC's delivery holds a copy of the model's counters: the model's sum must see its counts.
        var counters = new StripedCounters(slots: 2);
        var copy = counters;
        copy.Increment(1);
        copy.Increment(0);
        counters.Increment(1);

        Assert.Equal(3, counters.Sum());
        Assert.Equal(3, copy.Sum());
    }

    [Fact]
    public void Bad_shapes_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StripedCounters(-1));
        Assert.Equal(0, new StripedCounters(0).Sum());
    }
}
