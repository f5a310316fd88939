// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

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
public sealed unsafe class ApicPage
{
    /// <summary>The page size in bytes.</summary>
    public const int Size = 4096;

    // The words live in a pinned array (the pinned object heap never moves an object): a page's
    // address is fixed for its lifetime, so its APIC reads the words through an address it holds
    // itself (PageWords, which also keeps the array alive). Every page starts on a cache line, so
    // each register's 16-byte slots fall into lines as in the hardware's page (IRR, ISR and TMR
    // two lines each).
    private readonly PageWords _words;

    /// <summary>Creates a zeroed page of its own.</summary>
    public ApicPage()
    {
        byte[] block = Reserve(Size, out byte* first);
        _words = new PageWords(block, first);
    }

    private ApicPage(byte[] block, byte* first) => _words = new PageWords(block, first);

    private const int CacheLine = 64;

    // A VM's pages lie one line more than a page apart: at a stride of exactly 4 KiB the same
    // register of every page maps to the same cache sets, and a walk over all targets (a broadcast
    // to 4095 vCPUs) evicts its own lines (docs/performance.md, "Thirty-fifth session").
    private const int BlockStride = Size + CacheLine;

    /// <summary>The words, by address (see <see cref="PageWords"/>).</summary>
    internal PageWords Words => _words;

    /// <summary><paramref name="count"/> zeroed pages side by side in one pinned block: a VM's pages.</summary>
    internal static ApicPage[] AllocateBlock(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var pages = new ApicPage[count];
        if (count == 0)
        {
            return pages;
        }

        byte[] block = Reserve(checked(count * BlockStride), out byte* first);
        for (int i = 0; i < count; i++)
        {
            pages[i] = new ApicPage(block, first + ((nint)i * BlockStride));
        }

        return pages;
    }

    // span zeroed bytes at *first in a new pinned block, first on a cache line. A span of 2 MiB or
    // more (a VM of 505 vCPUs and up) starts on a 2 MiB boundary instead, and its whole 2 MiB pages
    // are advised onto huge pages before they are first touched: a broadcast to 4095 targets walks
    // 4096 register pages, twice what the L2 TLB of a Zen 2 maps in 4 KiB pages (take + EOI per
    // target 58.3 -> 52.5 ns, delivery alone 35.0 -> 26.0; docs/performance.md, "Thirty-sixth
    // session"). The tail past the last whole huge page stays on 4 KiB pages, so the VM's resident
    // memory does not grow; the alignment's slack is address space never touched. The block is
    // allocated uninitialized, so that the GC does not fault the pages in before the advice.
    private static byte[] Reserve(int span, out byte* first)
    {
        bool huge = span >= HugePageAdvice.Size;
        int align = huge ? HugePageAdvice.Size : CacheLine;
        byte[] block = GC.AllocateUninitializedArray<byte>(checked(span + align), pinned: true);
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(block));
        first = (byte*)((start + align - 1) & ~(nint)(align - 1));
        if (huge)
        {
            HugePageAdvice.Advise((nint)first, span);
        }

        new Span<byte>(first, span).Clear();
        return block;
    }

    /// <summary>Reads the 32-bit word at byte <paramref name="offset"/> (4-byte aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Read(int offset) => _words.Read(offset);

    /// <summary>Writes the 32-bit word at byte <paramref name="offset"/> (4-byte aligned).</summary>
    public void Write(int offset, uint value)
    {
        int tmr = value != 0 ? TmrDwordAt(offset) : 0;
        MarkTmr(tmr);
        _words.Write(offset, value);
        MarkTmr(tmr);
    }

    /// <summary>Reads two consecutive words as one 64-bit value (the unsplit x2APIC ICR at 0x300).</summary>
    public ulong Read64(int offset) => _words.Read64(offset);

    /// <summary>Writes a 64-bit value as two consecutive words.</summary>
    public void Write64(int offset, ulong value)
    {
        int tmr = ((uint)value != 0 ? TmrDwordAt(offset) : 0) | ((value >> 32) != 0 ? TmrDwordAt(offset + 4) : 0);
        MarkTmr(tmr);
        _words.Write64(offset, value);
        MarkTmr(tmr);
    }

    /// <summary>Whether vector <paramref name="vector"/> is set in the 256-bit register at <paramref name="regBase"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regBase"/> is not a <see cref="VectorRegister"/>, or <paramref name="vector"/> is not 0-255.</exception>
    public bool TestVector(int regBase, int vector) => _words.TestVector(CheckRegister(regBase), vector);

    /// <summary>Sets a vector bit (owner thread only).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regBase"/> is not a <see cref="VectorRegister"/>, or <paramref name="vector"/> is not 0-255.</exception>
    public void SetVector(int regBase, int vector)
    {
        int tmr = TmrDwordOf(CheckRegister(regBase), vector);
        MarkTmr(tmr);
        _words.SetVector(regBase, vector);
        MarkTmr(tmr);
    }

    /// <summary>Clears a vector bit (owner thread only).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regBase"/> is not a <see cref="VectorRegister"/>, or <paramref name="vector"/> is not 0-255.</exception>
    public void ClearVector(int regBase, int vector) => _words.ClearVector(CheckRegister(regBase), vector);

    /// <summary>Atomically sets a vector bit; returns whether it was already set.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regBase"/> is not a <see cref="VectorRegister"/>, or <paramref name="vector"/> is not 0-255.</exception>
    public bool TestAndSetVectorAtomic(int regBase, int vector)
    {
        int tmr = TmrDwordOf(CheckRegister(regBase), vector);
        MarkTmr(tmr);
        bool was = _words.TestAndSetVectorAtomic(regBase, vector);
        MarkTmr(tmr);
        return was;
    }

    /// <summary>Atomically clears a vector bit; returns whether it was set.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regBase"/> is not a <see cref="VectorRegister"/>, or <paramref name="vector"/> is not 0-255.</exception>
    public bool TestAndClearVectorAtomic(int regBase, int vector) => _words.TestAndClearVectorAtomic(CheckRegister(regBase), vector);

    /// <summary>Atomically ORs 32 vector bits into dword <paramref name="index"/> (0-7) of a 256-bit register.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regBase"/> is not a <see cref="VectorRegister"/>, or <paramref name="index"/> is not 0-7.</exception>
    public void OrVectorWordAtomic(int regBase, int index, uint bits)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)index, 7u, nameof(index));
        int tmr = bits != 0 ? TmrDwordAt(CheckRegister(regBase) + (index << 4)) : 0;
        MarkTmr(tmr);
        _words.OrVectorWordAtomic(regBase, index, bits);
        MarkTmr(tmr);
    }

    /// <summary>The highest vector set in the 256-bit register at <paramref name="regBase"/>, or -1.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regBase"/> is not a <see cref="VectorRegister"/>.</exception>
    public int HighestVector(int regBase) => _words.HighestVector(CheckRegister(regBase));

    /// <summary>Number of vectors set in the 256-bit register at <paramref name="regBase"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regBase"/> is not a <see cref="VectorRegister"/>.</exception>
    public int CountVectors(int regBase) => _words.CountVectors(CheckRegister(regBase));

    /// <summary>Clears the 256-bit register at <paramref name="regBase"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regBase"/> is not a <see cref="VectorRegister"/>.</exception>
    public void ClearVectors(int regBase) => _words.ClearVectors(CheckRegister(regBase));

    /// <summary>Copies the first <paramref name="destination"/>.Length bytes of the page out.</summary>
    public void CopyTo(Span<byte> destination) => _words.CopyTo(destination);

    /// <summary>Overwrites the first <paramref name="source"/>.Length bytes of the page.</summary>
    public void CopyFrom(ReadOnlySpan<byte> source)
    {
        int tmr = 0;
        for (int i = 0; i < 8; i++)
        {
            int at = ApicOffset.Tmr + (i << 4);
            if (source.Length > at && source.Slice(at, Math.Min(4, source.Length - at)).ContainsAnyExcept((byte)0))
            {
                tmr |= 1 << i;
            }
        }

        MarkTmr(tmr);
        _words.CopyFrom(source);
        MarkTmr(tmr);
    }

    /// <summary>Clears the whole page.</summary>
    public void Clear() => _words.Clear();

    // The APIC this page is the register page of, told of every TMR bit set through this class's
    // public members (its TmrSummary); null for a page of no APIC.
    private LocalApic? _apic;

    /// <summary>Makes this the register page of <paramref name="apic"/> (its constructor); a page serves one APIC.</summary>
    internal void AttachTo(LocalApic apic)
    {
        if (_apic is not null)
        {
            throw new InvalidOperationException($"this register page already belongs to the APIC of vCPU {_apic.VcpuId}");
        }

        _apic = apic;
    }

    // Before and after a public write that may set TMR bits (the summary's protocol, see TmrSummary).
    private void MarkTmr(int dwords)
    {
        if (dwords != 0)
        {
            _apic?.MarkTmrDwords(dwords);
        }
    }

    // The summary bit of the TMR dword at byte offset (masked into the page as PageWords does), or 0
    // when the offset is no TMR dword.
    private static int TmrDwordAt(int offset)
    {
        int rel = (offset & (Size - 4)) - ApicOffset.Tmr;
        return (uint)rel < 0x80 && (rel & 0xF) == 0 ? 1 << (rel >> 4) : 0;
    }

    private static int TmrDwordOf(int regBase, int vector) =>
        regBase == ApicOffset.Tmr ? TmrSummary.DwordOf(vector) : 0;

    // The vector helpers take one of the three 256-bit registers: any other base would reach past
    // the register, and near the end of the page past the page itself (SetVector(0xFF0, 0xFF)
    // wrote 0x60 bytes past its end).
    private static int CheckRegister(int regBase)
    {
        if (regBase is not (ApicOffset.Irr or ApicOffset.Isr or ApicOffset.Tmr))
        {
            ThrowBadRegister(regBase);
        }

        return regBase;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadRegister(int regBase) =>
        throw new ArgumentOutOfRangeException(nameof(regBase), regBase, "a 256-bit vector register is IRR (0x200), ISR (0x100) or TMR (0x180): see VectorRegister");

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
