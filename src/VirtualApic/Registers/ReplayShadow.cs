// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>
/// The trap-like replay rule: where a write's side effect finds the register's <em>old</em> value.
/// </summary>
/// <remarks>
/// <para>A trap-like exit (AMD AVIC_NOACCEL trap, Intel APIC-write exit) comes <em>after</em> the
/// guest's store has landed in the register page. The hypervisor then replays the write from the
/// page (KVM <c>kvm_apic_write_nodecode</c>), so during the replay the page already holds the new
/// value. A write whose effect depends on the old value (did the enable bit change? which logical ID
/// did this APIC have?) must therefore take the old value from a shadow kept outside the page, never
/// from the page, and a replay must read the new value from the page, never through the guest's read
/// rules (the seed bug, KVM commit 0a19807b464f, re-read the write-only EOI through RDMSR).</para>
/// <para>Every register that a backend traps names its shadow in the register table; the tests
/// check that a trap-like write and an emulated write end in the same state.</para>
/// </remarks>
public enum ReplayShadow : byte
{
    /// <summary>The effect depends on the new value only (TPR, ICR, ICR2, EOI, TDCR's mask): no shadow needed.</summary>
    None,
    /// <summary>SVR: the software-enable bit as last processed (KVM <c>apic->sw_enabled</c>).</summary>
    SoftwareEnable,
    /// <summary>ID, LDR, DFR: the APIC map (and AVIC's logical table) still routes by the old value until rebuilt from the registers.</summary>
    ApicMap,
    /// <summary>LVT entries: the status bits the APIC owns (LINT remote IRR) live outside the page.</summary>
    LvtStatus,
    /// <summary>LVT timer, TMICT, TDCR: the timer's latched mode, count and divider.</summary>
    Timer,
    /// <summary>ESR: the errors detected since the last write, latched by the write.</summary>
    ErrorLatch,
}
