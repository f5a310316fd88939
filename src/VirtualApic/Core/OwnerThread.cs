// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Core;

/// <summary>
/// The thread a bound IRR belongs to (<see cref="LocalApic.BindOwnerToCurrentThread"/>), told apart
/// from other threads on the delivery path by where the caller's stack is, not by its thread ID.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Environment.CurrentManagedThreadId"/> is a call into the runtime: about 4 ns on the
/// 2-core machine, more than all the rest of a bound delivery (docs/performance.md, "Eleventh
/// session"). A thread's stack is one contiguous range that no other live thread's stack overlaps, so
/// every address between two addresses seen on the owner's stack is on the owner's stack. The struct
/// keeps such a window; a caller with a local inside it is the owner, for one subtraction and one
/// compare. A caller outside it asks the thread ID, and when that is the owner's, the window grows to
/// take in the caller's stack depth: after its first call from each depth the owner never asks again.
/// Other threads always ask, as every thread did before.
/// </para>
/// <para>
/// The window is one 64-bit word (low address and length), so that a thread reading it while the
/// owner grows it, or while the vCPU binds or unbinds, sees one window the owner had, never the low
/// end of one and the high end of another, which could span a third thread's stack. A window that
/// cannot be packed (an address above 2^47, a length above 32 MiB) is never stored: the thread ID
/// answers instead. Like a thread ID, a window can outlive an owner thread that ends without
/// unbinding: a new thread whose stack lands there passes for the owner. Binding and unbinding happen
/// on the owner thread while it is not delivering (the threading contract, docs/threading.md).
/// </para>
/// A mutable struct: one <see cref="LocalApic"/> field, used in place.
/// </remarks>
internal struct OwnerThread
{
    private const int LengthBits = 21;        // the window's length in 16-byte units: up to 32 MiB
    private const long MaxAddress = 1L << 47; // the low end in 16-byte units takes the other 43 bits

    private int _id;      // the owner's managed thread ID; 0 while unbound
    private long _window; // (low >> 4) << LengthBits | (length >> 4); 0 (empty) while unbound
    private int _idLookups; // how often the owner had to be found by its thread ID (owner thread only)

    /// <summary>Whether the IRR is bound to some thread. Any thread.</summary>
    public readonly bool IsBound
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(in _id) != 0;
    }

    /// <summary>How often the owner was outside its window and asked its thread ID (for tests).</summary>
    public readonly int OwnerIdLookups => _idLookups;

    /// <summary>Makes the calling thread the owner, with an empty window (its first delivery fills it).</summary>
    public void BindToCurrentThread()
    {
        Volatile.Write(ref _window, 0);
        Volatile.Write(ref _id, Environment.CurrentManagedThreadId);
    }

    /// <summary>No thread owns the IRR any more.</summary>
    public void Unbind()
    {
        Volatile.Write(ref _window, 0);
        Volatile.Write(ref _id, 0);
    }

    /// <summary>Whether the calling thread is the owner (false while unbound). Any thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsCurrent()
    {
        long here = StackAddress();
        long window = Volatile.Read(ref _window);
        return (ulong)(here - Low(window)) <= (ulong)Length(window) || IsCurrentByThreadId(here);
    }

    // Outside the window: the thread ID decides, and on the owner the window grows to take this depth in.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool IsCurrentByThreadId(long here)
    {
        if (Volatile.Read(ref _id) != Environment.CurrentManagedThreadId) // never 0: unbound is never current
        {
            return false;
        }

        _idLookups++;
        long window = _window;
        if (window == 0)
        {
            Remember(here, here);
        }
        else
        {
            Remember(Math.Min(Low(window), here), Math.Max(Low(window) + Length(window), here));
        }

        return true;
    }

    // The window's low end and length in bytes (the word packs both in 16-byte units).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Low(long window) => (window >>> LengthBits) << 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Length(long window) => (window & ((1L << LengthBits) - 1)) << 4;

    // Stores [low, high] (owner thread only) when it packs; otherwise keeps the window it had. A
    // 32-bit process could read the word torn, so it keeps none.
    private void Remember(long low, long high)
    {
        low &= ~0xFL;
        long length = (high - low + 0xF) >> 4;
        if (!Environment.Is64BitProcess || low <= 0 || low >= MaxAddress || length >= 1L << LengthBits)
        {
            return;
        }

        Volatile.Write(ref _window, (low >> 4) << LengthBits | length);
    }

    // The address of a local: a point on the calling thread's stack (locals never move).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long StackAddress()
    {
        byte local = 0;
        return Unsafe.ByteOffset(ref Unsafe.NullRef<byte>(), ref local);
    }
}
