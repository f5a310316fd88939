// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VirtualApic.Core;

/// <summary>
/// The 1024 32-bit words of a 4 KiB APIC page, by address: what <see cref="ApicPage"/> and the APIC
/// that owns it (a copy of this struct in the <see cref="LocalApic"/> itself) read and write.
/// </summary>
/// <remarks>
/// <para>
/// A register access through it is a load of the address from a line the caller already holds, and
/// the access. Through a page object, every access at a computed offset (an IRR scan, a vector's
/// dword) began with an explicit null check of that object, a load from the page's first line that
/// nothing else needs and that is cold on every delivery to another vCPU (docs/performance.md,
/// "Thirty-fifth session").
/// </para>
/// <para>
/// The words lie in a pinned array (the pinned object heap never moves an object) that this struct
/// also references, and every member ends with <see cref="GC.KeepAlive"/> of that array, which the JIT
/// turns into no code: so the array is reported live from the load of the address to the last access
/// through it, whatever the caller holds, and no access can outlive its memory. Offsets are masked into
/// the page and vectors into their register, so no access leaves it. The library makes a PageWords
/// only in <see cref="ApicPage"/>, over a block it has just allocated.
/// </para>
/// </remarks>
internal readonly unsafe struct PageWords
{
    private readonly byte[] _block;
    private readonly uint* _first;

    /// <summary>The page whose word 0 is at <paramref name="first"/>, 4 KiB inside the pinned <paramref name="block"/>.</summary>
    internal PageWords(byte[] block, byte* first)
    {
        _block = block;
        _first = (uint*)first;
    }

    /// <summary>Where word 0 is (for the layout tests: an address read, no access).</summary>
    internal nint Address => (nint)_first;

    /// <summary>
    /// The block the page lies in: where its data starts, its length and its GC generation (for the
    /// layout tests: the pinned heap reports 2 from the allocation on; no access).
    /// </summary>
    internal (nint Start, int Length, int Generation) Block =>
        ((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_block)), _block.Length, GC.GetGeneration(_block));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Read(int offset)
    {
        uint value = *At(offset);
        GC.KeepAlive(_block);
        return value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(int offset, uint value)
    {
        *At(offset) = value;
        GC.KeepAlive(_block);
    }

    public ulong Read64(int offset) => Read(offset) | ((ulong)Read(offset + 4) << 32);

    public void Write64(int offset, ulong value)
    {
        Write(offset, (uint)value);
        Write(offset + 4, (uint)(value >> 32));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TestVector(int regBase, int vector) => TestKnownVector(regBase, CheckVector(vector));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetVector(int regBase, int vector) => SetKnownVector(regBase, CheckVector(vector));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ClearVector(int regBase, int vector) => ClearKnownVector(regBase, CheckVector(vector));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TestAndSetVectorAtomic(int regBase, int vector)
    {
        uint bit = 1u << vector;
        bool was = (Interlocked.Or(ref *VectorWord(regBase, CheckVector(vector)), bit) & bit) != 0;
        GC.KeepAlive(_block);
        return was;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TestAndClearVectorAtomic(int regBase, int vector)
    {
        uint bit = 1u << vector;
        bool was = (Interlocked.And(ref *VectorWord(regBase, CheckVector(vector)), ~bit) & bit) != 0;
        GC.KeepAlive(_block);
        return was;
    }

    public void OrVectorWordAtomic(int regBase, int index, uint bits)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)index, 7u, nameof(index));
        if (bits != 0)
        {
            Interlocked.Or(ref *At(regBase + (index << 4)), bits);
            GC.KeepAlive(_block);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int HighestVector(int regBase)
    {
        // i counts page dwords (four per register dword), as a native int: the loads index with it
        // directly, with no widening or scaling per step; dword i / 4 holds vectors 8 * i and up.
        uint* first = At(regBase);
        int highest = -1;
        for (nint i = 7 * 4; i >= 0; i -= 4)
        {
            uint w = Volatile.Read(ref first[i]);
            if (w != 0)
            {
                highest = ((int)i << 3) + 31 - BitOperations.LeadingZeroCount(w);
                break;
            }
        }

        GC.KeepAlive(_block);
        return highest;
    }

    public int CountVectors(int regBase)
    {
        int n = 0;
        for (int i = 0; i < 8; i++)
        {
            n += BitOperations.PopCount(Read(regBase + (i << 4)));
        }

        return n;
    }

    public void ClearVectors(int regBase)
    {
        for (int i = 0; i < 8; i++)
        {
            Write(regBase + (i << 4), 0);
        }
    }

    /// <summary>Copies the first <paramref name="destination"/>.Length bytes of the page out.</summary>
    public void CopyTo(Span<byte> destination)
    {
        new ReadOnlySpan<byte>(_first, ApicPage.Size).Slice(0, destination.Length).CopyTo(destination);
        GC.KeepAlive(_block);
    }

    /// <summary>Overwrites the first <paramref name="source"/>.Length bytes of the page.</summary>
    public void CopyFrom(ReadOnlySpan<byte> source)
    {
        source.CopyTo(new Span<byte>(_first, ApicPage.Size));
        GC.KeepAlive(_block);
    }

    /// <summary>Clears the whole page.</summary>
    public void Clear()
    {
        new Span<byte>(_first, ApicPage.Size).Clear();
        GC.KeepAlive(_block);
    }

    /// <summary>
    /// <see cref="TestVector"/> for a vector the caller took from a vector register or checked
    /// itself (0-255), without the range check. Any int stays inside the register.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TestKnownVector(int regBase, int vector)
    {
        bool set = (*VectorWord(regBase, vector) & (1u << vector)) != 0;
        GC.KeepAlive(_block);
        return set;
    }

    /// <summary>The dword of the 256-bit register at <paramref name="regBase"/> that holds <paramref name="vector"/> (see <see cref="TestKnownVector"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadKnownVectorWord(int regBase, int vector)
    {
        uint word = *VectorWord(regBase, vector);
        GC.KeepAlive(_block);
        return word;
    }

    /// <summary><see cref="SetVector"/> for a vector known to be 0-255 (see <see cref="TestKnownVector"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetKnownVector(int regBase, int vector)
    {
        *VectorWord(regBase, vector) |= 1u << vector;
        GC.KeepAlive(_block);
    }

    /// <summary><see cref="ClearVector"/> for a vector known to be 0-255 (see <see cref="TestKnownVector"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ClearKnownVector(int regBase, int vector)
    {
        *VectorWord(regBase, vector) &= ~(1u << vector);
        GC.KeepAlive(_block);
    }

    /// <summary>
    /// Atomically clears a vector known to be 0-255 (see <see cref="TestKnownVector"/>), without
    /// reading back what it was: one locked AND, where a test-and-clear needs a compare-exchange loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ClearKnownVectorAtomic(int regBase, int vector)
    {
        Interlocked.And(ref *VectorWord(regBase, vector), ~(1u << vector));
        GC.KeepAlive(_block);
    }

    // The word at byte offset (4-byte aligned; any int stays in the page).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint* At(int offset) => _first + (((uint)offset & (ApicPage.Size - 4)) >> 2);

    // The dword of the 256-bit register at regBase (a constant at every call site) that holds vector:
    // dword vector / 32, every fourth one of the page. Only the vector's bits 7:5 pick it, so any int
    // stays inside the register.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint* VectorWord(int regBase, int vector) =>
        _first + ((uint)regBase >> 2) + (((uint)vector >> 3) & 0x1C);

    // A vector outside 0-255 would address another register's words: an argument error, not a write.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CheckVector(int vector)
    {
        if ((uint)vector > 255)
        {
            ApicPage.ThrowBadVector(vector);
        }

        return vector;
    }
}
