// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// <c>dump [cpuN|ioapic]</c>: prints the architectural state of one vCPU's local APIC, of the
/// IOAPIC, or (without an operand) of every APIC and the IOAPIC, in the layout of QEMU's monitor
/// commands <c>info lapic</c> and <c>info pic</c>. Observes nothing: the text goes to the run's
/// dump output, not the observation log, so it never takes part in cross-backend comparison.
/// </summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Target">What to print.</param>
/// <param name="Cpu">The vCPU for <see cref="DumpTarget.Cpu"/>; 0 otherwise.</param>
public sealed record DumpStatement(SourceLine Source, DumpTarget Target, int Cpu)
    : Statement(Source);
