// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Tests.Support;

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
        StackDepth.Run(60, () => h.Owner.BindToCurrentThread());

        Assert.True(StackDepth.Run(0, () => h.Owner.IsCurrent()));
        Assert.True(StackDepth.Run(160, () => h.Owner.IsCurrent()));
        int lookups = h.Owner.OwnerIdLookups;
        Assert.Equal(2, lookups); // depth 0, then depth 160: one each

        foreach (int depth in new[] { 0, 20, 60, 100, 160, 100, 0 })
        {
            Assert.True(StackDepth.Run(depth, () => h.Owner.IsCurrent()));
        }

        Assert.Equal(lookups, h.Owner.OwnerIdLookups);
    }

    [Fact]
    public void Another_thread_is_never_the_owner_and_nobody_is_once_unbound()
    {
        var h = new Holder();
        h.Owner.BindToCurrentThread();
        Assert.True(h.Owner.IsBound);
        Assert.True(StackDepth.Run(100, () => h.Owner.IsCurrent()));

        bool other = true;
        var thread = new Thread(() => other = h.Owner.IsCurrent() || StackDepth.Run(100, () => h.Owner.IsCurrent()));
        thread.Start();
        thread.Join();
        Assert.False(other);

        h.Owner.Unbind();
        Assert.False(h.Owner.IsBound);
        Assert.False(h.Owner.IsCurrent());
        Assert.False(StackDepth.Run(50, () => h.Owner.IsCurrent()));
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
}
