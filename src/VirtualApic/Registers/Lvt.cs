// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>A local vector table entry (SDM 11.5.1, figure 11-8).</summary>
/// <param name="Raw">The 32-bit register value.</param>
public readonly record struct Lvt(uint Raw)
{
    /// <summary>Mask bit, 16.</summary>
    public const uint MaskedBit = 1u << 16;
    /// <summary>Delivery status (send pending), bit 12.</summary>
    public const uint DeliveryStatusBit = 1u << 12;
    /// <summary>Interrupt input pin polarity (LINT0/1 only), bit 13.</summary>
    public const uint PolarityBit = 1u << 13;
    /// <summary>Remote IRR (LINT0/1 only), bit 14.</summary>
    public const uint RemoteIrrBit = 1u << 14;
    /// <summary>Trigger mode (LINT0/1 only), bit 15.</summary>
    public const uint LevelBit = 1u << 15;

    /// <summary>The vector, bits 7:0.</summary>
    public byte Vector => (byte)Raw;

    /// <summary>The delivery mode, bits 10:8 (the timer and error entries have none: always fixed).</summary>
    public DeliveryMode DeliveryMode => (DeliveryMode)((Raw >> 8) & 7);

    /// <summary>The mask bit.</summary>
    public bool Masked => (Raw & MaskedBit) != 0;

    /// <summary>The trigger mode bit (meaningful for LINT0/1).</summary>
    public TriggerMode TriggerMode => (Raw & LevelBit) != 0 ? TriggerMode.Level : TriggerMode.Edge;

    /// <summary>The timer mode, bits 18:17 (LVT timer only).</summary>
    public TimerMode TimerMode => (TimerMode)((Raw >> 17) & 3);
}
