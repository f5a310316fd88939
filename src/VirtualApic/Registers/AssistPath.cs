// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>The hardware path a guest APIC access takes under a backend: one column pair of the register table.</summary>
public enum AssistPath : byte
{
    /// <summary>AMD AVIC, an xAPIC-mode MMIO access to the backing page (APM vol. 2 15.29.3; KVM svm/avic.c).</summary>
    AvicMmio,
    /// <summary>AMD x2AVIC, an x2APIC MSR access (KVM <c>avic_set_x2apic_msr_interception</c>).</summary>
    X2AvicMsr,
    /// <summary>Intel APICv, an xAPIC-mode access to the APIC-access page (SDM vol. 3C 30.4.2 and 30.4.3).</summary>
    ApicvMmio,
    /// <summary>Intel APICv, an x2APIC MSR access under "virtualize x2APIC mode" (SDM 30.5; KVM <c>vmx_update_msr_bitmap_x2apic</c>).</summary>
    ApicvMsr,
}
