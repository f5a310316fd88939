// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Devices;

/// <summary>
/// The IOAPIC's view of the rest of the VM: the interrupt fabric that routes its messages to local
/// APICs and keeps the per-vCPU set of vectors whose EOI the IOAPIC must see.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Deliver"/> is called with the IOAPIC's lock held, as KVM calls
/// <c>kvm_irq_delivery_to_apic</c> under <c>ioapic-&gt;lock</c> (arch/x86/kvm/ioapic.c,
/// <c>ioapic_service</c>), so that Remote IRR is set atomically with the delivery it records. An
/// implementation must not block on anything that may itself wait for this IOAPIC. It may call the
/// IOAPIC's read-only members (<see cref="IoApic.GetEntry"/> and friends). A call back into a member that
/// changes state (lines, EOI, register writes, restore) throws <see cref="InvalidOperationException"/>:
/// in KVM, accepting an interrupt only sets IRR and kicks the vCPU; the EOI comes later, from the guest.
/// </para>
/// <para>
/// <see cref="RedirectionTableChanged"/> is called after the lock is released, on the thread that made
/// the change, and after any delivery that change caused. It may call any IOAPIC member.
/// </para>
/// </remarks>
public interface IIoApicSink
{
    /// <summary>
    /// Delivers one message from a redirection entry to the local APICs it names.
    /// </summary>
    /// <param name="message">The message; <see cref="InterruptMessage.Source"/> is
    /// <see cref="InterruptSource.IoApic"/>.</param>
    /// <returns>As KVM's <c>kvm_irq_delivery_to_apic</c>: the number of local APICs that accepted the
    /// message (0 when destinations matched but none accepted, for example software-disabled APICs),
    /// or -1 when no local APIC matched the destination at all. Any non-zero result sets the Remote IRR of
    /// a level-triggered entry, -1 included, as KVM does.</returns>
    int Deliver(in InterruptMessage message);

    /// <summary>
    /// The redirection table was written or replaced: rebuild whatever is derived from it, such as the
    /// per-vCPU set of vectors whose EOI must reach the IOAPIC (KVM's <c>ioapic_handled_vectors</c>,
    /// rebuilt by <c>kvm_ioapic_scan_entry</c>). KVM requests that rescan after every RTE write, whether
    /// or not the value changed, and after a state restore; so does this model.
    /// </summary>
    /// <param name="pin">The pin whose entry was written, or -1 when the whole table may have changed
    /// (reset, restore).</param>
    void RedirectionTableChanged(int pin);

    /// <summary>
    /// Called after the IOAPIC released its lock following an operation that may have delivered, on
    /// the same thread: a sink that deferred work out of <see cref="Deliver"/> (an embedder's kick
    /// notification, which must not run under the IOAPIC's lock) does it here.
    /// </summary>
    void DeliveriesCompleted()
    {
    }
}
