// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;

namespace VirtualApic.Core;

/// <summary>
/// One interrupt message on the APIC bus: the decoded form of an ICR, a redirection entry or an
/// MSI (KVM's <c>struct kvm_lapic_irq</c>). A plain value: building and routing one allocates nothing.
/// </summary>
/// <param name="Vector">The vector.</param>
/// <param name="DeliveryMode">The delivery mode.</param>
/// <param name="DestinationMode">Physical or logical destination.</param>
/// <param name="Destination">The destination: an APIC ID or logical mask (8 bits in xAPIC form, 32 in x2APIC form).</param>
/// <param name="TriggerMode">Edge or level.</param>
/// <param name="Level">True for assert; a level-triggered de-assert message has it false.</param>
/// <param name="Shorthand">The ICR destination shorthand (IPIs only).</param>
/// <param name="Source">What sent the message.</param>
/// <param name="SourceVcpu">The sending vCPU index for IPIs, -1 for devices.</param>
/// <param name="RedirectionHint">MSI address bit 3: lowest-priority among the destinations.</param>
public readonly record struct InterruptMessage(
    byte Vector,
    DeliveryMode DeliveryMode,
    DestinationMode DestinationMode,
    uint Destination,
    TriggerMode TriggerMode,
    bool Level,
    DestinationShorthand Shorthand,
    InterruptSource Source,
    int SourceVcpu,
    bool RedirectionHint = false)
{
    /// <summary>
    /// The message an ICR value sends from <paramref name="sender"/> (KVM <c>kvm_apic_send_ipi</c>): the
    /// destination is read in the sender's mode, 8 bits (ICR[63:56]) in xAPIC mode, 32 (ICR[63:32]) in x2APIC mode.
    /// </summary>
    public static InterruptMessage FromIcr(Icr icr, LocalApic sender)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return new(
            icr.Vector, icr.DeliveryMode, icr.DestinationMode, icr.DestinationFor(sender.IsX2Apic),
            icr.TriggerMode, icr.Level, icr.Shorthand, InterruptSource.Ipi, sender.VcpuId);
    }

    /// <summary>A SELF_IPI write's message (x2APIC register 0x3F0): fixed, edge, to the sender itself.</summary>
    public static InterruptMessage SelfIpi(byte vector, LocalApic sender)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return new(vector, DeliveryMode.Fixed, DestinationMode.Physical, sender.X2ApicId, TriggerMode.Edge, true, DestinationShorthand.Self, InterruptSource.Ipi, sender.VcpuId);
    }

    /// <summary>The physical broadcast destination: 0xFF in xAPIC mode, 0xFFFFFFFF in x2APIC mode (SDM 11.6.2.1, 11.12.9).</summary>
    public static uint BroadcastDestination(bool x2Apic) => x2Apic ? 0xFFFF_FFFFu : 0xFFu;

    /// <summary>A fixed, edge, physical message from a device, the common case in tests.</summary>
    public static InterruptMessage Fixed(byte vector, uint destination = 0, TriggerMode trigger = TriggerMode.Edge) =>
        new(vector, DeliveryMode.Fixed, DestinationMode.Physical, destination, trigger, true, DestinationShorthand.None, InterruptSource.Msi, -1);
}
