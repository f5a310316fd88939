// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Core;

/// <summary>Who sent an interrupt message; destination matching differs for IPIs and device messages.</summary>
public enum InterruptSource : byte
{
    /// <summary>An IPI from a local APIC's ICR or SELF_IPI register.</summary>
    Ipi = 0,
    /// <summary>An IOAPIC redirection entry.</summary>
    IoApic = 1,
    /// <summary>A device's MSI write.</summary>
    Msi = 2,
    /// <summary>A local vector table entry of the receiving APIC itself (timer, LINT, error...).</summary>
    Local = 3,
}
