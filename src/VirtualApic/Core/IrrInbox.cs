// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using VirtualApic.Registers;

namespace VirtualApic.Core;

/// <summary>
/// The inbox of an IRR bound to its vCPU's thread (docs/threading.md): 256 vector bits that other
/// threads post into with one locked OR and a pending flag, and that the owner folds into the IRR
/// before it evaluates. The same split as a posted-interrupt descriptor's PIR and ON bit, and
/// OpenVMM's per-target inbox.
/// </summary>
/// <remarks>
/// A mutable struct held in one <see cref="LocalApic"/> field and only ever used in place: a copy
/// would be a second inbox that nobody merges. Inline storage keeps the pending flag and the words in
/// the APIC object itself, so checking the inbox costs the owner no extra load.
/// </remarks>
internal struct IrrInbox
{
    // The flag first: every evaluation reads it, next to the APIC's ownership word, and the
    // words only when it is set.
    private int _pending;
    private VectorWords _words;

    /// <summary>Whether something was posted since the last merge or drop. Any thread.</summary>
    public readonly bool IsPending
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(in _pending) != 0;
    }

    /// <summary>Posts <paramref name="vector"/> (0-255, checked by the caller). Any thread but the owner.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Post(int vector)
    {
        Interlocked.Or(ref _words[vector >> 5], 1u << vector);
        Publish();
    }

    /// <summary>Posts 32 vector bits into word <paramref name="index"/> (0-7, checked by the caller). Any thread but the owner.</summary>
    public void PostWord(int index, uint bits)
    {
        Interlocked.Or(ref _words[index], bits);
        Publish();
    }

    /// <summary>
    /// Folds the inbox into the IRR of <paramref name="page"/> and empties it: with plain stores when
    /// <paramref name="owner"/> (the IRR's bound thread, the only one that writes it plainly), with
    /// locked ORs otherwise (a paused vCPU's snapshot, or a bound vCPU being unbound).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void MergeInto(PageWords page, bool owner)
    {
        // The flag is cleared before the words are taken: a post that lands after this exchange
        // raises it again, so its bits are either taken now or merged next time, never lost.
        if (Interlocked.Exchange(ref _pending, 0) == 0)
        {
            return;
        }

        for (int i = 0; i < 8; i++)
        {
            if (Volatile.Read(in _words[i]) == 0)
            {
                continue;
            }

            uint bits = Interlocked.Exchange(ref _words[i], 0);
            if (owner)
            {
                int offset = ApicOffset.Irr + (i << 4);
                page.Write(offset, page.Read(offset) | bits);
            }
            else
            {
                page.OrVectorWordAtomic(ApicOffset.Irr, i, bits);
            }
        }
    }

    /// <summary>Empties the inbox without merging (RESET, INIT and restores clear the IRR, and the inbox with it).</summary>
    public void Drop()
    {
        Volatile.Write(ref _pending, 0);
        for (int i = 0; i < 8; i++)
        {
            Interlocked.Exchange(ref _words[i], 0);
        }
    }

    /// <summary>Word <paramref name="index"/> (0-7) as stored, for side-effect-free inspection.</summary>
    public readonly uint Word(int index) => Volatile.Read(in _words[index]);

    /// <summary>Whether <paramref name="vector"/> waits in the inbox (posted, not yet merged).</summary>
    public readonly bool Contains(int vector) => (Word(vector >> 5) & (1u << vector)) != 0;

    // Dekker with the waiter (docs/threading.md): the sender stores the flag, then (in the kick) loads
    // the waiter's waiting flag; the waiter stores its waiting flag, then loads this flag. A release
    // store may pass the following load (x86 store buffering), so both sides could read 0 and the kick
    // would be lost: the flag is published with a full fence.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Publish() => Interlocked.Exchange(ref _pending, 1);

    [InlineArray(8)]
    private struct VectorWords
    {
        private uint _word;
    }
}
