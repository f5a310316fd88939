// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;

namespace VirtualApic.Core;

/// <summary>
/// What a <see cref="LocalApic"/> needs from the machine around it: the one seam between the
/// architectural core and the fabric. The core never reaches out to anything else.
/// </summary>
public interface IApicHost
{
    /// <summary>
    /// Routes an IPI that <paramref name="source"/> sent (ICR or SELF_IPI write) to its destinations.
    /// The destination is already decoded for the sender's mode (8-bit xAPIC or 32-bit x2APIC).
    /// </summary>
    void SendIpi(LocalApic source, in InterruptMessage message);

    /// <summary>
    /// <paramref name="source"/> EOIed a vector marked in its <see cref="LocalApic.IoApicHandledVectors"/>:
    /// tell the IOAPIC (KVM <c>kvm_ioapic_send_eoi</c>). <paramref name="trigger"/> is the TMR bit.
    /// Called as the last step of the EOI, with <paramref name="source"/>'s registers final (ISR, PPR,
    /// LINT Remote IRR), so the host may deliver to it again from inside the call.
    /// </summary>
    void EndOfInterrupt(LocalApic source, byte vector, TriggerMode trigger);

    /// <summary>An ID, LDR, DFR, SVR enable bit or APIC_BASE changed: destination maps are stale.</summary>
    void ApicMapChanged(LocalApic source);

    /// <summary>
    /// <paramref name="target"/> has a new event (IRR bit, NMI, INIT...): wake it if halted, kick it
    /// if running on another thread. May be called from any thread.
    /// </summary>
    void Kick(LocalApic target);

    /// <summary>
    /// Rebuilds <paramref name="target"/>'s set of IOAPIC-handled vectors (KVM <c>vcpu_scan_ioapic</c>).
    /// Called on the target's own thread, when it handles the request the host raised with
    /// <see cref="LocalApic.RequestIoApicScan"/>. Hosts without an IOAPIC do nothing.
    /// </summary>
    void ScanIoApicHandledVectors(LocalApic target)
    {
    }

    /// <summary>
    /// The one APIC that claims physical x2APIC destination <paramref name="destination"/>, when the
    /// host can name it at once: the fastpath of a fixed, physical, no-shorthand x2APIC IPI (KVM
    /// <c>handle_fastpath_set_x2apic_icr_irqoff</c>), which the sender then accepts straight into
    /// that APIC. Null (the default) when no APIC or several claim the ID, or the host cannot tell:
    /// the IPI then goes through <see cref="SendIpi"/>, and must reach the same APICs either way.
    /// </summary>
    LocalApic? FindUnicastTarget(uint destination) => null;
}

/// <summary>
/// A host for a lone local APIC: IPIs reach the sender itself when they address it (self,
/// all-including-self, its own physical ID, or the physical broadcast ID of its mode); nothing else
/// exists. Useful for unit tests and for embedders that model one CPU.
/// </summary>
public sealed class StandaloneApicHost : IApicHost
{
    /// <summary>The shared instance.</summary>
    public static readonly StandaloneApicHost Instance = new();

    /// <inheritdoc/>
    public void SendIpi(LocalApic source, in InterruptMessage message)
    {
        bool toSelf = message.Shorthand switch
        {
            DestinationShorthand.Self or DestinationShorthand.AllIncludingSelf => true,
            DestinationShorthand.AllExcludingSelf => false,
            // Physical broadcast is 0xFF in xAPIC mode and 0xFFFFFFFF in x2APIC mode (SDM 11.6.2.1, 11.12.9).
            _ => message.DestinationMode == DestinationMode.Physical
                && (source.MatchesPhysical(message.Destination) || message.Destination == (source.IsX2Apic ? 0xFFFF_FFFFu : 0xFFu)),
        };
        if (toSelf)
        {
            source.AcceptInterrupt(message);
        }
    }

    /// <inheritdoc/>
    public void EndOfInterrupt(LocalApic source, byte vector, TriggerMode trigger)
    {
    }

    /// <inheritdoc/>
    public void ApicMapChanged(LocalApic source)
    {
    }

    /// <inheritdoc/>
    public void Kick(LocalApic target)
    {
    }
}
