// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Assist;

/// <summary>
/// Intel APICv (SDM vol. 3C chapter 30; KVM vmx.c, posted_intr.c): APIC-register virtualization,
/// virtual-interrupt delivery with EOI virtualization and the EOI-exit bitmap, APIC-write exits,
/// posted interrupts and IPI virtualization through a PID-pointer table.
/// </summary>
/// <remarks>
/// Simplifications, each invisible to the guest: the hardware paths apply the same reserved-bit
/// rules as emulation; reads of write-only offsets (EOI) are fault-like; the vCPU "is in guest
/// mode" whenever its run state is Running.
/// </remarks>
public sealed class ApicvModel : HardwareAssist
{
    private readonly PostedInterruptDescriptor[] _pid;
    private readonly ulong[] _pidTable; // IPIv PID-pointer table: descriptor "address" | valid (bit 0)
    private readonly PostedDelivery _delivery;

    /// <summary>Creates the model for the vCPUs <paramref name="peers"/> describes.</summary>
    public ApicvModel(IVcpuPeers peers)
        : base(peers)
    {
        int n = peers.Count;
        _pid = new PostedInterruptDescriptor[n];
        _pidTable = new ulong[n];
        for (int i = 0; i < n; i++)
        {
            _pid[i] = new PostedInterruptDescriptor { Nv = PostedInterruptDescriptor.NotificationVector, Ndst = (uint)i };
            _pidTable[i] = ((ulong)(i + 1) << 6) | 1;
        }

        _delivery = new PostedDelivery(this);
    }

    /// <inheritdoc/>
    public override string Name => "apicv";

    /// <summary>The posted-interrupt descriptor of vCPU <paramref name="index"/>.</summary>
    public PostedInterruptDescriptor Descriptor(int index) => _pid[index];

    /// <summary>RVI: the highest vector in the virtual IRR (after PIR sync), or 0.</summary>
    public static int Rvi(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        return Math.Max(apic.HighestIrr, 0);
    }

    /// <summary>SVI: the highest in-service vector, or 0.</summary>
    public static int Svi(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        return Math.Max(apic.HighestIsr, 0);
    }

    /// <inheritdoc/>
    public override void ConfigureVcpu(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        // The posted path stays installed while inhibited: a sender that raced with the toggle may
        // still post, and SyncToIrr keeps harvesting the PIR; new deliveries are emulated, and from
        // other threads they go through the inbox, so that only the vCPU's thread writes its IRR
        // and the sync and acknowledge need no locked instruction.
        apic.KeepIrrOwnerWritten();
        apic.Delivery = _delivery;
        OnRunStateChanged(apic.VcpuId);
    }

    /// <inheritdoc/>
    public override void OnRunStateChanged(int vcpu)
    {
        // KVM pi_enable_wakeup_handler: a blocking vCPU is notified on the wake-up vector.
        _pid[vcpu].Nv = Peers.IsBlocked(vcpu) ? PostedInterruptDescriptor.WakeupVector : PostedInterruptDescriptor.NotificationVector;
    }

    // ---------------------------------------------------------------- x2APIC (virtualize x2APIC mode)

    /// <inheritdoc/>
    public override ApicExit ReadX2ApicMsr(LocalApic apic, uint msr, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(apic);
        int offset = ApicOffset.FromMsr(msr);

        // KVM's MSR bitmap (the table's ApicvMsr column): readable registers pass through except
        // TMCCT; the rest is intercepted so it can #GP (KVM 02efd818a6c0, c39857ce8daa).
        if (!IsActive || !apic.IsX2Apic
            || ApicRegisterTable.Handling(AssistPath.ApicvMsr, offset, write: false) != AssistAccess.Accelerated
            || !apic.IsReadable(offset))
        {
            value = 0;
            return ApicExit.FaultLike(ExitReason.MsrRead, (int)msr);
        }

        value = offset == ApicOffset.Icr ? apic.Words.Read64(ApicOffset.Icr) : apic.ReadRegisterRaw(offset);
        return ApicExit.Completed;
    }

    // The write every guest handler ends with (the dispatcher sends every X2APIC_EOI write here), a
    // zero without the lookups: the ApicvMsr column virtualizes the EOI and a zero never faults
    // (AssistColumnTests and RegisterEdgeTests pin both); WriteX2ApicMsr's switch takes any other value.
    /// <inheritdoc/>
    internal override ApicExit WriteX2ApicEoi(LocalApic apic, ulong value)
    {
        if (!VirtualizesX2ApicMsrs(apic))
        {
            return ApicExit.FaultLike(ExitReason.MsrWrite, (int)ApicOffset.EoiMsr);
        }

        return value == 0 ? VirtualizeEoi(apic) : WriteX2ApicMsr(apic, ApicOffset.EoiMsr, value);
    }

    // Whether the guest's x2APIC MSR accesses meet APIC virtualization (x2APIC mode, not inhibited).
    private bool VirtualizesX2ApicMsrs(LocalApic apic) => IsActive && apic.IsX2Apic;

    /// <inheritdoc/>
    public override ApicExit WriteX2ApicMsr(LocalApic apic, uint msr, ulong value)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if (!VirtualizesX2ApicMsrs(apic))
        {
            return ApicExit.FaultLike(ExitReason.MsrWrite, (int)msr);
        }

        int offset = ApicOffset.FromMsr(msr);

        if (ApicRegisterTable.Handling(AssistPath.ApicvMsr, offset, write: true) == AssistAccess.FaultLike)
        {
            return ApicExit.FaultLike(ExitReason.MsrWrite, (int)msr);
        }

        if (apic.X2ApicWriteFaults(offset, value))
        {
            return ApicExit.GeneralProtection; // raised by the processor
        }

        switch (offset)
        {
            case ApicOffset.Tpr:
                apic.SetTpr((uint)value); // TPR virtualization
                return ApicExit.Completed;
            case ApicOffset.Eoi:
                return VirtualizeEoi(apic);
            case ApicOffset.SelfIpi when value < 16:
                // An illegal vector is not virtualized: the value lands in the virtual-APIC page and a
                // trap-like APIC-write exit follows (SDM vol. 3C 30.5, WRMSR to 83FH), so the emulated
                // write reports it as the sender would (ESR send illegal vector, SDM 11.5.3).
                apic.Words.Write(ApicOffset.SelfIpi, (uint)value);
                return ApicExit.TrapLikeExit(ExitReason.ApicWrite, ApicOffset.SelfIpi);
            case ApicOffset.SelfIpi:
                // Self-IPI virtualization (SDM vol. 3C 30.1.5): the vector goes straight into the virtual IRR.
                apic.AcceptInterrupt(InterruptMessage.SelfIpi((byte)value, apic));
                return ApicExit.Completed;
            default:
                // BUSY reads back clear, as after emulation and the APIC-write exit (KVM 629d3698f695).
                value &= ~(ulong)Icr.BusyBit;
                apic.StoreX2ApicIcr(value);
                return VirtualizeIcrWrite(apic, new Icr(value));
        }
    }

    // ---------------------------------------------------------------- xAPIC (APIC-access page)

    /// <inheritdoc/>
    public override ApicExit ReadMmio(LocalApic apic, int offset, int size, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if (!IsActive || apic.IsX2Apic || !apic.IsHardwareEnabled || size > 4 || (offset & 0xF) + size > 4
            || ApicRegisterTable.Handling(AssistPath.ApicvMmio, offset, write: false) != AssistAccess.Accelerated
            || !apic.IsReadable(offset))
        {
            value = 0;
            return ApicExit.FaultLike(ExitReason.ApicAccess, offset);
        }

        // APIC-register virtualization: the load is served from the virtual-APIC page.
        uint dword = apic.ReadRegisterRaw(offset & ~0xF);
        int shift = (offset & 3) * 8;
        value = size == 4 ? dword : (dword >> shift) & ((1u << (size * 8)) - 1);
        return ApicExit.Completed;
    }

    /// <inheritdoc/>
    public override ApicExit WriteMmio(LocalApic apic, int offset, uint value, int size)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if (!IsActive || apic.IsX2Apic || !apic.IsHardwareEnabled || size != 4 || (offset & 0xF) != 0)
        {
            return ApicExit.FaultLike(ExitReason.ApicAccess, offset);
        }

        // The store lands in the virtual-APIC page, then APIC-write emulation (SDM 30.4.3).
        switch (ApicRegisterTable.Handling(AssistPath.ApicvMmio, offset, write: true))
        {
            case AssistAccess.FaultLike:
                return ApicExit.FaultLike(ExitReason.ApicAccess, offset);
            case AssistAccess.TrapLike:
                apic.Words.Write(offset, value);
                return ApicExit.TrapLikeExit(ExitReason.ApicWrite, offset);
        }

        // TPR, EOI and IPI virtualization: the processor completes the write itself.
        switch (offset)
        {
            case ApicOffset.Tpr:
                apic.SetTpr(value);
                return ApicExit.Completed;
            case ApicOffset.Icr2:
                // With IPI virtualization, APIC-write emulation of 310H clears VICR_HI bits 23:0 and
                // nothing else happens (SDM vol. 3C 30.4.3.2): no APIC-write exit.
                apic.Words.Write(ApicOffset.Icr2, value & 0xFF00_0000);
                return ApicExit.Completed;
            case ApicOffset.Eoi:
                apic.Words.Write(ApicOffset.Eoi, value);
                return VirtualizeEoi(apic);
            case ApicOffset.Icr:
                value &= ~Icr.BusyBit; // KVM has no delay: BUSY reads back 0 on every path (629d3698f695)
                apic.Words.Write(ApicOffset.Icr, value);
                return VirtualizeIcrWrite(apic, new Icr(value | ((ulong)apic.Words.Read(ApicOffset.Icr2) << 32)));
            default:
                return ApicExit.FaultLike(ExitReason.ApicAccess, offset); // the table marks no other write accelerated
        }
    }

    // EOI virtualization (SDM 30.1.4): clear the highest vISR bit, update vPPR and SVI; an EOI-exit
    // bitmap hit (KVM loads it with ioapic_handled_vectors) makes a trap-like EOI-induced exit. Where
    // the profile gives a level LINT entry a Remote IRR (not KVM's), the bitmap has that vector too,
    // or nothing would clear it (fuzzer seed 4320474: LVT_LINT1 0xe0f5 under apicv, 0xa0f5 under none).
    private static ApicExit VirtualizeEoi(LocalApic apic)
    {
        var eoi = apic.ClearHighestIsr();
        return eoi.IoApicHandled || (!eoi.IsNone && apic.EoiClearsLintRemoteIrr(eoi.Vector))
            ? ApicExit.TrapLikeExit(ExitReason.EoiInduced, eoi.Vector)
            : ApicExit.Completed;
    }

    // IPI virtualization (SDM 30.1.6): fixed, edge, physical, no shorthand, vector >= 16 and a
    // destination inside the PID-pointer table post directly; a self shorthand is self-IPI
    // virtualization; everything else is an APIC-write exit on the ICR (trap-like). Both accept the
    // vector from the ICR's fields, with no message built (as the x2APIC ICR fastpath does).
    private ApicExit VirtualizeIcrWrite(LocalApic apic, Icr icr)
    {
        bool plainFixed = icr.DeliveryMode == DeliveryMode.Fixed && icr.TriggerMode == TriggerMode.Edge && icr.Vector >= 16;
        uint destination = icr.DestinationFor(apic.IsX2Apic);
        if (plainFixed && icr.Shorthand == DestinationShorthand.None && icr.DestinationMode == DestinationMode.Physical
            && destination < (uint)_pidTable.Length && (_pidTable[destination] & 1) != 0 && destination != InterruptMessage.BroadcastDestination(apic.IsX2Apic))
        {
            Peers.Apic((int)destination).AcceptFixed(icr.Vector, TriggerMode.Edge, icr.Level);
            return ApicExit.Completed;
        }

        if (plainFixed && icr.Shorthand == DestinationShorthand.Self)
        {
            apic.AcceptFixed(icr.Vector, TriggerMode.Edge, icr.Level);
            return ApicExit.Completed;
        }

        return ApicExit.TrapLikeExit(ExitReason.ApicWrite, ApicOffset.Icr);
    }

    /// <summary>Fixed vectors for an active APICv vCPU are posted into its descriptor.</summary>
    private sealed class PostedDelivery(ApicvModel model) : IVectorDelivery
    {
        public bool Deliver(LocalApic apic, int vector)
        {
            // Inhibited: emulated delivery. On the bound vCPU's own thread (its timer, a self-IPI),
            // the vCPU is not in guest mode, so KVM would sync the PIR at the next entry anyway:
            // the vector goes straight into the virtual IRR.
            if (!model.IsActive || apic.IsOwnerThread)
            {
                apic.SetIrrAndKick(vector);
                return false;
            }

            var pid = model._pid[apic.VcpuId];
            if (pid.Post(vector))
            {
                // A notification to NDST (running) or the wake-up vector (blocked): either way the
                // vCPU gets to process the PIR.
                apic.Host.Kick(apic);
            }

            return true;
        }

        public void SyncToIrr(LocalApic apic) => model._pid[apic.VcpuId].SyncTo(apic);

        public void Reset(LocalApic apic) => model._pid[apic.VcpuId].Clear();

        public bool HoldsPending(LocalApic apic, int vector) => model._pid[apic.VcpuId].TestPir(vector);
    }
}
