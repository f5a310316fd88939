// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using VirtualApic.Core;

namespace VirtualApic.Tests.Core;

/// <summary>
/// How a bound IRR recognises its owner thread (OwnerThread): by a window of its stack that grows to
/// each depth the owner calls from, with the thread ID asked only outside it. Behaviour per delivery
/// is in BoundIrrTests; these check the window itself.
/// </summary>
public class OwnerThreadTests
{
    private sealed class Holder
    {
        public OwnerThread Owner; // used in place, as in LocalApic
    }

    [Fact]
    public void The_owner_asks_its_thread_id_once_per_new_depth_and_never_inside_the_window()
    {
        var h = new Holder();
        AtDepth(60, () => h.Owner.BindToCurrentThread());

        Assert.True(AtDepth(0, () => h.Owner.IsCurrent()));
        Assert.True(AtDepth(160, () => h.Owner.IsCurrent()));
        int lookups = h.Owner.OwnerIdLookups;
        Assert.Equal(2, lookups); // depth 0, then depth 160: one each

        foreach (int depth in new[] { 0, 20, 60, 100, 160, 100, 0 })
        {
            Assert.True(AtDepth(depth, () => h.Owner.IsCurrent()));
        }

        Assert.Equal(lookups, h.Owner.OwnerIdLookups);
    }

    [Fact]
    public void Another_thread_is_never_the_owner_and_nobody_is_once_unbound()
    {
        var h = new Holder();
        h.Owner.BindToCurrentThread();
        Assert.True(h.Owner.IsBound);
        Assert.True(AtDepth(100, () => h.Owner.IsCurrent()));

        bool other = true;
        var thread = new Thread(() => other = h.Owner.IsCurrent() || AtDepth(100, () => h.Owner.IsCurrent()));
        thread.Start();
        thread.Join();
        Assert.False(other);

        h.Owner.Unbind();
        Assert.False(h.Owner.IsBound);
        Assert.False(h.Owner.IsCurrent());
        Assert.False(AtDepth(50, () => h.Owner.IsCurrent()));
    }

    [Fact]
    public void Binding_another_thread_replaces_the_window()
    {
        var h = new Holder();
        h.Owner.BindToCurrentThread();
        Assert.True(h.Owner.IsCurrent());

        var thread = new Thread(() => h.Owner.BindToCurrentThread());
        thread.Start();
        thread.Join();

        Assert.True(h.Owner.IsBound);
        Assert.False(h.Owner.IsCurrent());
    }

    // Runs f under depth extra stack frames (none inlined, each with some stack of its own).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool AtDepth(int depth, Func<bool> f)
    {
        if (depth == 0)
        {
            return f();
        }

        Span<byte> frame = stackalloc byte[64];
        frame[0] = (byte)depth;
        bool result = AtDepth(depth - 1, f);
        return result && frame[0] == (byte)depth;
    }

    private static void AtDepth(int depth, Action action) => AtDepth(depth, () =>
    {
        action();
        return true;
    });
}
