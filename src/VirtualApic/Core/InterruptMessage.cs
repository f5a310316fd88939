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
    /// <summary>A fixed, edge, physical message from a device, the common case in tests.</summary>
    public static InterruptMessage Fixed(byte vector, uint destination = 0, TriggerMode trigger = TriggerMode.Edge) =>
        new(vector, DeliveryMode.Fixed, DestinationMode.Physical, destination, trigger, true, DestinationShorthand.None, InterruptSource.Msi, -1);
}
