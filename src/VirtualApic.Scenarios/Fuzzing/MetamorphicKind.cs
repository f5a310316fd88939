// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>A perturbation that must not change what a program observes (a metamorphic relation).</summary>
public enum MetamorphicKind
{
    /// <summary>Every vCPU saved through the binary snapshot format and restored, with the IOAPIC and the 8259, in place.</summary>
    BinarySnapshotRoundTrip,

    /// <summary>Every vCPU's IRR bound to another thread: from then on deliveries go through the inbox and the owner-only paths run unbound.</summary>
    BindIrrsElsewhere,
}
