// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Core;

/// <summary>
/// How an accepted fixed vector reaches a local APIC (KVM's vendor <c>deliver_interrupt</c> and
/// <c>sync_pir_to_irr</c>): straight into the IRR, or posted into a PIR that is folded in later.
/// </summary>
public interface IVectorDelivery
{
    /// <summary>
    /// Makes <paramref name="vector"/> pending on <paramref name="apic"/> and notifies its vCPU. Any thread.
    /// Returns true when the vector was posted (it reaches the IRR at the next sync), false when it is in the IRR.
    /// </summary>
    bool Deliver(LocalApic apic, int vector);

    /// <summary>Folds vectors posted elsewhere into the IRR. Owner thread.</summary>
    void SyncToIrr(LocalApic apic);

    /// <summary>Drops whatever is posted but not yet in the IRR (RESET, INIT, state restore).</summary>
    void Reset(LocalApic apic);

    /// <summary>
    /// Whether <paramref name="vector"/> is pending on this path outside the IRR (posted and not yet
    /// synced): part of the IRR as the guest sees it, for checks made from any thread without
    /// syncing, such as the focus-processor rule of lowest-priority arbitration.
    /// </summary>
    bool HoldsPending(LocalApic apic, int vector) => false;
}

/// <summary>The emulated path: set the IRR bit atomically, then kick.</summary>
public sealed class DirectIrrDelivery : IVectorDelivery
{
    /// <summary>The shared instance.</summary>
    public static readonly DirectIrrDelivery Instance = new();

    /// <inheritdoc/>
    public bool Deliver(LocalApic apic, int vector)
    {
        apic.SetIrrAndKick(vector);
        return false;
    }

    /// <inheritdoc/>
    public void SyncToIrr(LocalApic apic)
    {
    }

    /// <inheritdoc/>
    public void Reset(LocalApic apic)
    {
    }
}
