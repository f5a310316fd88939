// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Hypervisor;

/// <summary>
/// Why KVM turned a hardware assist off VM-wide (arch/x86/kvm/x86.h <c>enum kvm_apicv_inhibit</c>),
/// for the reasons this model can produce.
/// </summary>
[Flags]
public enum ApicvInhibit
{
    /// <summary>No inhibit: the assist is active.</summary>
    None = 0,
    /// <summary>An xAPIC ID differs from its vCPU index (the tables are indexed by vCPU id). Clearable (KVM d471bd853d38).</summary>
    ApicIdModified = 1 << 0,
    /// <summary>An APIC was enabled at a base other than 0xFEE00000. Sticky.</summary>
    ApicBaseModified = 1 << 1,
    /// <summary>Two APICs share a physical ID: the physical map is not 1:1.</summary>
    PhysicalIdAliased = 1 << 2,
    /// <summary>Logical IDs are not 1:1 with APICs, or logical modes are mixed (SVM only).</summary>
    LogicalIdAliased = 1 << 3,
    /// <summary>A vCPU's ID is above the AVIC physical table's last index (SVM only).</summary>
    PhysicalIdTooBig = 1 << 4,
}
