// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>
/// An interrupt command register value (SDM 11.6.1, figure 11-12; x2APIC: figure 11-28). In xAPIC
/// mode the destination comes from ICR2 bits 31:24; in x2APIC mode it is bits 63:32.
/// </summary>
/// <param name="Raw">The 64-bit value: low 32 bits from ICR, high 32 bits from ICR2 (or the x2APIC ICR).</param>
public readonly record struct Icr(ulong Raw)
{
    /// <summary>Delivery status (send pending), bit 12.</summary>
    public const uint BusyBit = 1u << 12;

    /// <summary>
    /// Bits that must be zero in an x2APIC ICR write: 31:20, 17:16 and 13 (SDM 11.12.9; KVM
    /// <c>X2APIC_ICR_RESERVED_BITS</c>, commit 71bf395a276f). BUSY (bit 12) is tolerated and cleared.
    /// </summary>
    public const ulong X2ApicReservedBits = 0xFFF0_0000ul | (3ul << 16) | (1ul << 13);

    // Delivery mode (10:8), destination mode (11) and shorthand (19:18): all zero in a fixed,
    // physical IPI with no shorthand, the x2APIC ICR fastpath's shape (LocalApic.WriteX2ApicIcr).
    internal const ulong RoutingBits = (7ul << 8) | (1ul << 11) | (3ul << 18);

    /// <summary>The destination as a sender in the given mode reads it: bits 63:32 in x2APIC mode, bits 63:56 in xAPIC mode.</summary>
    internal uint DestinationFor(bool x2Apic) => x2Apic ? X2ApicDestination : XApicDestination;

    /// <summary>The vector, bits 7:0.</summary>
    public byte Vector => (byte)Raw;

    /// <summary>The delivery mode, bits 10:8.</summary>
    public DeliveryMode DeliveryMode => (DeliveryMode)((Raw >> 8) & 7);

    /// <summary>The destination mode, bit 11.</summary>
    public DestinationMode DestinationMode => (DestinationMode)((Raw >> 11) & 1);

    /// <summary>The delivery status bit, bit 12.</summary>
    public bool Busy => (Raw & BusyBit) != 0;

    /// <summary>The level bit, bit 14 (1 = assert).</summary>
    public bool Level => (Raw & (1u << 14)) != 0;

    /// <summary>The trigger mode, bit 15.</summary>
    public TriggerMode TriggerMode => (TriggerMode)((Raw >> 15) & 1);

    /// <summary>The destination shorthand, bits 19:18.</summary>
    public DestinationShorthand Shorthand => (DestinationShorthand)((Raw >> 18) & 3);

    /// <summary>The low 32 bits, as stored at offset 0x300.</summary>
    public uint Low => (uint)Raw;

    /// <summary>The high 32 bits, as stored at offset 0x310.</summary>
    public uint High => (uint)(Raw >> 32);

    /// <summary>The destination in x2APIC form, bits 63:32.</summary>
    public uint X2ApicDestination => High;

    /// <summary>The destination in xAPIC form, ICR2 bits 31:24.</summary>
    public uint XApicDestination => High >> 24;

    /// <summary>Builds an ICR from its fields.</summary>
    public static Icr Create(
        byte vector,
        DeliveryMode mode = DeliveryMode.Fixed,
        DestinationMode destinationMode = DestinationMode.Physical,
        DestinationShorthand shorthand = DestinationShorthand.None,
        bool level = true,
        TriggerMode trigger = TriggerMode.Edge,
        uint destinationHigh = 0) =>
        new(vector
            | ((ulong)mode << 8)
            | ((ulong)destinationMode << 11)
            | (level ? 1ul << 14 : 0)
            | ((ulong)trigger << 15)
            | ((ulong)shorthand << 18)
            | ((ulong)destinationHigh << 32));
}
