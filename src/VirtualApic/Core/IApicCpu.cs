// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Core;

/// <summary>
/// The CPU side of a local APIC: where the APIC hands the events that are not vectors in its IRR
/// (KVM keeps these in <c>vcpu->arch</c> and <c>apic->pending_events</c>). Calls may come from any thread.
/// </summary>
public interface IApicCpu
{
    /// <summary>An NMI was accepted.</summary>
    void OnNmi();

    /// <summary>An SMI was accepted.</summary>
    void OnSmi();

    /// <summary>An INIT (edge, or level assert) was accepted; it overrides a pending SIPI.</summary>
    void OnInit();

    /// <summary>A start-up IPI was accepted; it takes effect only on a vCPU waiting for SIPI.</summary>
    void OnSipi(byte vector);

    /// <summary>
    /// A remote-read message was accepted, which KVM reuses as its PV unhalt (<c>pv_unhalted</c>,
    /// <c>KVM_HC_KICK_CPU</c>): a halted vCPU becomes runnable without an interrupt. Ignored by default.
    /// </summary>
    void OnPvUnhalt()
    {
    }

    /// <summary>
    /// The in-service vector the guest has already ended without the APIC knowing yet, or -1: KVM's
    /// PV EOI, a flag the guest cleared, is performed only at the vCPU's next exit, and only on the
    /// software path (an active assist never arms the flag). Another processor's arbitration must see
    /// the APIC as the guest does (lowest priority by PPR and focus, profile architectural), or it
    /// could tell the backends apart. Any thread. None by default.
    /// </summary>
    int EndedByGuest => -1;
}

/// <summary>An <see cref="IApicCpu"/> that drops every event, for a local APIC used on its own.</summary>
public sealed class NullApicCpu : IApicCpu
{
    /// <summary>The shared instance.</summary>
    public static readonly NullApicCpu Instance = new();

    /// <inheritdoc/>
    public void OnNmi()
    {
    }

    /// <inheritdoc/>
    public void OnSmi()
    {
    }

    /// <inheritdoc/>
    public void OnInit()
    {
    }

    /// <inheritdoc/>
    public void OnSipi(byte vector)
    {
    }
}
