// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>A segment register with its hidden descriptor cache (SDM Vol 3 3.4.3).</summary>
/// <param name="Selector">The visible selector.</param>
/// <param name="Base">The cached base address.</param>
/// <param name="Limit">The cached limit, in bytes (granularity applied).</param>
/// <param name="Attributes">The descriptor's attribute bits in VMCS layout: type (3:0), S (4), DPL (6:5), P (7),
/// AVL (12), L (13), D/B (14), G (15).</param>
public readonly record struct SegmentCache(ushort Selector, ulong Base, uint Limit, ushort Attributes)
{
    /// <summary>The descriptor privilege level.</summary>
    public int Dpl => (Attributes >> 5) & 3;

    /// <summary>The present bit.</summary>
    public bool Present => (Attributes & 0x80) != 0;

    /// <summary>The L bit (64-bit code segment).</summary>
    public bool Long => (Attributes & 0x2000) != 0;

    /// <summary>The D/B bit (32-bit default operand size / stack size).</summary>
    public bool DefaultBig => (Attributes & 0x4000) != 0;

    /// <summary>A real-mode segment: base = selector × 16, 64 KiB limit, read/write data (or, for CS, code) attributes.</summary>
    /// <param name="selector">The selector.</param>
    /// <param name="code">Whether it is CS.</param>
    public static SegmentCache RealMode(ushort selector, bool code) =>
        new(selector, (ulong)selector << 4, 0xFFFF, (ushort)(code ? 0x9B : 0x93));
}
