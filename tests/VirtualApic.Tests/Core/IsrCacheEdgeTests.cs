// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="IsrCache"/> across the ISR's words, beyond <see cref="IsrCacheTests"/>: vector 0 is a
/// vector like any other, a clear that empties the top word leaves the next one to a scan, and a
/// refresh recounts a page edited by hand.
/// </summary>
public class IsrCacheEdgeTests
{
    [Fact]
    public void Vector_0_alone_in_service_is_cleared_and_returned()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x00);

        Assert.Equal(1, cache.Count);
        Assert.Equal(0, cache.StoredHighest);
        Assert.Equal(0, cache.Highest(page.Words));

        Assert.Equal(0, cache.ClearHighest(page.Words));
        Assert.Equal(0, cache.Count);
        Assert.Equal(0u, page.Read(ApicOffset.Isr));
        Assert.Equal(-1, cache.Highest(page.Words));
    }

    [Fact]
    public void Vector_0_under_others_is_found_by_the_scan_and_cleared_last()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x00);
        cache.SetInService(page.Words, 0x20);

        Assert.Equal(0x20, cache.ClearHighest(page.Words));
        Assert.Null(cache.StoredHighest);
        Assert.Equal(0, cache.ClearHighest(page.Words));
        Assert.Equal(0, cache.Count);
        Assert.Equal(-1, cache.StoredHighest);
    }

    [Fact]
    public void Count_and_highest_follow_vectors_in_every_word()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        int[] vectors = [0x1F, 0x20, 0x5F, 0x60, 0x9F, 0xA0, 0xDF, 0xE0, 0xFF];

        for (int n = 0; n < vectors.Length; n++)
        {
            cache.SetInService(page.Words, vectors[n]);
            Assert.Equal(n + 1, cache.Count);
            Assert.Equal(vectors[n], cache.StoredHighest);
        }

        for (int n = vectors.Length - 1; n >= 0; n--)
        {
            Assert.Equal(vectors[n], cache.Highest(page.Words));
            Assert.Equal(vectors[n], cache.ClearHighest(page.Words));
            Assert.Equal(n, cache.Count);
            Assert.Equal(n, page.CountVectors(ApicOffset.Isr));
        }

        Assert.Equal(-1, cache.Highest(page.Words));
    }

    [Fact]
    public void A_clear_that_empties_the_top_word_leaves_a_scan_that_finds_the_lower_word()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x25);
        cache.SetInService(page.Words, 0xE0);

        Assert.Equal(0xE0, cache.ClearHighest(page.Words));

        Assert.Equal(1, cache.Count);
        Assert.Null(cache.StoredHighest);
        Assert.Equal(0u, page.Read(ApicOffset.Isr + 0x70));
        Assert.Equal(0x25, cache.Highest(page.Words));
        Assert.Equal(0x25, cache.StoredHighest);
    }

    [Fact]
    public void The_isr_bits_of_the_page_are_exactly_the_ones_set_in_service()
    {
        var page = new ApicPage();
        page.Write(ApicOffset.Tmr, ~0u); // the register above the ISR: not counted, not touched
        var cache = default(IsrCache);

        cache.SetInService(page.Words, 0x31);
        cache.SetInService(page.Words, 0x72);

        Assert.Equal(1u << 0x11, page.Read(ApicOffset.Isr + 0x10));
        Assert.Equal(1u << 0x12, page.Read(ApicOffset.Isr + 0x30));
        Assert.Equal(2, page.CountVectors(ApicOffset.Isr));
        Assert.Equal(0x72, cache.ClearHighest(page.Words));
        Assert.Equal(0u, page.Read(ApicOffset.Isr + 0x30));
        Assert.Equal(~0u, page.Read(ApicOffset.Tmr));
    }

    [Fact]
    public void A_refresh_recounts_a_page_edited_by_hand_and_scans_for_the_highest()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x41);
        page.Write(ApicOffset.Isr, 0x0000_0003); // vectors 0 and 1
        page.Write(ApicOffset.Isr + 0x50, 0x0001_0000); // vector 0xB0
        page.Write(ApicOffset.Tmr, ~0u); // the next register: not the ISR's

        cache.Refresh(page.Words);

        Assert.Equal(4, cache.Count);
        Assert.Null(cache.StoredHighest);
        Assert.Equal(0xB0, cache.Highest(page.Words));
        Assert.Equal(0xB0, cache.StoredHighest);
        Assert.Equal(0xB0, cache.ClearHighest(page.Words));
        Assert.Equal(0x41, cache.ClearHighest(page.Words));
        Assert.Equal(0x01, cache.ClearHighest(page.Words));
        Assert.Equal(0x00, cache.ClearHighest(page.Words));
        Assert.Equal(0, cache.Count);
        Assert.Equal(-1, cache.ClearHighest(page.Words));
        Assert.Equal(~0u, page.Read(ApicOffset.Tmr));
    }

    [Fact]
    public void A_refresh_of_an_empty_isr_empties_the_cache()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x41);
        cache.SetInService(page.Words, 0x81);
        page.ClearVectors(ApicOffset.Isr);

        cache.Refresh(page.Words);

        Assert.Equal(0, cache.Count);
        Assert.Equal(-1, cache.StoredHighest);
        Assert.Equal(-1, cache.Highest(page.Words));
    }

    [Fact]
    public void Clearing_leaves_the_neighbouring_registers_and_starts_afresh()
    {
        var page = new ApicPage();
        page.Write(ApicOffset.Tmr, ~0u);
        page.Write(ApicOffset.Isr - 0x10, ~0u);
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x10);
        cache.SetInService(page.Words, 0xF0);

        cache.Clear(page.Words);

        Assert.Equal(0, cache.Count);
        Assert.Equal(-1, cache.StoredHighest);
        Assert.Equal(~0u, page.Read(ApicOffset.Tmr));
        Assert.Equal(~0u, page.Read(ApicOffset.Isr - 0x10));
        cache.SetInService(page.Words, 0x30);
        Assert.Equal(1, cache.Count);
        Assert.Equal(0x30, cache.StoredHighest);
        Assert.Equal(0x30, cache.ClearHighest(page.Words));
    }
}
