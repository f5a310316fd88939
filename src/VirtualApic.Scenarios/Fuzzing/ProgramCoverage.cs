// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>What one fuzz program reached (issue 13's coverage figures).</summary>
/// <param name="TookVector">A vCPU took a fixed vector (pending to in service).</param>
/// <param name="LevelEoi">A level-triggered IOAPIC interrupt completed: Remote-IRR went from 1 to 0 by an EOI.</param>
/// <param name="TookNmi">A vCPU took an NMI.</param>
/// <param name="SnapshotWithPosted">A snapshot or migration ran while vectors sat in a PIR or inbox, not yet in the IRR.</param>
public readonly record struct ProgramCoverage(bool TookVector, bool LevelEoi, bool TookNmi, bool SnapshotWithPosted);
