// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Profiles;

/// <summary>One documented difference between the <c>kvm</c> and <c>architectural</c> profiles.</summary>
/// <param name="Name">The <see cref="ApicProfile"/> property that models it.</param>
/// <param name="Kvm">What KVM does.</param>
/// <param name="Architectural">What the manuals say.</param>
/// <param name="Sources">Where each behaviour is documented.</param>
public sealed record ProfileSwitch(string Name, string Kvm, string Architectural, string Sources);

/// <summary>The table of profile differences, printed by <c>vapic explain-profiles</c> and kept in docs/profiles.md.</summary>
public static class ProfileSwitches
{
    /// <summary>Every switch, one row each.</summary>
    public static IReadOnlyList<ProfileSwitch> All { get; } =
    [
        new(nameof(ApicProfile.X2ApicEoiNonZeroFaults),
            "a non-zero WRMSR to X2APIC_EOI (0x80B) performs the EOI, no fault",
            "a non-zero WRMSR to X2APIC_EOI raises #GP(0)",
            "SDM vol. 3A 11.12.1.2 (x2APIC register access); KVM commit 0a19807b464f changelog (\"not emulated by KVM\")"),
        new(nameof(ApicProfile.EsrRecordsErrors),
            "ESR always reads 0; no error is ever latched and the LVT error entry never fires",
            "send/receive illegal vector (bits 5, 6) and illegal register address (bit 7) are latched on an ESR write and raise the LVT error interrupt",
            "SDM vol. 3A 11.5.3 (Error Handling); KVM lapic.c kvm_lapic_reg_write(APIC_ESR)"),
        new(nameof(ApicProfile.RejectsIllegalVectors),
            "fixed and lowest-priority vectors 0-15 are accepted and delivered like any other",
            "the receiver rejects vectors 0-15 (receive illegal vector); a sender flags send illegal vector",
            "SDM vol. 3A 11.5.2 (Valid Interrupt Vectors), 11.5.3; KVM lapic.c __apic_accept_irq (no check)"),
        new(nameof(ApicProfile.LowestPriority),
            "vector hashing: the (vector mod N)-th candidate, TPR/PPR ignored; a disabled slot drops the interrupt",
            "the candidate with the lowest processor priority, focus processor first",
            "SDM vol. 3A 11.6.2.4 (Lowest Priority Delivery Mode); KVM lapic.c kvm_vector_to_index, module parameter vector_hashing"),
        new(nameof(ApicProfile.DeviceBroadcastQuirk),
            "an IOAPIC/MSI physical destination of 0xFF is a broadcast even to x2APIC-mode targets",
            "0xFF is an ordinary x2APIC ID in x2APIC mode; only 0xFFFFFFFF broadcasts",
            "SDM vol. 3A 11.12.9 (ICR Operation in x2APIC Mode); KVM lapic.c kvm_apic_mda, KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK"),
        new(nameof(ApicProfile.LvtStatusBitsWritable),
            "LVT delivery status (bit 12) and LINT remote IRR (bit 14) are in the write mask and read back as written",
            "both bits are read-only status; writes are ignored",
            "SDM vol. 3A 11.5.1 (Local Vector Table, figure 11-8); KVM lapic.c apic_lvt_mask[] (LVT_MASK includes APIC_SEND_PENDING)"),
        new(nameof(ApicProfile.ArbitrationPriorityReadsZero),
            "APR (0x90) always reads 0",
            "APR reads the computed arbitration priority from TPR, ISRV and IRRV",
            "SDM vol. 3A 11.8.3 (Interrupt, Task, and Processor Priority), APR of the P6 family and Pentium processors; KVM lapic.c __apic_read (APIC_ARBPRI returns 0)"),
        new(nameof(ApicProfile.PeriodicTimerMinimumNs),
            "a periodic timer period shorter than 200 us is stretched to 200 us",
            "the period is TMICT x divider x bus cycle, however short",
            "SDM vol. 3A 11.5.4 (APIC Timer); KVM lapic.c limit_periodic_timer_frequency, module parameter min_timer_period_us"),
        new(nameof(ApicProfile.HardwareDisableResetsApic),
            "clearing IA32_APIC_BASE.EN keeps every register; re-enabling rewrites only the xAPIC ID",
            "clearing IA32_APIC_BASE.EN returns the APIC to its power-up state",
            "SDM vol. 3A 11.4.3 (Enabling or Disabling the Local APIC), 11.12.5 (x2APIC State Transitions); KVM lapic.c __kvm_apic_set_base"),
        new(nameof(ApicProfile.Lint0ExtIntAtReset),
            "the BSP's LVT LINT0 is unmasked ExtINT (0x700) after RESET: virtual-wire mode without guest setup",
            "every LVT entry, LINT0 included, is masked (0x10000) after RESET",
            "SDM vol. 3A 11.5.1 and 11.4.7.1 (Local APIC State After Power-Up or Reset: LVT masked); KVM lapic.c kvm_lapic_reset, KVM_X86_QUIRK_LINT0_REENABLED"),
        new(nameof(ApicProfile.LogicalEventsReachDisabledApics),
            "an xAPIC logical NMI/SMI/INIT/SIPI never reaches a software-disabled APIC: the logical map holds software-enabled APICs only",
            "a software-disabled APIC still accepts NMI, SMI, INIT and SIPI, whatever the destination mode",
            "SDM vol. 3A 11.4.7.2 (Local APIC State After It Has Been Software Disabled); KVM lapic.c kvm_recalculate_logical_map (skips !kvm_apic_sw_enabled)"),
        new(nameof(ApicProfile.LogicalMapShortcuts),
            "the logical fast path resolves an x2APIC logical destination through the physical map slot, reaching an xAPIC-mode APIC there, and files every DFR model that is not flat as cluster",
            "a logical destination reaches an APIC only through its own LDR in its own mode; a reserved DFR model matches nothing",
            "SDM vol. 3A 11.6.2.2 (Logical Destination Mode), 11.12.10.2 (Deriving Logical x2APIC ID); KVM lapic.c kvm_apic_map_get_logical_dest, kvm_recalculate_logical_map, kvm_apic_match_logical_addr"),
        new(nameof(ApicProfile.X2ApicReservedBitsFault),
            "a WRMSR setting reserved bits of an x2APIC register (TPR, SVR, the LVTs, TDCR) keeps the writable bits, no fault",
            "a WRMSR setting reserved bits of an x2APIC register raises #GP(0)",
            "SDM vol. 3A 11.12.1.3 (Reserved Bit Checking); KVM lapic.c kvm_lapic_reg_write (masks, faults only for ICR, SELF_IPI, ESR and the upper 32 bits)"),
        new(nameof(ApicProfile.RemoteReadUnhalts),
            "a remote-read message (delivery mode 011b, what KVM_HC_KICK_CPU sends) makes a halted target runnable, with no interrupt: KVM's PV unhalt",
            "delivery mode 011b is reserved; such a message is ignored",
            "SDM vol. 3A 11.6.1 (Interrupt Command Register, delivery mode 011 reserved); KVM lapic.c __apic_accept_irq (APIC_DM_REMRD), x86.c kvm_pv_kick_cpu_op; Documentation/virt/kvm/x86/hypercalls.rst (KVM_HC_KICK_CPU)"),
    ];
}
