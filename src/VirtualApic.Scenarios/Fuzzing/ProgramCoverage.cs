// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>What one fuzz program reached (issue 13's coverage figures).</summary>
/// <param name="TookVector">A vCPU took a fixed vector (pending to in service).</param>
/// <param name="LevelEoi">A level-triggered IOAPIC interrupt completed: Remote-IRR went from 1 to 0 by an EOI.</param>
/// <param name="TookNmi">A vCPU took an NMI.</param>
/// <param name="SnapshotWithPosted">A snapshot or migration ran while vectors sat in a PIR or inbox, not yet in the IRR.</param>
public readonly record struct ProgramCoverage(bool TookVector, bool LevelEoi, bool TookNmi, bool SnapshotWithPosted)
{
    /// <summary>The VM ran KVM's configurations of issue 15: a split irqchip, 32-bit x2APIC IDs or the broadcast quirk off.</summary>
    public bool KvmConfig { get; init; }

    /// <summary>A vCPU's PV EOI flag was armed (KVM set it at an injection).</summary>
    public bool PvEoiArmed { get; init; }

    /// <summary>An EOI exited to the VMM (split irqchip, <c>ioapic-eoi</c>).</summary>
    public bool VmmEoi { get; init; }

    /// <summary>A PV unhalt hypercall (<c>kick-cpu</c>) ran.</summary>
    public bool Kicked { get; init; }
}
