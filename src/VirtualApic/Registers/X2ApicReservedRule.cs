// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>What a WRMSR that sets bits outside a writable x2APIC register's defined bits does (SDM 11.12.1.3).</summary>
public enum X2ApicReservedRule : byte
{
    /// <summary>
    /// KVM drops the bits (bits 63:32 still #GP); under the profile switch <c>X2ApicReservedBitsFault</c>
    /// they #GP as the SDM says.
    /// </summary>
    Masked,
    /// <summary>Any bit outside the mask #GPs on every profile (ESR non-zero; SELF_IPI bits 31:8, KVM ba5838abb053).</summary>
    MustBeZero,
    /// <summary>EOI: a non-zero value #GPs only under the profile switch <c>X2ApicEoiNonZeroFaults</c>; KVM accepts it.</summary>
    EoiMustBeZero,
    /// <summary>The 64-bit ICR: its reserved bits (<see cref="Icr.X2ApicReservedBits"/>) #GP (KVM 71bf395a276f).</summary>
    Icr,
}
