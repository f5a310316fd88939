// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="IsrCache"/> on its own: the ISR's count and highest vector kept with the page, a scan
/// only when the highest is not known, and a refresh after an outside change.
/// </summary>
public class IsrCacheTests
{
    [Fact]
    public void An_empty_cache_has_nothing_in_service()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);

        Assert.Equal(0, cache.Count);
        Assert.Equal(-1, cache.StoredHighest);
        Assert.Equal(-1, cache.Highest(page.Words));
        Assert.Equal(-1, cache.ClearHighest(page.Words));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Setting_in_service_sets_the_page_bit_counts_it_and_knows_it_is_the_highest()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);

        cache.SetInService(page.Words, 0x41);
        cache.SetInService(page.Words, 0x92);

        Assert.True(page.TestVector(ApicOffset.Isr, 0x41));
        Assert.True(page.TestVector(ApicOffset.Isr, 0x92));
        Assert.Equal(2, cache.Count);
        Assert.Equal(0x92, cache.StoredHighest);
        Assert.Equal(0x92, cache.Highest(page.Words));
    }

    [Fact]
    public void Setting_a_vector_already_in_service_counts_it_once()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);

        cache.SetInService(page.Words, 0x41);
        cache.SetInService(page.Words, 0x41);

        Assert.Equal(1, cache.Count);
        Assert.Equal(TestApic.ScanCount(page, ApicOffset.Isr), cache.Count);
    }

    [Fact]
    public void Clearing_retires_in_reverse_order_scanning_for_the_next_one_down()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x31);
        cache.SetInService(page.Words, 0x61);
        cache.SetInService(page.Words, 0xA1);

        Assert.Equal(0xA1, cache.ClearHighest(page.Words));
        Assert.False(page.TestVector(ApicOffset.Isr, 0xA1));
        Assert.Equal(2, cache.Count);
        Assert.Null(cache.StoredHighest); // not known until asked for: the scan is deferred
        Assert.Equal(0x61, cache.Highest(page.Words));
        Assert.Equal(0x61, cache.StoredHighest); // and then remembered

        Assert.Equal(0x61, cache.ClearHighest(page.Words));
        Assert.Equal(0x31, cache.ClearHighest(page.Words));
        Assert.Equal(0, cache.Count);
        Assert.Equal(-1, cache.StoredHighest);
        Assert.Equal(-1, cache.ClearHighest(page.Words));
        Assert.Equal(-1, TestApic.ScanHighest(page, ApicOffset.Isr));
    }

    [Fact]
    public void A_cached_highest_is_answered_without_reading_the_page()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x52);

        // A change behind the cache's back is not seen until a refresh: proof that no scan ran.
        page.SetVector(ApicOffset.Isr, 0xE2);
        Assert.Equal(0x52, cache.Highest(page.Words));

        cache.Refresh(page.Words);
        Assert.Equal(2, cache.Count);
        Assert.Null(cache.StoredHighest);
        Assert.Equal(0xE2, cache.Highest(page.Words));
    }

    [Fact]
    public void A_refresh_after_an_outside_change_recounts_the_page()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x52);
        page.ClearVector(ApicOffset.Isr, 0x52); // as a hardware assist's virtual EOI would

        cache.Refresh(page.Words);

        Assert.Equal(0, cache.Count);
        Assert.Equal(-1, cache.Highest(page.Words));
    }

    [Fact]
    public void Clearing_empties_the_isr_and_the_cache()
    {
        var page = new ApicPage();
        var cache = default(IsrCache);
        cache.SetInService(page.Words, 0x21);
        cache.SetInService(page.Words, 0xFF);

        cache.Clear(page.Words);

        Assert.Equal(0, cache.Count);
        Assert.Equal(-1, cache.Highest(page.Words));
        Assert.Equal(0, TestApic.ScanCount(page, ApicOffset.Isr));
    }
}
