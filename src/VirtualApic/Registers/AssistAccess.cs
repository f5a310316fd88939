// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>What a hardware assist does with one kind of guest access (a read or a write) to one register.</summary>
public enum AssistAccess : byte
{
    /// <summary>
    /// Not accelerated: the access exits before it happens (AVIC_NOACCEL fault or nested page fault,
    /// APIC-access exit, an intercepted x2APIC MSR) and the hypervisor emulates the instruction.
    /// </summary>
    FaultLike,
    /// <summary>Completed on the register page without an exit (a pass-through MSR, a served read, TPR virtualization).</summary>
    Accelerated,
    /// <summary>The store lands in the page, then the access exits (AVIC_NOACCEL trap, APIC-write exit): the hypervisor replays it.</summary>
    TrapLike,
    /// <summary>
    /// The hardware emulates the register's side effect itself (EOI, IPI, self-IPI virtualization)
    /// and exits only when it cannot finish (level EOI on AVIC, EOI-exit bitmap, an IPI it cannot deliver).
    /// </summary>
    Virtualized,
}
