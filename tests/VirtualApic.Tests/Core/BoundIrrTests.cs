// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>
/// An IRR bound to its vCPU's thread (docs/threading.md, "Where cross-thread state lives"), single-threaded: where each
/// delivery lands (the IRR itself on the owner's thread or when delivery is not concurrent, the inbox
/// from any other thread, the locked path when unbound) and when the inbox is folded in (evaluation,
/// binding, unbinding). The other thread is simulated by binding the IRR to a thread that has
/// exited, so the test thread is a non-owner; no timing is involved.
/// </summary>
public class BoundIrrTests
{
    private static void BindToAnotherThread(LocalApic apic)
    {
        var owner = new Thread(apic.BindOwnerToCurrentThread);
        owner.Start();
        owner.Join();
        Assert.True(apic.IsBound);
        Assert.False(apic.IsOwnerThread);
    }

    [Fact]
    public void A_delivery_from_another_thread_waits_in_the_inbox_until_an_evaluation_folds_it_in()
    {
        var apic = TestApic.Create();
        BindToAnotherThread(apic);

        // A bound IRR is cleared with plain instructions (other threads only post to the inbox).
        apic.AssertInboxedUntilEvaluated(0x51);
    }

    [Fact]
    public void A_delivery_on_the_owners_thread_goes_straight_into_the_irr()
    {
        var apic = TestApic.Create();
        apic.BindOwnerToCurrentThread();
        Assert.True(apic.IsOwnerThread);

        Assert.True(apic.Raise(0x52));

        Assert.True(apic.IrrHas(0x52));
        Assert.False(apic.IsInboxed(0x52));
        apic.UnbindOwner();
    }

    // The owner is told apart by its stack (OwnerThread): a delivery from a frame deeper or shallower
    // than the one that bound must still be recognised, and no other thread ever.
    [Fact]
    public void A_delivery_from_any_stack_depth_on_the_owners_thread_goes_straight_into_the_irr()
    {
        var apic = TestApic.Create();
        StackDepth.Run(40, apic.BindOwnerToCurrentThread);

        StackDepth.Run(0, () => Assert.True(apic.Raise(0x60)));   // shallower than the bind
        StackDepth.Run(200, () => Assert.True(apic.Raise(0x61))); // deeper
        StackDepth.Run(100, () => Assert.True(apic.Raise(0x62))); // in between, now inside the window

        foreach (byte v in new byte[] { 0x60, 0x61, 0x62 })
        {
            Assert.True(apic.IrrHas(v));
            Assert.False(apic.IsInboxed(v));
        }

        apic.UnbindOwner();
    }

    [Fact]
    public void A_live_thread_delivering_while_the_owner_waits_deep_in_its_stack_goes_through_the_inbox()
    {
        var apic = TestApic.Create();
        using var bound = new ManualResetEventSlim();
        using var delivered = new ManualResetEventSlim();
        bool ownerLandedInIrr = false;
        var owner = new Thread(() =>
        {
            apic.BindOwnerToCurrentThread();
            StackDepth.Run(150, () => Assert.True(apic.Raise(0x63))); // the window spans 150 frames
            bound.Set();
            delivered.Wait();
            ownerLandedInIrr = apic.IrrHas(0x63) && !apic.IsInboxed(0x63);
        });
        owner.Start();
        bound.Wait(TestContext.Current.CancellationToken);

        Assert.False(apic.IsOwnerThread);
        StackDepth.Run(150, () => Assert.True(apic.Raise(0x64)));

        Assert.True(apic.IsInboxed(0x64));
        delivered.Set();
        owner.Join();
        Assert.True(ownerLandedInIrr);
    }

    [Fact]
    public void After_the_irr_is_bound_to_another_thread_the_old_owner_delivers_through_the_inbox()
    {
        var apic = TestApic.Create();
        apic.BindOwnerToCurrentThread();
        Assert.True(apic.Raise(0x65));
        Assert.True(apic.IrrHas(0x65));

        BindToAnotherThread(apic);
        Assert.True(apic.Raise(0x66));

        Assert.True(apic.IsInboxed(0x66));
        Assert.False(apic.IrrHas(0x66));
    }

    [Fact]
    public void Reading_an_irr_word_folds_the_inbox_in_first()
    {
        var apic = TestApic.Create();
        BindToAnotherThread(apic);

        Assert.True(apic.Raise(0xFF));
        Assert.Equal(1u << 31, apic.Read(ApicOffset.Irr + 0x70)); // the last IRR word
        Assert.True(apic.Raise(0x10));
        Assert.Equal(1u << 16, apic.Read(ApicOffset.Irr));        // the first
    }

    [Fact]
    public void Without_concurrent_delivery_another_threads_delivery_sets_the_irr_directly()
    {
        var apic = TestApic.Create(config: new ApicConfig { ConcurrentDelivery = false });
        BindToAnotherThread(apic);

        Assert.True(apic.Raise(0x53));

        Assert.True(apic.IrrHas(0x53));
        Assert.False(apic.IsInboxed(0x53));
    }

    [Fact]
    public void Unbinding_folds_the_inbox_in_and_later_deliveries_set_the_irr()
    {
        var apic = TestApic.Create();
        BindToAnotherThread(apic);
        Assert.True(apic.Raise(0x54));

        apic.UnbindOwner();

        Assert.False(apic.IsBound);
        Assert.True(apic.IrrHas(0x54));
        Assert.False(apic.IsInboxed(0x54));
        Assert.True(apic.Raise(0x55));
        Assert.True(apic.IrrHas(0x55));
        Assert.False(apic.IsInboxed(0x55));
    }

    [Fact]
    public void Binding_to_a_new_thread_folds_in_what_the_old_owner_had_not_taken()
    {
        var apic = TestApic.Create();
        BindToAnotherThread(apic);
        Assert.True(apic.Raise(0x56));

        apic.BindOwnerToCurrentThread();

        Assert.True(apic.IrrHas(0x56));
        Assert.False(apic.IsInboxed(0x56));
        apic.UnbindOwner();
    }

    [Theory]
    [InlineData(false, false)] // unbound: the locked path
    [InlineData(true, true)]   // bound to this thread: plain
    [InlineData(true, false)]  // bound to another thread: the inbox
    public void A_word_of_vectors_lands_where_a_single_vector_would(bool bound, bool thisThreadOwns)
    {
        var apic = TestApic.Create();
        if (bound && thisThreadOwns)
        {
            apic.BindOwnerToCurrentThread();
        }
        else if (bound)
        {
            BindToAnotherThread(apic);
        }

        apic.OrIrrWord(2, 0x8000_0001);  // vectors 0x40 and 0x5F
        apic.OrIrrWord(3, 0);            // nothing

        bool inboxed = bound && !thisThreadOwns;
        Assert.Equal(inboxed ? 0u : 0x8000_0001u, apic.Page.Read(ApicOffset.Irr + 0x20));
        Assert.Equal(inboxed ? 0x8000_0001u : 0u, apic.InboxWord(2));
        Assert.Equal(0u, apic.InboxWord(3));
        Assert.Equal(0x5F, apic.HighestIrr);
        Assert.Equal(0x8000_0001u, apic.Page.Read(ApicOffset.Irr + 0x20));
        if (bound)
        {
            apic.UnbindOwner();
        }
    }

    [Fact]
    public void A_timer_expiry_on_another_thread_is_handed_to_the_bound_owner_and_injected_at_its_next_evaluation()
    {
        // KVM apic_timer_expired: off the vCPU's thread the expiry becomes lapic_timer.pending and a
        // request, injected by the vCPU (kvm_inject_apic_timer_irqs) before it next enters the guest.
        var clock = new VirtualClock();
        var apic = TestApic.Create(clock: clock);
        apic.BindOwnerToCurrentThread();
        Assert.True(apic.Write(ApicOffset.LvtTimer, 0x70));
        Assert.True(apic.Write(ApicOffset.Tmict, 100)); // 200 ns at 1000 MHz, divide by 2
        int kicks = apic.Host().Kicks;

        var advancer = new Thread(() => clock.Advance(1_000));
        advancer.Start();
        advancer.Join();

        Assert.Equal(1, apic.Timer.PendingInjections);
        Assert.False(apic.IrrHas(0x70));
        Assert.True(apic.Host().Kicks > kicks, "the owner was not kicked");
        Assert.Equal(0x70, apic.PendingVector());
        Assert.Equal(0, apic.Timer.PendingInjections);
        apic.UnbindOwner();
    }

    [Fact]
    public void A_timer_expiry_on_the_bound_owners_own_thread_is_delivered_at_once()
    {
        var clock = new VirtualClock();
        var apic = TestApic.Create(clock: clock);
        apic.BindOwnerToCurrentThread();
        Assert.True(apic.Write(ApicOffset.LvtTimer, 0x71));
        Assert.True(apic.Write(ApicOffset.Tmict, 100));

        clock.Advance(1_000);

        Assert.Equal(0, apic.Timer.PendingInjections);
        Assert.True(apic.IrrHas(0x71));
        apic.UnbindOwner();
    }
}
