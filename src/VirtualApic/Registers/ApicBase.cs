// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>An IA32_APIC_BASE (MSR 0x1B) value (SDM 11.4.4, figure 11-5; 11.12.1).</summary>
/// <param name="Raw">The 64-bit MSR value.</param>
public readonly record struct ApicBase(ulong Raw)
{
    /// <summary>The MSR number.</summary>
    public const uint Msr = 0x1B;
    /// <summary>Bootstrap processor flag, bit 8.</summary>
    public const ulong BspBit = 1ul << 8;
    /// <summary>x2APIC enable (EXTD), bit 10.</summary>
    public const ulong ExtdBit = 1ul << 10;
    /// <summary>APIC global enable (EN), bit 11.</summary>
    public const ulong EnableBit = 1ul << 11;
    /// <summary>The architectural default base address.</summary>
    public const ulong DefaultAddress = 0xFEE0_0000;
    /// <summary>Bits 7:0 and 9, reserved in every configuration.</summary>
    public const ulong AlwaysReservedBits = 0x2FF;

    /// <summary>The BSP flag.</summary>
    public bool IsBsp => (Raw & BspBit) != 0;

    /// <summary>The mode that EN and EXTD select.</summary>
    public ApicMode Mode => (ApicMode)((((Raw & EnableBit) != 0) ? 2 : 0) | (((Raw & ExtdBit) != 0) ? 1 : 0));

    /// <summary>The physical base address of the xAPIC MMIO window (bits MAXPHYADDR-1:12).</summary>
    public ulong Address => Raw & ~0xFFFul;

    /// <summary>The bits that are reserved for a guest with the given physical address width and CPUID.</summary>
    public static ulong ReservedBits(int maxPhysAddr, bool x2ApicSupported) =>
        AlwaysReservedBits
        | (maxPhysAddr >= 64 ? 0 : ~((1ul << maxPhysAddr) - 1))
        | (x2ApicSupported ? 0 : ExtdBit);
}
