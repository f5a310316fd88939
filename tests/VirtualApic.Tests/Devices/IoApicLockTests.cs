// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Devices;

namespace VirtualApic.Tests.Devices;

/// <summary>
/// The IOAPIC's spinlock: mutual exclusion under contention, and the one re-entry it allows (the
/// thread inside <see cref="IIoApicSink.Deliver"/>), which must neither deadlock nor release the
/// outer hold.
/// </summary>
public class IoApicLockTests
{
    [Fact]
    public void Threads_contending_for_the_lock_never_overlap()
    {
        var gate = new IoApicLock();
        const int Threads = 4;
        const int Rounds = 200_000;
        long counter = 0; // plain increments: a lost update means two holders at once
        int inside = 0;
        int overlaps = 0;
        using var start = new Barrier(Threads);
        var workers = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < Rounds; i++)
            {
                using (gate.EnterScope())
                {
                    if (Interlocked.Increment(ref inside) != 1)
                    {
                        Interlocked.Increment(ref overlaps);
                    }

                    counter++;
                    Interlocked.Decrement(ref inside);
                }
            }
        })).ToArray();

        foreach (var t in workers)
        {
            t.Start();
        }

        foreach (var t in workers)
        {
            t.Join();
        }

        Assert.Equal(0, overlaps);
        Assert.Equal((long)Threads * Rounds, counter);
        Assert.False(gate.IsHeld);
    }

    [Fact]
    public void The_delivering_thread_re_enters_without_releasing_the_outer_hold()
    {
        var gate = new IoApicLock();
        using (gate.EnterScope())
        {
            gate.BeginDelivery();
            Assert.True(gate.IsDeliveringOnCurrentThread);
            using (gate.EnterScope())
            {
                Assert.True(gate.IsHeld);
            }

            Assert.True(gate.IsHeld); // the inner scope entered nothing, so it released nothing
            gate.EndDelivery();
            Assert.False(gate.IsDeliveringOnCurrentThread);
        }

        Assert.False(gate.IsHeld);
    }

    [Fact]
    public void Another_thread_is_not_taken_for_the_delivering_one()
    {
        var gate = new IoApicLock();
        bool otherSawDelivering = true;
        bool laterHeld = false;
        using (gate.EnterScope())
        {
            gate.BeginDelivery();
            var other = new Thread(() => otherSawDelivering = gate.IsDeliveringOnCurrentThread);
            other.Start();
            other.Join();
            gate.EndDelivery();
        }

        // Entering from another thread after the release succeeds and holds the lock.
        var later = new Thread(() =>
        {
            using (gate.EnterScope())
            {
                laterHeld = gate.IsHeld;
            }
        });
        later.Start();
        later.Join();

        Assert.False(otherSawDelivering);
        Assert.True(laterHeld);
        Assert.False(gate.IsHeld);
    }
}
