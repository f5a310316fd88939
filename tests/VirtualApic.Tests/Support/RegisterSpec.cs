// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;

namespace VirtualApic.Tests.Support;

/// <summary>
/// The register map as kvm-reference.md section 1.2/1.3 states it, written out independently of
/// <see cref="ApicRegisterTable"/> so that the tests check the code against the reference, not
/// against itself.
/// </summary>
internal static class RegisterSpec
{
    /// <summary>Readable in both modes (kvm_lapic_readable_reg_mask, "always readable").</summary>
    public static readonly int[] AlwaysReadable =
    [
        0x20, 0x30, 0x80, 0xA0, 0xD0, 0xF0,
        0x100, 0x110, 0x120, 0x130, 0x140, 0x150, 0x160, 0x170,
        0x180, 0x190, 0x1A0, 0x1B0, 0x1C0, 0x1D0, 0x1E0, 0x1F0,
        0x200, 0x210, 0x220, 0x230, 0x240, 0x250, 0x260, 0x270,
        0x280, 0x300, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x390, 0x3E0,
    ];

    /// <summary>Readable only in xAPIC mode: APR, DFR, ICR2.</summary>
    public static readonly int[] XApicOnlyReadable = [0x90, 0xE0, 0x310];

    /// <summary>LVT CMCI: readable and writable only when CMCI is supported.</summary>
    public const int Cmci = 0x2F0;

    public static bool Readable(int offset, bool x2Apic, bool cmci) =>
        Array.IndexOf(AlwaysReadable, offset) >= 0
        || (!x2Apic && Array.IndexOf(XApicOnlyReadable, offset) >= 0)
        || (offset == Cmci && cmci);

    /// <summary>
    /// Whether WRMSR of 0 to the x2APIC register at <paramref name="offset"/> succeeds (section 1.3:
    /// ID, LDR read-only; APR, DFR, ICR2 absent; LVR, PPR, ISR, TMR, IRR, TMCCT read-only; reserved slots #GP).
    /// </summary>
    public static bool X2ApicWritable(int offset, bool cmci) => offset switch
    {
        0x80 or 0xB0 or 0xF0 or 0x280 or 0x300 => true,
        >= 0x320 and <= 0x380 => true,
        0x3E0 or 0x3F0 => true,
        Cmci => cmci,
        _ => false,
    };

    /// <summary>Whether an xAPIC MMIO write to the register has an effect (section 1.3, xAPIC column).</summary>
    public static bool XApicWritable(int offset, bool cmci) => offset switch
    {
        0x20 or 0x80 or 0xB0 or 0xD0 or 0xE0 or 0xF0 or 0x280 or 0x300 or 0x310 => true,
        >= 0x320 and <= 0x380 => true,
        0x3E0 => true,
        Cmci => cmci,
        _ => false,
    };

    /// <summary>
    /// The value a register reads back after a write of <c>v</c> in xAPIC mode (kvm profile, APIC
    /// software-enabled): <c>(v &amp; And) | Or</c>. Section 1.3 of kvm-reference.md.
    /// </summary>
    /// <remarks>X2Apic tells whether the same rule holds through WRMSR/RDMSR in x2APIC mode.</remarks>
    public static readonly (int Offset, string Name, uint And, uint Or, bool X2Apic)[] WriteMasks =
    [
        (0x20, "ID", 0xFF00_0000, 0, false),
        (0x80, "TPR", 0xFF, 0, true),
        (0xD0, "LDR", 0xFF00_0000, 0, false),
        (0xE0, "DFR", 0xF000_0000, 0x0FFF_FFFF, false),
        (0xF0, "SVR", 0x3FF, 0, true),
        (0x300, "ICR", ~(1u << 12), 0, false),
        (0x310, "ICR2", 0xFF00_0000, 0, false),
        (0x320, "LVT_TIMER", 0x0007_10FF, 0, true),
        (0x330, "LVT_THERMAL", 0x0001_17FF, 0, true),
        (0x340, "LVT_PMC", 0x0001_17FF, 0, true),
        (0x350, "LVT_LINT0", 0x0001_F7FF, 0, true),
        (0x360, "LVT_LINT1", 0x0001_F7FF, 0, true),
        (0x370, "LVT_ERROR", 0x0001_10FF, 0, true),
        (0x380, "TMICT", 0xFFFF_FFFF, 0, true),
        (0x3E0, "TDCR", 0xB, 0, true),
    ];

    /// <summary>Registers whose writes are always dropped (MMIO) or #GP (MSR): LVR, APR, PPR, ISR, TMR, IRR, TMCCT.</summary>
    public static readonly int[] ReadOnly =
    [
        0x30, 0x90, 0xA0,
        0x100, 0x110, 0x120, 0x130, 0x140, 0x150, 0x160, 0x170,
        0x180, 0x190, 0x1A0, 0x1B0, 0x1C0, 0x1D0, 0x1E0, 0x1F0,
        0x200, 0x210, 0x220, 0x230, 0x240, 0x250, 0x260, 0x270,
        0x390,
    ];

    /// <summary>Write patterns for the mask table.</summary>
    public static readonly uint[] Patterns = [0xFFFF_FFFF, 0, 0x5A5A_5A5A, 0xA5A5_A5A5, 0x0001_0000];

    public static string Name(int offset) => ApicRegisterNames.NameOf(offset) ?? $"reserved 0x{offset:x3}";
}
