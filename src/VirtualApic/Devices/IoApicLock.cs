// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Devices;

/// <summary>
/// The IOAPIC's lock (KVM's <c>ioapic->lock</c>, a spinlock): one compare-exchange to enter and a
/// release store to leave, with no thread identity on either path. It is not recursive, except for
/// the one re-entry the IOAPIC's contract allows: the thread inside <see cref="IIoApicSink.Deliver"/>
/// (which holds the lock) may call back into the IOAPIC, to read it or to be refused a change.
/// </summary>
/// <remarks>
/// <see cref="System.Threading.Lock"/> reads the current thread's ID from thread-local storage on
/// every enter and exit and leaves with a second locked instruction: two round trips of it were about
/// a third of a W2 level cycle (docs/performance.md). The critical sections here are short (a
/// redirection-table access or one delivery), so waiters spin and then yield (<see cref="SpinWait"/>,
/// which sleeps after a while) instead of queueing on an event.
/// </remarks>
internal sealed class IoApicLock
{
    private int _held;

    // The managed thread ID of the thread inside IIoApicSink.Deliver, 0 when none. Written by the
    // lock's holder; read without the lock only to recognise that same thread.
    private int _deliveringThread;

    /// <summary>Enters the lock; disposing the scope leaves it. A re-entry by the delivering thread enters nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Scope EnterScope() =>
        new(Interlocked.CompareExchange(ref _held, 1, 0) == 0 || EnterContended() ? this : null);

    /// <summary>Whether some thread holds the lock (inspection).</summary>
    internal bool IsHeld => Volatile.Read(ref _held) != 0;

    /// <summary>Whether a delivery runs (read by the holder, or by the delivering thread re-entering).</summary>
    public bool IsDelivering => _deliveringThread != 0;

    /// <summary>Marks the holder as inside <see cref="IIoApicSink.Deliver"/> (under the lock).</summary>
    public void BeginDelivery() => Volatile.Write(ref _deliveringThread, Environment.CurrentManagedThreadId);

    /// <summary>Ends <see cref="BeginDelivery"/> (under the lock).</summary>
    public void EndDelivery() => Volatile.Write(ref _deliveringThread, 0);

    /// <summary>Whether the calling thread is inside <see cref="IIoApicSink.Deliver"/> (and so holds the lock).</summary>
    public bool IsDeliveringOnCurrentThread
    {
        get
        {
            // The thread ID is read only while some thread delivers: the common case stays one load.
            int thread = Volatile.Read(ref _deliveringThread);
            return thread != 0 && thread == Environment.CurrentManagedThreadId;
        }
    }

    // Returns false for the delivering thread's re-entry (it already holds the lock), true once entered.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool EnterContended()
    {
        if (IsDeliveringOnCurrentThread)
        {
            return false;
        }

        var spin = default(SpinWait);
        do
        {
            spin.SpinOnce();
        }
        while (Volatile.Read(ref _held) != 0 || Interlocked.CompareExchange(ref _held, 1, 0) != 0);

        return true;
    }

    /// <summary>A held (or re-entered) lock; <see cref="Dispose"/> leaves it.</summary>
    public readonly ref struct Scope
    {
        private readonly IoApicLock? _owner;

        internal Scope(IoApicLock? owner) => _owner = owner;

        /// <summary>Leaves the lock, unless the scope was a re-entry.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Dispose()
        {
            if (_owner is not null)
            {
                // A release store: everything written under the lock is visible before the lock is free.
                Volatile.Write(ref _owner._held, 0);
            }
        }
    }
}
