// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtualApic.Registers;

namespace VirtualApic.Core;

/// <summary>
/// The 4 KiB local APIC register page in the architectural layout: the single source of truth for
/// a vCPU's APIC state. It is also what a hardware assist calls the AVIC backing page or the APICv
/// virtual-APIC page, so "hardware" and emulation read and write the same words.
/// </summary>
/// <remarks>
/// Each 32-bit register sits in the low dword of a 16-byte slot. The 256-bit IRR, ISR and TMR are
/// eight such dwords each (vector <c>v</c> is bit <c>v % 32</c> of the dword at
/// <c>base + 0x10 * (v / 32)</c>). Bits set by other threads (IRR, TMR) use interlocked operations;
/// everything else belongs to the owning vCPU thread.
/// </remarks>
public sealed class ApicPage
{
    /// <summary>The page size in bytes.</summary>
    public const int Size = 4096;

    // The words live inside this object, not in an array beside it: every register access is one
    // load of the page reference and an offset, with no array reference to load and null-check.
    private PageWords _words;

    /// <summary>Reads the 32-bit word at byte <paramref name="offset"/> (4-byte aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Read(int offset) => Word(offset);

    /// <summary>Writes the 32-bit word at byte <paramref name="offset"/> (4-byte aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(int offset, uint value) => Word(offset) = value;

    /// <summary>Reads two consecutive words as one 64-bit value (the unsplit x2APIC ICR at 0x300).</summary>
    public ulong Read64(int offset) => Read(offset) | ((ulong)Read(offset + 4) << 32);

    /// <summary>Writes a 64-bit value as two consecutive words.</summary>
    public void Write64(int offset, ulong value)
    {
        Write(offset, (uint)value);
        Write(offset + 4, (uint)(value >> 32));
    }

    /// <summary>Whether vector <paramref name="vector"/> is set in the 256-bit register at <paramref name="regBase"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TestVector(int regBase, int vector) => (VectorWord(regBase, vector) & (1u << vector)) != 0;

    /// <summary>Sets a vector bit (owner thread only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetVector(int regBase, int vector) => VectorWord(regBase, vector) |= 1u << vector;

    /// <summary>Clears a vector bit (owner thread only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ClearVector(int regBase, int vector) => VectorWord(regBase, vector) &= ~(1u << vector);

    /// <summary>Atomically sets a vector bit; returns whether it was already set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TestAndSetVectorAtomic(int regBase, int vector)
    {
        uint bit = 1u << vector;
        return (Interlocked.Or(ref VectorWord(regBase, vector), bit) & bit) != 0;
    }

    /// <summary>Atomically clears a vector bit; returns whether it was set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TestAndClearVectorAtomic(int regBase, int vector)
    {
        uint bit = 1u << vector;
        return (Interlocked.And(ref VectorWord(regBase, vector), ~bit) & bit) != 0;
    }

    /// <summary>Atomically ORs 32 vector bits into dword <paramref name="index"/> (0-7) of a 256-bit register.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not 0-7.</exception>
    public void OrVectorWordAtomic(int regBase, int index, uint bits)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)index, 7u, nameof(index));
        if (bits != 0)
        {
            Interlocked.Or(ref Word(regBase + (index << 4)), bits);
        }
    }

    /// <summary>The highest vector set in the 256-bit register at <paramref name="regBase"/>, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int HighestVector(int regBase)
    {
        // i counts page dwords (four per register dword), as a native int: the loads index with it
        // directly, with no widening or scaling per step; dword i / 4 holds vectors 8 * i and up.
        ref uint first = ref Word(regBase);
        for (nint i = 7 * 4; i >= 0; i -= 4)
        {
            uint w = Volatile.Read(ref Unsafe.Add(ref first, i));
            if (w != 0)
            {
                return ((int)i << 3) + 31 - BitOperations.LeadingZeroCount(w);
            }
        }

        return -1;
    }

    /// <summary>Number of vectors set in the 256-bit register at <paramref name="regBase"/>.</summary>
    public int CountVectors(int regBase)
    {
        int n = 0;
        for (int i = 0; i < 8; i++)
        {
            n += BitOperations.PopCount(Read(regBase + (i << 4)));
        }

        return n;
    }

    /// <summary>Clears the 256-bit register at <paramref name="regBase"/>.</summary>
    public void ClearVectors(int regBase)
    {
        for (int i = 0; i < 8; i++)
        {
            Write(regBase + (i << 4), 0);
        }
    }

    /// <summary>Copies the first <paramref name="destination"/>.Length bytes of the page out.</summary>
    public void CopyTo(Span<byte> destination) =>
        MemoryMarshal.AsBytes((Span<uint>)_words).Slice(0, destination.Length).CopyTo(destination);

    /// <summary>Overwrites the first <paramref name="source"/>.Length bytes of the page.</summary>
    public void CopyFrom(ReadOnlySpan<byte> source) =>
        source.CopyTo(MemoryMarshal.AsBytes((Span<uint>)_words));

    /// <summary>Clears the whole page.</summary>
    public void Clear() => ((Span<uint>)_words).Clear();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref uint Word(int offset) =>
        ref Unsafe.Add(ref Unsafe.As<PageWords, uint>(ref _words), (nint)((uint)offset & (Size - 4)) >> 2);

    /// <summary>
    /// <see cref="TestVector"/> for a vector the caller took from a vector register or checked
    /// itself (0-255), without the range check. Any int stays inside the register.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TestKnownVector(int regBase, int vector) => (KnownVectorWord(regBase, vector) & (1u << vector)) != 0;

    /// <summary>The dword of the 256-bit register at <paramref name="regBase"/> that holds <paramref name="vector"/> (see <see cref="TestKnownVector"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint ReadKnownVectorWord(int regBase, int vector) => KnownVectorWord(regBase, vector);

    /// <summary><see cref="SetVector"/> for a vector known to be 0-255 (see <see cref="TestKnownVector"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetKnownVector(int regBase, int vector) => KnownVectorWord(regBase, vector) |= 1u << vector;

    /// <summary><see cref="ClearVector"/> for a vector known to be 0-255 (see <see cref="TestKnownVector"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void ClearKnownVector(int regBase, int vector) => KnownVectorWord(regBase, vector) &= ~(1u << vector);

    /// <summary>
    /// Atomically clears a vector known to be 0-255 (see <see cref="TestKnownVector"/>), without
    /// reading back what it was: one locked AND, where a test-and-clear needs a compare-exchange loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void ClearKnownVectorAtomic(int regBase, int vector) => Interlocked.And(ref KnownVectorWord(regBase, vector), ~(1u << vector));

    // A vector outside 0-255 would address another register's words: an argument error, not a write.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref uint VectorWord(int regBase, int vector)
    {
        if ((uint)vector > 255)
        {
            ThrowBadVector(vector);
        }

        return ref KnownVectorWord(regBase, vector);
    }

    // The dword of the 256-bit register at regBase (a constant at every call site) that holds vector:
    // dword vector / 32, every fourth one of the page. Only the vector's bits 7:5 pick it, so any int
    // stays inside the register, and the address is the register's plus a scaled index. Written
    // without Word(): one inline level fewer, which the JIT's inlining budget needs in large loops
    // (a whole IPI inlined into one), where a nested call to Word() stayed a call.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref uint KnownVectorWord(int regBase, int vector) =>
        ref Unsafe.Add(
            ref Unsafe.As<PageWords, uint>(ref _words),
            (nint)((uint)regBase >> 2) + (nint)(((uint)vector >> 3) & 0x1C));

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowBadVector(int vector) =>
        throw new ArgumentOutOfRangeException(nameof(vector), vector, "a vector is 0-255");
}

/// <summary>Offsets of the three 256-bit vector registers, for <see cref="ApicPage"/> vector helpers.</summary>
public static class VectorRegister
{
    /// <summary>Interrupt request register.</summary>
    public const int Irr = ApicOffset.Irr;
    /// <summary>In-service register.</summary>
    public const int Isr = ApicOffset.Isr;
    /// <summary>Trigger mode register.</summary>
    public const int Tmr = ApicOffset.Tmr;
}
