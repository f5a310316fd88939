// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>The decoded instructions of one physical 4 KiB page for one code size, indexed by the offset of
/// their first byte. Valid while <see cref="Generation"/> equals the page's generation in <see cref="PhysicalMemory"/>.</summary>
internal sealed class CodePage
{
    public CodePage(ulong physicalPage, int bitness, uint generation)
    {
        PhysicalPage = physicalPage;
        Bitness = bitness;
        Generation = generation;
    }

    public ulong PhysicalPage { get; }

    public int Bitness { get; }

    public uint Generation { get; set; }

    /// <summary>Slot per byte offset: 0 = not decoded, otherwise an index into <see cref="Ops"/>.</summary>
    public ushort[] Slot { get; } = new ushort[PhysicalMemory.PageSize];

    public Decoded[] Ops { get; set; } = new Decoded[64];

    /// <summary>Next free slot in <see cref="Ops"/> (slot 0 is unused).</summary>
    public int Count { get; set; } = 1;

    /// <summary>Forgets every decode (the page was written).</summary>
    public void Clear(uint generation)
    {
        Array.Clear(Slot);
        Count = 1;
        Generation = generation;
    }
}
