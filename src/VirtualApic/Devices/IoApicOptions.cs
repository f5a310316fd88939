// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Devices;

/// <summary>The IOAPIC version reported in bits 7:0 of the version register (index 0x01).</summary>
public enum IoApicVersion : byte
{
    /// <summary>
    /// 0x11, the 82093AA that KVM's in-kernel IOAPIC emulates: no EOI register. The only way a guest
    /// clears Remote IRR is the local APIC's EOI broadcast (or Linux's edge-write trick).
    /// </summary>
    Version11 = 0x11,

    /// <summary>
    /// 0x20, an I/O xAPIC with the EOI register at offset 0x40, which a guest that suppresses the local
    /// APIC's EOI broadcast (SVR bit 12) uses to EOI the IOAPIC directly. QEMU's userspace IOAPIC
    /// defaults to it.
    /// </summary>
    Version20 = 0x20,
}

/// <summary>Construction options of an <see cref="IoApic"/>.</summary>
public sealed record IoApicOptions
{
    /// <summary>The reported version, and whether the EOI register exists. Default 0x11, as KVM.</summary>
    public IoApicVersion Version { get; init; } = IoApicVersion.Version11;

    /// <summary>
    /// Redirection-entry bits 55:49 are destination bits 14:8 (a VMM's IOAPIC with the extended
    /// destination ID, Linux <c>virt_destid_8_14</c>); KVM's in-kernel IOAPIC uses bits 63:56 only.
    /// </summary>
    public bool ExtendedDestinationId { get; init; }

    /// <summary>
    /// The guest-physical base of the 256-byte register window; must be 256-byte aligned.
    /// Default <see cref="IoApic.DefaultBaseAddress"/>.
    /// </summary>
    public ulong BaseAddress { get; init; } = IoApic.DefaultBaseAddress;
}
