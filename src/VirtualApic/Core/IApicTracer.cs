// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Core;

/// <summary>
/// The architectural events of a local APIC, reported by the core itself at acceptance and EOI, so
/// that every backend (none, apicv, avic, x2avic) reports the same deliveries and EOIs.
/// </summary>
public interface IApicTracer
{
    /// <summary>A fixed vector became pending on <paramref name="vcpu"/> (IRR, or PIR when <paramref name="posted"/>).</summary>
    void OnDelivery(int vcpu, int vector, bool posted);

    /// <summary>An EOI completed on <paramref name="vcpu"/>: <paramref name="vector"/> left the ISR.</summary>
    void OnEoi(int vcpu, int vector);
}
