// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Assist;

/// <summary>What a hardware-assist model did with one guest access.</summary>
public enum AssistOutcome : byte
{
    /// <summary>Completed in "hardware" on the register page: no exit.</summary>
    Completed,
    /// <summary>The processor raised #GP itself (an x2APIC pass-through write with reserved bits): no exit.</summary>
    GeneralProtection,
    /// <summary>A VM exit: the hypervisor's exit dispatcher takes over.</summary>
    Exit,
}
