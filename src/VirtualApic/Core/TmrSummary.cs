// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using VirtualApic.Registers;

namespace VirtualApic.Core;

/// <summary>
/// Which dwords of an APIC's TMR may hold a set bit: bit <c>i</c> for TMR dword <c>i</c> (vectors
/// <c>32i</c> to <c>32i + 31</c>). A clear bit means that dword is zero, so an edge acceptance and
/// the EOI of a vector in it need not load the TMR's cache line, one line of the target's register
/// page per interrupt that nothing else on those paths reads (docs/performance.md, "Fortieth
/// session"). Held in the <see cref="LocalApic"/> itself, on lines those paths load anyway.
/// </summary>
/// <remarks>
/// <para>
/// Conservative: a bit is set before any TMR bit of its dword can become set (a level acceptance, a
/// restored image, a write through the public <see cref="ApicPage"/>), and again after it, and is
/// cleared only by a RESET or INIT, before the TMR itself. A level acceptance on another thread
/// that overlaps the clearing then either lands before it (its bit cleared with the TMR) or marks
/// the dword after its own store; either way a set TMR bit has its summary bit. Readers: the
/// acceptance (any thread) and the EOI (the owner, after the acknowledge that followed the IRR
/// store, which follows the TMR store and its marks).
/// </para>
/// <para>
/// A TMR bit stays set until an edge acceptance of the same vector clears it (KVM
/// <c>__apic_accept_irq</c>), so a dword that held a level vector keeps its bit for the APIC's
/// life: the summary serves vectors in dwords no level interrupt has used, the common case of
/// MSIs and IPIs, and costs the others one load of a line they hold.
/// </para>
/// </remarks>
internal struct TmrSummary
{
    private int _dwords;

    /// <summary>Whether the TMR dword that holds <paramref name="vector"/> may have a bit set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool MayHold(int vector) => (Volatile.Read(in _dwords) & DwordOf(vector)) != 0;

    /// <summary>Whether <paramref name="vector"/> (0-255) is set in the TMR (level-triggered at its last acceptance).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Test(PageWords words, int vector) =>
        MayHold(vector) && words.TestKnownVector(ApicOffset.Tmr, vector);

    /// <summary>Marks the dwords in <paramref name="dwords"/> (bit i for dword i) as possibly non-zero. Any thread.</summary>
    public void Mark(int dwords)
    {
        if ((Volatile.Read(in _dwords) & dwords) != dwords)
        {
            Interlocked.Or(ref _dwords, dwords);
        }
    }

    /// <summary>Marks the dword of <paramref name="vector"/> (0-255). Any thread.</summary>
    public void MarkVector(int vector) => Mark(DwordOf(vector));

    /// <summary>Forgets every mark: RESET and INIT, before they clear the TMR (full fence, see the remarks). Owner thread.</summary>
    public void Forget() => Interlocked.Exchange(ref _dwords, 0);

    /// <summary>The summary as stored (for the tests).</summary>
    public readonly int Dwords => Volatile.Read(in _dwords);

    /// <summary>The summary bit of <paramref name="vector"/>'s dword (bits 7:5 of the vector pick it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DwordOf(int vector) => 1 << ((vector >> 5) & 7);
}
