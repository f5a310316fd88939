// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="IrrInbox"/> word by word, beyond <see cref="IrrInboxTests"/>: a word post on its own
/// raises the flag, every word is inspected and merged into its own IRR dword, and a merge leaves the
/// registers beside the IRR alone.
/// </summary>
public class IrrInboxEdgeTests
{
    [Fact]
    public void A_word_post_on_its_own_raises_the_flag()
    {
        var inbox = default(IrrInbox);

        inbox.PostWord(5, 0x0000_0100);

        Assert.True(inbox.IsPending);
        Assert.Equal(0x0000_0100u, inbox.Word(5));
        Assert.True(inbox.Contains(0xA8));
        Assert.False(inbox.Contains(0xA9));
    }

    [Fact]
    public void A_word_post_of_no_bits_merges_nothing()
    {
        var page = new ApicPage();
        page.Write(ApicOffset.Irr + 0x30, 0x0000_0010);
        var inbox = default(IrrInbox);

        inbox.PostWord(3, 0);
        inbox.MergeInto(page.Words, owner: true);

        Assert.False(inbox.IsPending);
        Assert.Equal(0x0000_0010u, page.Read(ApicOffset.Irr + 0x30));
        Assert.Equal(1, page.CountVectors(ApicOffset.Irr));
    }

    [Theory]
    [MemberData(nameof(ApicPageTests.WordEdgeVectors), MemberType = typeof(ApicPageTests))]
    public void A_post_lands_in_word_v_div_32_bit_v_mod_32(int vector)
    {
        var inbox = default(IrrInbox);

        inbox.Post(vector);

        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(i == vector / 32 ? 1u << (vector % 32) : 0u, inbox.Word(i));
        }

        for (int v = 0; v < 256; v++)
        {
            Assert.Equal(v == vector, inbox.Contains(v));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_merge_ors_each_word_into_its_own_irr_dword_and_touches_nothing_else(bool owner)
    {
        var page = new ApicPage();
        page.Write(ApicOffset.Tmr + 0x70, ~0u); // the dword below IRR0's slot
        page.Write(ApicOffset.Irr + 0x80, ~0u); // the dword after IRR7's slot (ESR)
        for (int i = 0; i < 8; i++)
        {
            page.Write(ApicOffset.Irr + (i << 4), 1u << i); // already pending: kept
            page.Write(ApicOffset.Irr + (i << 4) + 4, ~0u); // the slot's unused dwords
        }

        var inbox = default(IrrInbox);
        for (int i = 0; i < 8; i++)
        {
            inbox.PostWord(i, 0x8000_0000u >> i);
        }

        inbox.MergeInto(page.Words, owner);

        for (int i = 0; i < 8; i++)
        {
            Assert.Equal((1u << i) | (0x8000_0000u >> i), page.Read(ApicOffset.Irr + (i << 4)));
            Assert.Equal(~0u, page.Read(ApicOffset.Irr + (i << 4) + 4));
            Assert.Equal(0u, inbox.Word(i));
        }

        Assert.Equal(~0u, page.Read(ApicOffset.Tmr + 0x70));
        Assert.Equal(~0u, page.Read(ApicOffset.Irr + 0x80));
        Assert.Equal(16, page.CountVectors(ApicOffset.Irr));
        Assert.False(inbox.IsPending);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_merge_of_only_the_lowest_and_highest_vectors_sets_exactly_those(bool owner)
    {
        var page = new ApicPage();
        var inbox = default(IrrInbox);
        inbox.Post(0x00);
        inbox.Post(0xFF);

        inbox.MergeInto(page.Words, owner);

        Assert.Equal(1u, page.Read(ApicOffset.Irr));
        Assert.Equal(0x8000_0000u, page.Read(ApicOffset.Irr + 0x70));
        Assert.Equal(2, page.CountVectors(ApicOffset.Irr));
        Assert.Equal(0xFF, page.HighestVector(ApicOffset.Irr));
    }

    [Fact]
    public void A_post_after_a_merge_raises_the_flag_again_and_is_merged_next_time()
    {
        var page = new ApicPage();
        var inbox = default(IrrInbox);
        inbox.Post(0x40);
        inbox.MergeInto(page.Words, owner: true);
        Assert.False(inbox.IsPending);

        inbox.Post(0x41);

        Assert.True(inbox.IsPending);
        Assert.False(inbox.Contains(0x40));
        Assert.True(inbox.Contains(0x41));
        inbox.MergeInto(page.Words, owner: false);
        Assert.Equal(0b11u, page.Read(ApicOffset.Irr + 0x20));
        Assert.False(inbox.IsPending);
    }

    [Fact]
    public void A_drop_empties_every_word_and_the_inbox_works_again_after_it()
    {
        var page = new ApicPage();
        var inbox = default(IrrInbox);
        for (int i = 0; i < 8; i++)
        {
            inbox.PostWord(i, ~0u);
        }

        inbox.Drop();

        Assert.False(inbox.IsPending);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(0u, inbox.Word(i));
        }

        inbox.Post(0x20);
        Assert.True(inbox.IsPending);
        inbox.MergeInto(page.Words, owner: true);
        Assert.Equal(1, page.CountVectors(ApicOffset.Irr));
        Assert.True(page.TestVector(ApicOffset.Irr, 0x20));
    }
}
