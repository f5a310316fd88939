// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Fabric;

/// <summary>
/// The flags a VMM enables with <c>KVM_ENABLE_CAP(KVM_CAP_X2APIC_API)</c>; the values are KVM's
/// (include/uapi/linux/kvm.h). A VMM with more than 255 vCPUs sets both.
/// </summary>
[Flags]
public enum X2ApicApiFlags
{
    /// <summary>Neither flag: 8-bit MSI destinations, and KVM's 0xFF broadcast quirk.</summary>
    None = 0,

    /// <summary>
    /// <c>KVM_X2APIC_API_USE_32BIT_IDS</c>: an MSI route's address-hi bits 31:8 are destination bits 31:8
    /// (KVM <c>kvm_msi_to_lapic_irq</c>, <c>x86_msi_msg_get_destid</c> with <c>kvm->arch.x2apic_format</c>;
    /// address-hi bits 7:0 must be 0, <c>kvm_msi_route_invalid</c>); the physical map files a vCPU by its
    /// x2APIC ID when it is in x2APIC mode or that ID is above 255, and files xAPIC IDs only into free
    /// slots, so truncated xAPIC aliases never send an interrupt to the slow path
    /// (<c>kvm_recalculate_phys_map</c>).
    /// </summary>
    Use32BitIds = 1 << 0,

    /// <summary>
    /// <c>KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK</c>: a device's (IOAPIC, MSI) physical destination 0xFF is
    /// no longer a broadcast to x2APIC-mode targets (<c>kvm_apic_mda</c>, <c>kvm_apic_is_broadcast_dest</c>);
    /// it overrides the profile's <c>DeviceBroadcastQuirk</c>.
    /// </summary>
    DisableBroadcastQuirk = 1 << 1,
}
