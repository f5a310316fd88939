// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Assist;

/// <summary>Why a guest access left "hardware" for the hypervisor (a VM exit).</summary>
public enum ExitReason : byte
{
    /// <summary>An intercepted RDMSR (APIC_BASE, TSC_DEADLINE, emulated x2APIC registers).</summary>
    MsrRead,
    /// <summary>An intercepted WRMSR.</summary>
    MsrWrite,
    /// <summary>An xAPIC MMIO access emulated by the hypervisor (NPF / APIC-access exit, fault-like).</summary>
    ApicAccess,
    /// <summary>Intel APIC-write VM exit (trap-like, exit reason 56).</summary>
    ApicWrite,
    /// <summary>Intel EOI-induced VM exit (trap-like, the EOI-exit bitmap had the vector).</summary>
    EoiInduced,
    /// <summary>AMD #VMEXIT(AVIC_NOACCEL) 0x402, trap-like or fault-like.</summary>
    AvicNoAccel,
    /// <summary>AMD #VMEXIT(AVIC_INCOMPLETE_IPI) 0x401.</summary>
    AvicIncompleteIpi,
    /// <summary>HLT.</summary>
    Hlt,
    /// <summary>
    /// <c>KVM_EXIT_IOAPIC_EOI</c> with a split irqchip: an EOI of a vector in the vCPU's EOI-exit set
    /// (the IOAPIC-handled vectors) goes to the VMM's IOAPIC (KVM lapic.c <c>kvm_ioapic_send_eoi</c>,
    /// <c>KVM_REQ_IOAPIC_EOI_EXIT</c>). A userspace exit, after any VM exit that carried the EOI.
    /// </summary>
    IoApicEoi,
    /// <summary>VMCALL/VMMCALL: a KVM hypercall (<c>kvm_emulate_hypercall</c>).</summary>
    Hypercall,
}
