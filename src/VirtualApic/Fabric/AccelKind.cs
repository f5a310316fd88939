// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Fabric;

/// <summary>The hardware-assist backend a VM runs under (the scenario language's <c>accel=</c>;
/// names in <see cref="AccelNames"/>).</summary>
public enum AccelKind : byte
{
    /// <summary>Everything emulated.</summary>
    None = 0,
    /// <summary>Intel APICv: register virtualization, virtual-interrupt delivery, posted interrupts.</summary>
    Apicv = 1,
    /// <summary>AMD AVIC, xAPIC only (x2APIC inhibits it, as in KVM without x2AVIC).</summary>
    Avic = 2,
    /// <summary>AMD AVIC with x2APIC acceleration.</summary>
    X2Avic = 3,
}
