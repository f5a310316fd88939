// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>What a <c>dump</c> statement prints.</summary>
public enum DumpTarget
{
    /// <summary>Every vCPU's local APIC, then the IOAPIC.</summary>
    All,

    /// <summary>One vCPU's local APIC.</summary>
    Cpu,

    /// <summary>The IOAPIC.</summary>
    IoApic,
}
