// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;

namespace VirtualApic.Guest.Cpu;

/// <summary>
/// Guest RAM from physical address 0: one byte array shared by every CPU of a machine. It also keeps,
/// per 4 KiB page, whether some CPU holds decoded instructions of that page and a generation number, so
/// that a store by any CPU (or by the platform through <see cref="Write"/>) to such a page makes every
/// CPU drop its cached decodes of that page before the next instruction it fetches there.
/// </summary>
/// <remarks>
/// Addresses at or above <see cref="Size"/> are not RAM: the CPU sends them to its host as MMIO.
/// Not thread-safe for concurrent writers of the same bytes (the round-robin scheduler runs CPUs on one thread).
/// </remarks>
public sealed class PhysicalMemory
{
    /// <summary>The page size the code cache and the TLB work in.</summary>
    public const int PageSize = 4096;

    private readonly byte[] _ram;
    private readonly byte[] _codePage;
    private readonly uint[] _generation;

    /// <summary>Creates zeroed RAM.</summary>
    /// <param name="size">Size in bytes: a positive multiple of 4 KiB, at most <see cref="Array.MaxLength"/>.</param>
    public PhysicalMemory(long size)
    {
        if (size <= 0 || size % PageSize != 0 || size > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "RAM size must be a positive multiple of 4 KiB that fits in one array.");
        }

        // Pinned, so that the huge-page advice keeps naming these bytes.
        _ram = GC.AllocateArray<byte>((int)size, pinned: true);
        HugePageAdvice.Advise(_ram);
        _codePage = new byte[size / PageSize];
        _generation = new uint[size / PageSize];
    }

    /// <summary>RAM size in bytes.</summary>
    public long Size => _ram.LongLength;

    /// <summary>The RAM bytes (the loader copies images here; the CPUs read and write them directly).</summary>
    public Span<byte> Bytes => _ram;

    internal byte[] Ram => _ram;

    internal uint[] Generation => _generation;

    internal byte[] CodePages => _codePage;

    /// <summary>Whether [<paramref name="address"/>, +<paramref name="length"/>) lies entirely in RAM.</summary>
    /// <param name="address">A physical address.</param>
    /// <param name="length">A length in bytes.</param>
    public bool Contains(ulong address, long length) =>
        length >= 0 && address <= (ulong)_ram.LongLength && (ulong)length <= (ulong)_ram.LongLength - address;

    /// <summary>Copies bytes into RAM, invalidating decoded code in the pages written.</summary>
    /// <param name="address">The physical address.</param>
    /// <param name="data">The bytes.</param>
    public void Write(ulong address, ReadOnlySpan<byte> data)
    {
        if (!Contains(address, data.Length))
        {
            throw new ArgumentOutOfRangeException(nameof(address), $"[{address:X}, +{data.Length:X}) is not inside RAM (size {Size:X}).");
        }

        data.CopyTo(_ram.AsSpan((int)address));
        if (data.Length > 0)
        {
            for (ulong p = address / PageSize; p <= (address + (ulong)data.Length - 1) / PageSize; p++)
            {
                NoteStore(p);
            }
        }
    }

    /// <summary>Copies bytes out of RAM.</summary>
    /// <param name="address">The physical address.</param>
    /// <param name="destination">Where to copy.</param>
    public void Read(ulong address, Span<byte> destination)
    {
        if (!Contains(address, destination.Length))
        {
            throw new ArgumentOutOfRangeException(nameof(address), $"[{address:X}, +{destination.Length:X}) is not inside RAM (size {Size:X}).");
        }

        _ram.AsSpan((int)address, destination.Length).CopyTo(destination);
    }

    /// <summary>Reads a little-endian 32-bit value from RAM.</summary>
    /// <param name="address">The physical address.</param>
    public uint ReadUInt32(ulong address)
    {
        Span<byte> b = stackalloc byte[4];
        Read(address, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    /// <summary>Reads a little-endian 64-bit value from RAM.</summary>
    /// <param name="address">The physical address.</param>
    public ulong ReadUInt64(ulong address)
    {
        Span<byte> b = stackalloc byte[8];
        Read(address, b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    /// <summary>Writes a little-endian 32-bit value to RAM.</summary>
    /// <param name="address">The physical address.</param>
    /// <param name="value">The value.</param>
    public void WriteUInt32(ulong address, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Write(address, b);
    }

    /// <summary>Writes a little-endian 64-bit value to RAM.</summary>
    /// <param name="address">The physical address.</param>
    /// <param name="value">The value.</param>
    public void WriteUInt64(ulong address, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Write(address, b);
    }

    /// <summary>A CPU decoded code in this page: stores to it must now bump its generation.</summary>
    internal void MarkCode(ulong page) => _codePage[page] = 1;

    /// <summary>A store hit page <paramref name="page"/>: if some CPU has decoded code there, invalidate it.</summary>
    internal void NoteStore(ulong page)
    {
        if (_codePage[page] != 0)
        {
            _codePage[page] = 0;
            _generation[page]++;
        }
    }
}
