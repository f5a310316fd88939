// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Cli.Decoding;

/// <summary>The register layouts that <see cref="RegisterDecoder"/> can take apart field by field.</summary>
public enum RegisterKind : byte
{
    /// <summary>
    /// The 64-bit interrupt command register: the xAPIC low word plus ICR2 in the high word, or the
    /// x2APIC ICR MSR (SDM 11.6.1, figures 11-12 and 11-28). Both destination readings are shown.
    /// </summary>
    Icr = 0,

    /// <summary>A generic local vector table entry, LINT0/LINT1 layout (SDM 11.5.1, figure 11-8).</summary>
    Lvt = 1,

    /// <summary>The LVT timer entry, with the timer mode in bits 18:17 (SDM 11.5.1, 11.5.4).</summary>
    LvtTimer = 2,

    /// <summary>A 64-bit IOAPIC redirection table entry (82093AA datasheet 3.2.4).</summary>
    Rte = 3,

    /// <summary>An MSI message address, 32- or 64-bit (SDM 11.11.1, figure 11-24).</summary>
    MsiAddress = 4,

    /// <summary>An MSI message data value (SDM 11.11.2, figure 11-25).</summary>
    MsiData = 5,

    /// <summary>The IA32_APIC_BASE MSR (SDM 11.4.4, figure 11-5; 11.12.1).</summary>
    ApicBase = 6,

    /// <summary>The spurious-interrupt vector register (SDM 11.9, figure 11-23).</summary>
    Svr = 7,

    /// <summary>The error status register (SDM 11.5.3, figure 11-9).</summary>
    Esr = 8,

    /// <summary>The timer divide configuration register (SDM 11.5.4, figure 11-10).</summary>
    Tdcr = 9,
}
