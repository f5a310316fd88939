// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>
/// One IOAPIC redirection table entry, RTE (82093AA datasheet section 3.2.4; KVM
/// <c>union kvm_ioapic_redirect_entry</c> in arch/x86/kvm/ioapic.h). The low half is IOAPIC register
/// 0x10+2n and the high half 0x11+2n.
/// </summary>
/// <remarks>
/// Bits 55:17 are reserved in the datasheet. KVM stores them as written and gives them no meaning, and so
/// does this model. That includes bits 55:48 (<see cref="ExtendedDestination"/>): a Linux guest
/// told about the extended destination ID puts destination bits 14:8 in bits 55:49, but KVM's in-kernel
/// IOAPIC delivers to the 8-bit <see cref="Destination"/> only.
/// </remarks>
/// <param name="Raw">The 64-bit entry: low 32 bits from register 0x10+2n, high 32 bits from 0x11+2n.</param>
public readonly record struct RedirectionEntry(ulong Raw)
{
    /// <summary>Delivery status, bit 12: read-only; KVM never sets it (delivery is instantaneous).</summary>
    public const ulong DeliveryStatusBit = 1ul << 12;

    /// <summary>Interrupt input pin polarity, bit 13: 1 = active low.</summary>
    public const ulong PolarityBit = 1ul << 13;

    /// <summary>Remote IRR, bit 14: read-only; set when a level-triggered interrupt is delivered, cleared by its EOI.</summary>
    public const ulong RemoteIrrBit = 1ul << 14;

    /// <summary>Trigger mode, bit 15: 1 = level.</summary>
    public const ulong LevelBit = 1ul << 15;

    /// <summary>Interrupt mask, bit 16.</summary>
    public const ulong MaskedBit = 1ul << 16;

    /// <summary>The bits a guest write cannot change: delivery status and Remote IRR.</summary>
    public const ulong ReadOnlyBits = DeliveryStatusBit | RemoteIrrBit;

    /// <summary>An entry after reset: masked, every other bit 0 (KVM zero-allocates the table, then masks it).</summary>
    public const ulong ResetValue = MaskedBit;

    /// <summary>The vector, bits 7:0.</summary>
    public byte Vector => (byte)Raw;

    /// <summary>The delivery mode, bits 10:8 (000 fixed, 001 lowest priority, 010 SMI, 100 NMI, 101 INIT, 111 ExtINT).</summary>
    public DeliveryMode DeliveryMode => (DeliveryMode)((Raw >> 8) & 7);

    /// <summary>The destination mode, bit 11.</summary>
    public DestinationMode DestinationMode => (DestinationMode)((Raw >> 11) & 1);

    /// <summary>The delivery status bit, bit 12.</summary>
    public bool DeliveryStatus => (Raw & DeliveryStatusBit) != 0;

    /// <summary>The polarity bit, bit 13: true when the input is active low.</summary>
    public bool ActiveLow => (Raw & PolarityBit) != 0;

    /// <summary>The Remote IRR bit, bit 14.</summary>
    public bool RemoteIrr => (Raw & RemoteIrrBit) != 0;

    /// <summary>The trigger mode, bit 15.</summary>
    public TriggerMode TriggerMode => (TriggerMode)((Raw >> 15) & 1);

    /// <summary>The mask bit, bit 16.</summary>
    public bool Masked => (Raw & MaskedBit) != 0;

    /// <summary>Bits 55:48, stored as written and not interpreted (see the type's remarks).</summary>
    public byte ExtendedDestination => (byte)(Raw >> 48);

    /// <summary>
    /// The destination an IOAPIC sends: bits 63:56, and with <paramref name="extended"/> bits 55:49 as
    /// destination bits 14:8 (Linux <c>virt_destid_8_14</c>; QEMU's IOAPIC shifts bits 63:48 into MSI
    /// address bits 19:4, which the extended destination ID reads as a 15-bit ID).
    /// </summary>
    public uint DestinationId(bool extended) => extended ? Destination | ((uint)(Raw >> 49) & 0x7F) << 8 : Destination;

    /// <summary>The destination, bits 63:56: an APIC ID (physical) or a logical mask (logical).</summary>
    public byte Destination => (byte)(Raw >> 56);

    /// <summary>The low 32 bits, IOAPIC register 0x10+2n.</summary>
    public uint Low => (uint)Raw;

    /// <summary>The high 32 bits, IOAPIC register 0x11+2n.</summary>
    public uint High => (uint)(Raw >> 32);

    /// <summary>Builds an entry from its guest-writable fields (the read-only bits are 0).</summary>
    /// <param name="vector">The vector.</param>
    /// <param name="deliveryMode">The delivery mode.</param>
    /// <param name="destinationMode">Physical or logical destination.</param>
    /// <param name="trigger">Edge or level.</param>
    /// <param name="activeLow">The polarity bit.</param>
    /// <param name="masked">The mask bit.</param>
    /// <param name="destination">The 8-bit destination, bits 63:56.</param>
    /// <returns>The entry.</returns>
    public static RedirectionEntry Create(
        byte vector,
        DeliveryMode deliveryMode = DeliveryMode.Fixed,
        DestinationMode destinationMode = DestinationMode.Physical,
        TriggerMode trigger = TriggerMode.Edge,
        bool activeLow = false,
        bool masked = false,
        byte destination = 0) =>
        new(vector
            | ((ulong)((byte)deliveryMode & 7) << 8)
            | ((ulong)((byte)destinationMode & 1) << 11)
            | (activeLow ? PolarityBit : 0)
            | ((ulong)((byte)trigger & 1) << 15)
            | (masked ? MaskedBit : 0)
            | ((ulong)destination << 56));
}
