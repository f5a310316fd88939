// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Hypervisor;

/// <summary>
/// KVM's paravirtual EOI (<c>MSR_KVM_PV_EOI_EN</c>, Documentation/virt/kvm/x86/msr.rst): when it is
/// safe, KVM sets bit 0 of a guest word as it injects an interrupt; the guest then ends the
/// interrupt by clearing that bit instead of writing the EOI register (Linux
/// <c>kvm_guest_apic_eoi_write</c>), and KVM performs the EOI at the vCPU's next exit.
/// </summary>
/// <remarks>
/// <para>KVM's state is the MSR value plus one host bit, <c>KVM_APIC_PV_EOI_PENDING</c>
/// (<see cref="Pending"/>): set when KVM set the guest's flag, cleared at the next exit by
/// <c>apic_sync_pv_eoi_from_guest</c>, which also clears a flag the guest left set, or performs the
/// EOI (<c>apic_set_eoi</c>) when the guest cleared it. The flag is set only on the software
/// injection path (<c>apic_sync_pv_eoi_to_guest</c> in <c>kvm_lapic_sync_to_vapic</c>): with
/// virtual-interrupt delivery active, KVM's <c>irr_pending</c> is always true, so a hardware assist
/// never gets the flag and the guest's EOI is an ordinary one. See docs/kvm-configurations.md.</para>
/// <para>Owned by one vCPU and used on its thread (or while it is paused).</para>
/// </remarks>
public sealed class PvEoi
{
    /// <summary>MSR_KVM_PV_EOI_EN.</summary>
    public const uint Msr = 0x4b56_4d04;

    /// <summary>KVM_MSR_ENABLED: bit 0 of the MSR value.</summary>
    public const ulong EnableBit = 1;

    /// <summary>KVM_PV_EOI_ENABLED: bit 0 of the guest's flag byte.</summary>
    public const byte FlagBit = 1;

    private readonly LocalApic _apic;
    private readonly ExitDispatcher? _dispatcher;
    private ulong _msrValue;
    private bool _pending;
    private long _eois;

    /// <summary>Creates the PV EOI state of the vCPU that owns <paramref name="apic"/>, disabled.</summary>
    public PvEoi(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        _apic = apic;
    }

    // The state of a vCPU's dispatcher, which holds whether PV EOI is in use (ExitDispatcher.PvEoiInUse).
    internal PvEoi(LocalApic apic, ExitDispatcher dispatcher)
        : this(apic) => _dispatcher = dispatcher;

    /// <summary>Where the guest's flag lives; without it, enabling PV EOI fails.</summary>
    public IGuestMemory? Memory { get; set; }

    /// <summary>The MSR value: the flag's guest-physical address with bit 0 the enable.</summary>
    public ulong MsrValue
    {
        get => _msrValue;
        private set
        {
            _msrValue = value;
            Publish();
        }
    }

    /// <summary>Whether PV EOI is enabled (MSR bit 0; KVM <c>pv_eoi_enabled</c>).</summary>
    public bool Enabled => (MsrValue & EnableBit) != 0;

    /// <summary>The flag's guest-physical address.</summary>
    public ulong Address => MsrValue & ~EnableBit;

    /// <summary>KVM_APIC_PV_EOI_PENDING: KVM set the guest's flag and has not looked at it since.</summary>
    public bool Pending
    {
        get => _pending;
        private set
        {
            _pending = value;
            Publish();
        }
    }

    // Tells the dispatcher whether either is on (Pending needs the enable bit through the guest's
    // paths, not through a direct TryWriteMsr: either keeps the checks on).
    private void Publish() => _dispatcher?.PvEoiInUse = Enabled || _pending;

    /// <summary>EOIs performed because the guest cleared its flag (KVM's <c>kvm_pv_eoi</c> trace points).</summary>
    public long Eois => Volatile.Read(ref _eois);

    /// <summary>
    /// A write of the MSR (KVM <c>kvm_lapic_set_pv_eoi</c>). Fails, changing nothing, when the address
    /// (bit 0 stripped) is not 4-byte aligned, i.e. bit 1 is set, or when enabling names a byte that
    /// is not guest RAM (<c>kvm_gfn_to_hva_cache_init</c> fails): the guest's WRMSR then takes #GP.
    /// </summary>
    public bool TryWriteMsr(ulong value)
    {
        ulong address = value & ~EnableBit;
        if ((address & 3) != 0)
        {
            return false;
        }

        if ((value & EnableBit) != 0 && !IsRam(address))
        {
            return false;
        }

        MsrValue = value;
        return true;
    }

    /// <summary>Back to disabled (KVM <c>kvm_lapic_reset</c> clears the MSR and the attention bits at RESET and INIT).</summary>
    public void Reset()
    {
        MsrValue = 0;
        Pending = false;
    }

    /// <summary>Sets the state from a snapshot; <paramref name="pending"/> needs <paramref name="msrValue"/> enabled.</summary>
    /// <exception cref="ArgumentException">Bit 1 set, or pending without the enable bit.</exception>
    public void Restore(ulong msrValue, bool pending)
    {
        if ((msrValue & 2) != 0)
        {
            throw new ArgumentException($"PV EOI MSR value 0x{msrValue:x} sets reserved bit 1", nameof(msrValue));
        }

        if (pending && (msrValue & EnableBit) == 0)
        {
            throw new ArgumentException("PV EOI pending without the enable bit", nameof(pending));
        }

        MsrValue = msrValue;
        Pending = pending;
    }

    /// <summary>
    /// After a VM exit (KVM <c>kvm_lapic_sync_from_vapic</c> -> <c>apic_sync_pv_eoi_from_guest</c>):
    /// if KVM had set the flag, it looks at it once. A flag still set is cleared (the guest has not
    /// ended the interrupt and will write the EOI register); a flag the guest cleared means it ended
    /// the interrupt, and KVM performs that EOI now (<c>apic_set_eoi</c>, IOAPIC included).
    /// </summary>
    public void SyncFromGuest()
    {
        if (!Pending)
        {
            return;
        }

        // KVM pv_eoi_test_and_clr_pending clears the host bit in any case: the flag is armed again
        // only when it is known to be safe. Cleared before the EOI, whose split-irqchip exit comes back here.
        Pending = false;
        Span<byte> flag = stackalloc byte[] { 0 };
        if (Memory is { } memory && memory.TryRead(Address, flag))
        {
            if ((flag[0] & FlagBit) != 0)
            {
                flag[0] = (byte)(flag[0] & ~FlagBit);
                memory.TryWrite(Address, flag);
                return;
            }
        }

        // The guest cleared the flag (or it cannot be read, which KVM also treats as an EOI).
        if (!_apic.EndOfInterruptAtExit().IsNone)
        {
            Interlocked.Increment(ref _eois);
        }
    }

    /// <summary>
    /// Before an entry that injected an event (KVM <c>kvm_lapic_sync_to_vapic</c> ->
    /// <c>apic_sync_pv_eoi_to_guest</c>, run by every entry that handles KVM_REQ_EVENT): sets the
    /// guest's flag (<c>pv_eoi_set_pending</c>) only when an EOI skipped by the guest cannot matter
    /// before KVM next looks: nothing in the IRR (a pending vector, even a lower one, could become
    /// deliverable at the EOI: KVM's <c>irr_pending</c>), the highest in-service vector known (the
    /// one an injection put there, with no EOI since: <c>highest_isr_cache</c>; after an NMI, SMI or
    /// ExtINT injection that is a vector whose flag an exit took back), and that vector not one the IOAPIC
    /// (or a split irqchip's VMM) must hear of (<c>kvm_ioapic_handles_vector</c>: level-triggered
    /// IOAPIC entries and level MSI routes). With <paramref name="virtualInterruptDelivery"/> (an
    /// active APICv/AVIC) KVM's <c>irr_pending</c> is always true: never.
    /// </summary>
    public void SyncToGuest(bool virtualInterruptDelivery)
    {
        // KVM calls it only for an enabled APIC (kvm_lapic_enabled in vcpu_enter_guest).
        if (!Enabled || virtualInterruptDelivery || !_apic.IsEnabled)
        {
            return;
        }

        // highest_isr_cache, not the highest ISR bit: unknown (-1) after any EOI, and never scanned for.
        int isr = _apic.HighestIsrSetByInjection;
        if (isr < 0 || _apic.HighestIrr >= 0 || _apic.IsIoApicHandled(isr))
        {
            return;
        }

        // Not KVM: where the profile gives a level LINT entry a Remote IRR that the EOI clears (SDM
        // 11.5.1; KVM has none), a level vector's EOI has a local effect too, so it is never deferred.
        if (!_apic.Config.Profile.LvtStatusBitsWritable && _apic.IsLevelTriggered(isr))
        {
            return;
        }

        Span<byte> flag = stackalloc byte[] { 0 };
        if (Memory is not { } memory || !memory.TryRead(Address, flag))
        {
            return;
        }

        // KVM writes the byte KVM_PV_EOI_ENABLED (pv_eoi_put_user, one u8).
        flag[0] = FlagBit;
        if (memory.TryWrite(Address, flag))
        {
            Pending = true;
        }
    }

    /// <summary>Reads the guest's flag byte bit 0 (for observation); false when disabled or not RAM.</summary>
    public bool ReadFlag()
    {
        Span<byte> flag = stackalloc byte[] { 0 };
        return Enabled && Memory is { } memory && memory.TryRead(Address, flag) && (flag[0] & FlagBit) != 0;
    }

    private bool IsRam(ulong address)
    {
        Span<byte> probe = stackalloc byte[] { 0 };
        return Memory is { } memory && memory.TryRead(address, probe);
    }
}
