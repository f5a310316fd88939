// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Profiles;

/// <summary>How lowest-priority delivery picks its target among the matching APICs.</summary>
public enum LowestPriorityArbitration
{
    /// <summary>
    /// KVM (module parameter <c>vector_hashing</c>, default on): the (vector mod N)-th candidate;
    /// TPR and PPR are never considered (lapic.c, <c>kvm_vector_to_index</c>).
    /// </summary>
    VectorHashing,

    /// <summary>
    /// SDM 11.6.2.4: the candidate with the lowest arbitration priority (its PPR), a focus
    /// processor (one already servicing or holding the vector) winning when focus checking is on.
    /// </summary>
    ProcessorPriority,
}

/// <summary>
/// A behaviour profile: one named switch per place where Linux KVM departs from the Intel SDM /
/// AMD APM. <see cref="Kvm"/> is the default; <see cref="Architectural"/> follows the manuals.
/// <see cref="ProfileSwitches.All"/> documents each switch with its sources.
/// </summary>
public sealed record ApicProfile
{
    /// <summary>KVM v6.18 behaviour, including its departures from the manuals.</summary>
    public static readonly ApicProfile Kvm = new()
    {
        Name = "kvm",
        X2ApicEoiNonZeroFaults = false,
        EsrRecordsErrors = false,
        RejectsIllegalVectors = false,
        LowestPriority = LowestPriorityArbitration.VectorHashing,
        DeviceBroadcastQuirk = true,
        LvtStatusBitsWritable = true,
        ArbitrationPriorityReadsZero = true,
        PeriodicTimerMinimumNs = 200_000,
        HardwareDisableResetsApic = false,
        Lint0ExtIntAtReset = true,
        LogicalEventsReachDisabledApics = false,
        LogicalMapShortcuts = true,
        X2ApicReservedBitsFault = false,
        RemoteReadUnhalts = true,
    };

    /// <summary>The Intel SDM / AMD APM behaviour.</summary>
    public static readonly ApicProfile Architectural = new()
    {
        Name = "architectural",
        X2ApicEoiNonZeroFaults = true,
        EsrRecordsErrors = true,
        RejectsIllegalVectors = true,
        LowestPriority = LowestPriorityArbitration.ProcessorPriority,
        DeviceBroadcastQuirk = false,
        LvtStatusBitsWritable = false,
        ArbitrationPriorityReadsZero = false,
        PeriodicTimerMinimumNs = 0,
        HardwareDisableResetsApic = true,
        Lint0ExtIntAtReset = false,
        LogicalEventsReachDisabledApics = true,
        LogicalMapShortcuts = false,
        X2ApicReservedBitsFault = true,
        RemoteReadUnhalts = false,
    };

    /// <summary>The profile's name as the scenario language spells it.</summary>
    public required string Name { get; init; }

    /// <summary>A WRMSR of a non-zero value to the x2APIC EOI register raises #GP.</summary>
    public required bool X2ApicEoiNonZeroFaults { get; init; }

    /// <summary>ESR latches send/receive illegal-vector and illegal-register-address errors.</summary>
    public required bool EsrRecordsErrors { get; init; }

    /// <summary>Fixed and lowest-priority vectors 0-15 are refused by the receiver (and flagged in ESR).</summary>
    public required bool RejectsIllegalVectors { get; init; }

    /// <summary>How lowest-priority delivery arbitrates.</summary>
    public required LowestPriorityArbitration LowestPriority { get; init; }

    /// <summary>
    /// A device message (IOAPIC, MSI) with physical destination 0xFF reaches x2APIC-mode targets
    /// as a broadcast (KVM's broadcast quirk, <c>KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK</c> off).
    /// </summary>
    public required bool DeviceBroadcastQuirk { get; init; }

    /// <summary>LVT delivery status (bit 12) and LINT remote IRR (bit 14) are guest-writable and never set by the APIC.</summary>
    public required bool LvtStatusBitsWritable { get; init; }

    /// <summary>APR always reads 0 instead of the computed arbitration priority.</summary>
    public required bool ArbitrationPriorityReadsZero { get; init; }

    /// <summary>The shortest period of a periodic APIC timer, in ns (KVM <c>min_timer_period_us</c>); 0 for none.</summary>
    public required long PeriodicTimerMinimumNs { get; init; }

    /// <summary>Clearing IA32_APIC_BASE.EN puts the APIC back in its power-up state.</summary>
    public required bool HardwareDisableResetsApic { get; init; }

    /// <summary>The BSP leaves RESET with LVT LINT0 unmasked ExtINT (KVM_X86_QUIRK_LINT0_REENABLED).</summary>
    public required bool Lint0ExtIntAtReset { get; init; }

    /// <summary>
    /// A logically addressed NMI, SMI, INIT or SIPI reaches a software-disabled xAPIC-mode APIC that
    /// the destination names; KVM's logical map holds software-enabled APICs only.
    /// </summary>
    public required bool LogicalEventsReachDisabledApics { get; init; }

    /// <summary>
    /// The logical fast path follows KVM's map: an x2APIC logical destination reaches whatever APIC
    /// holds the physical slot it names (even one in xAPIC mode), and every xAPIC DFR model that is
    /// not flat is filed as cluster (KVM <c>kvm_apic_map_get_logical_dest</c>, <c>kvm_recalculate_logical_map</c>).
    /// </summary>
    public required bool LogicalMapShortcuts { get; init; }

    /// <summary>A WRMSR that sets reserved bits of an x2APIC register raises #GP instead of being masked.</summary>
    public required bool X2ApicReservedBitsFault { get; init; }

    /// <summary>
    /// A remote-read message (delivery mode 011b) makes a halted target runnable with no interrupt:
    /// KVM's PV unhalt (<c>KVM_HC_KICK_CPU</c>, <c>__apic_accept_irq</c> <c>APIC_DM_REMRD</c>).
    /// </summary>
    public required bool RemoteReadUnhalts { get; init; }

    /// <summary>Looks a profile up by name (<c>kvm</c> or <c>architectural</c>, case-insensitive).</summary>
    public static bool TryParse(string name, out ApicProfile profile)
    {
        if (string.Equals(name, "kvm", StringComparison.OrdinalIgnoreCase))
        {
            profile = Kvm;
            return true;
        }

        if (string.Equals(name, "architectural", StringComparison.OrdinalIgnoreCase))
        {
            profile = Architectural;
            return true;
        }

        profile = Kvm;
        return false;
    }
}
