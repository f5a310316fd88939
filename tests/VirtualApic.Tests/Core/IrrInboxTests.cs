// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="IrrInbox"/> on its own: posting, inspection, merging into the IRR (plain or locked),
/// dropping, and no post lost to a merge racing with it. That the pending flag is published with a
/// full fence cannot be shown by a unit test; the threaded tests (docs/threading.md) cover the kick.
/// </summary>
public class IrrInboxTests
{
    [Fact]
    public void A_post_waits_in_the_inbox_with_the_pending_flag_up()
    {
        var inbox = default(IrrInbox);
        Assert.False(inbox.IsPending);

        inbox.Post(0x00);
        inbox.Post(0x61);
        inbox.Post(0xFF);

        Assert.True(inbox.IsPending);
        Assert.True(inbox.Contains(0x61));
        Assert.False(inbox.Contains(0x62));
        Assert.Equal(1u, inbox.Word(0));
        Assert.Equal(1u << 1, inbox.Word(3));
        Assert.Equal(1u << 31, inbox.Word(7));
    }

    [Fact]
    public void A_word_post_ors_32_vectors_at_once()
    {
        var inbox = default(IrrInbox);
        inbox.Post(0x40);

        inbox.PostWord(2, 0x8000_0002);

        Assert.True(inbox.IsPending);
        Assert.Equal(0x8000_0003u, inbox.Word(2));
        Assert.True(inbox.Contains(0x5F));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_merge_folds_the_inbox_into_the_irr_and_empties_it(bool owner)
    {
        var page = new ApicPage();
        page.SetVector(ApicOffset.Irr, 0x30); // already pending: kept
        var inbox = default(IrrInbox);
        inbox.Post(0x31);
        inbox.Post(0xC0);

        inbox.MergeInto(page.Words, owner);

        Assert.Equal([0x30, 0x31, 0xC0], IrrVectors(page));
        Assert.False(inbox.IsPending);
        Assert.All(Enumerable.Range(0, 8), i => Assert.Equal(0u, inbox.Word(i)));
    }

    [Fact]
    public void A_merge_with_the_flag_down_changes_nothing()
    {
        var page = new ApicPage();
        var inbox = default(IrrInbox);
        inbox.Post(0x44);
        inbox.MergeInto(page.Words, owner: true);
        page.ClearVector(ApicOffset.Irr, 0x44);

        inbox.MergeInto(page.Words, owner: true);

        Assert.Empty(IrrVectors(page));
    }

    [Fact]
    public void A_drop_forgets_the_posts()
    {
        var page = new ApicPage();
        var inbox = default(IrrInbox);
        inbox.Post(0x71);
        inbox.PostWord(7, ~0u);

        inbox.Drop();

        Assert.False(inbox.IsPending);
        Assert.False(inbox.Contains(0x71));
        Assert.Equal(0u, inbox.Word(7));
        inbox.MergeInto(page.Words, owner: false);
        Assert.Empty(IrrVectors(page));
    }

    [Fact]
    public void Posts_from_several_threads_racing_with_merges_all_reach_the_irr()
    {
        // Four posters, 56 vectors each (every vector 0x20-0xFF exactly once overall), while the
        // "owner" merges in a loop: a bit taken by a merge is in the IRR, one posted after it raised
        // the flag again; after the last merge every vector must be there.
        var page = new ApicPage();
        var box = new InboxHolder();
        using var start = new Barrier(5);
        var posters = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            start.SignalAndWait(TestContext.Current.CancellationToken);
            for (int v = 0x20 + t; v <= 0xFF; v += 4)
            {
                box.Inbox.Post(v);
            }
        })).ToList();
        posters.ForEach(p => p.Start());
        start.SignalAndWait(TestContext.Current.CancellationToken);
        while (posters.Any(p => p.IsAlive))
        {
            box.Inbox.MergeInto(page.Words, owner: false);
        }

        posters.ForEach(p => p.Join());
        box.Inbox.MergeInto(page.Words, owner: false);

        Assert.Equal(Enumerable.Range(0x20, 0xE0), IrrVectors(page));
        Assert.False(box.Inbox.IsPending);
    }

    private static List<int> IrrVectors(ApicPage page) =>
        Enumerable.Range(0, 256).Where(v => page.TestVector(ApicOffset.Irr, v)).ToList();

    // The inbox lives in a heap object shared by the threads, as it does inside LocalApic.
    private sealed class InboxHolder
    {
        public IrrInbox Inbox;
    }
}
