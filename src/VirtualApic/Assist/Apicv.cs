using System.Numerics;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Hypervisor;
using VirtualApic.Registers;

namespace VirtualApic.Assist;

/// <summary>
/// A posted-interrupt descriptor (SDM vol. 3C 30.6): the 256-bit PIR and the control word with
/// ON (bit 0), SN (bit 1), NV (bits 23:16) and NDST (bits 63:32). Senders on any thread post into it.
/// </summary>
public sealed class PostedInterruptDescriptor
{
    /// <summary>The posted-interrupt notification vector KVM uses (POSTED_INTR_VECTOR).</summary>
    public const byte NotificationVector = 0xF2;
    /// <summary>The wake-up vector KVM uses while the vCPU blocks (POSTED_INTR_WAKEUP_VECTOR).</summary>
    public const byte WakeupVector = 0xF1;

    private readonly ulong[] _pir = new ulong[4];
    private long _control;

    /// <summary>Outstanding notification (ON).</summary>
    public bool OutstandingNotification => (Volatile.Read(ref _control) & 1) != 0;

    /// <summary>Suppress notification (SN).</summary>
    public bool SuppressNotification
    {
        get => (Volatile.Read(ref _control) & 2) != 0;
        set
        {
            if (value)
            {
                Interlocked.Or(ref _control, 2);
            }
            else
            {
                Interlocked.And(ref _control, ~2L);
            }
        }
    }

    /// <summary>Notification vector (NV).</summary>
    public byte Nv
    {
        get => (byte)(Volatile.Read(ref _control) >> 16);
        set => Update(0xFFL << 16, (long)value << 16);
    }

    /// <summary>Notification destination (NDST): the physical APIC ID of the pCPU running the vCPU.</summary>
    public uint Ndst
    {
        get => (uint)(Volatile.Read(ref _control) >> 32);
        set => Update(unchecked((long)0xFFFF_FFFF_0000_0000), (long)value << 32);
    }

    /// <summary>Notifications sent (diagnostics).</summary>
    public long Notifications => Interlocked.Read(ref _notifications);

    private long _notifications;

    /// <summary>Whether <paramref name="vector"/> is posted and not yet synced.</summary>
    public bool TestPir(int vector) => (Volatile.Read(ref _pir[vector >> 6]) & (1ul << vector)) != 0;

    /// <summary>
    /// Posts <paramref name="vector"/> (KVM <c>__vmx_deliver_posted_interrupt</c>): returns true when
    /// the caller must notify: the PIR bit was new and ON was clear.
    /// </summary>
    public bool Post(int vector)
    {
        ulong bit = 1ul << vector;
        if ((Interlocked.Or(ref _pir[vector >> 6], bit) & bit) != 0)
        {
            return false;
        }

        if ((Interlocked.Or(ref _control, 1) & 1) != 0)
        {
            return false;
        }

        Interlocked.Increment(ref _notifications);
        return true;
    }

    /// <summary>
    /// Folds the PIR into the IRR when ON is set (KVM <c>sync_pir_to_irr</c>): ON is cleared first,
    /// then each PIR word is harvested atomically, so a concurrent post is never lost.
    /// </summary>
    public void SyncTo(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if ((Volatile.Read(ref _control) & 1) == 0)
        {
            return;
        }

        Interlocked.And(ref _control, ~1L);
        for (int i = 0; i < 4; i++)
        {
            // Only words with bits need the atomic harvest; a post racing with this read sets ON
            // again after its PIR bit, so it is synced next time.
            if (Volatile.Read(ref _pir[i]) == 0)
            {
                continue;
            }

            ulong bits = Interlocked.Exchange(ref _pir[i], 0);
            if (bits != 0)
            {
                apic.OrIrrWord(2 * i, (uint)bits);
                apic.OrIrrWord((2 * i) + 1, (uint)(bits >> 32));
            }
        }
    }

    /// <summary>Drops everything posted (KVM <c>apicv_pre_state_restore</c>, reset).</summary>
    public void Clear()
    {
        Interlocked.And(ref _control, ~1L);
        for (int i = 0; i < 4; i++)
        {
            Interlocked.Exchange(ref _pir[i], 0);
        }
    }

    private void Update(long mask, long bits)
    {
        long current;
        do
        {
            current = Volatile.Read(ref _control);
        }
        while (Interlocked.CompareExchange(ref _control, (current & ~mask) | bits, current) != current);
    }
}

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

    /// <summary>Creates the model for <paramref name="vm"/>.</summary>
    public ApicvModel(VirtualMachine vm)
        : base(vm)
    {
        int n = vm.Vcpus.Count;
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

    /// <inheritdoc/>
    protected override ApicvInhibit RelevantInhibits =>
        ApicvInhibit.ApicIdModified | ApicvInhibit.ApicBaseModified | ApicvInhibit.PhysicalIdAliased;

    /// <summary>The posted-interrupt descriptor of vCPU <paramref name="index"/>.</summary>
    public PostedInterruptDescriptor Descriptor(int index) => _pid[index];

    /// <summary>RVI: the highest vector in the virtual IRR (after PIR sync), or 0.</summary>
    public int Rvi(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return Math.Max(vcpu.Apic.HighestIrr, 0);
    }

    /// <summary>SVI: the highest in-service vector, or 0.</summary>
    public static int Svi(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return Math.Max(vcpu.Apic.HighestIsr, 0);
    }

    /// <inheritdoc/>
    protected override void ConfigureVcpu(Vcpu vcpu, bool active)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        // The posted path stays installed while inhibited: a sender that raced with the toggle may
        // still post, and SyncToIrr keeps harvesting the PIR; new deliveries go to the IRR directly.
        vcpu.Apic.Delivery = _delivery;
        OnRunStateChanged(vcpu);
    }

    /// <inheritdoc/>
    public override void OnRunStateChanged(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);

        // KVM pi_enable_wakeup_handler: a blocking vCPU is notified on the wake-up vector.
        _pid[vcpu.Index].Nv = vcpu.State == VcpuRunState.Halted || vcpu.IsBlocking ? PostedInterruptDescriptor.WakeupVector : PostedInterruptDescriptor.NotificationVector;
    }

    // ---------------------------------------------------------------- x2APIC (virtualize x2APIC mode)

    /// <inheritdoc/>
    public override bool ReadX2ApicMsr(Vcpu vcpu, uint msr, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var apic = vcpu.Apic;
        int offset = ApicOffset.FromMsr(msr);

        // KVM's MSR bitmap: readable registers pass through except TMCCT; the rest is intercepted
        // so it can #GP (KVM 02efd818a6c0, c39857ce8daa).
        if (!IsActive || !apic.IsX2Apic || offset == ApicOffset.Tmcct || !apic.IsReadable(offset))
        {
            return InterceptedRead(vcpu, msr, out value);
        }

        value = offset == ApicOffset.Icr ? apic.Page.Read64(ApicOffset.Icr) : apic.ReadRegisterRaw(offset);
        return true;
    }

    /// <inheritdoc/>
    public override bool WriteX2ApicMsr(Vcpu vcpu, uint msr, ulong value)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var apic = vcpu.Apic;
        int offset = ApicOffset.FromMsr(msr);
        if (!IsActive || !apic.IsX2Apic || offset is not (ApicOffset.Tpr or ApicOffset.Eoi or ApicOffset.SelfIpi or ApicOffset.Icr))
        {
            return InterceptedWrite(vcpu, msr, value);
        }

        if (X2ApicWriteFaults(vcpu, offset, value))
        {
            return false; // #GP raised by the processor
        }

        switch (offset)
        {
            case ApicOffset.Tpr:
                apic.SetTpr((uint)value); // TPR virtualization
                break;
            case ApicOffset.Eoi:
                VirtualizeEoi(vcpu);
                break;
            case ApicOffset.SelfIpi:
                // Self-IPI virtualization: the vector goes straight into the virtual IRR.
                apic.AcceptInterrupt(InterruptMessage.Fixed((byte)value) with { Shorthand = DestinationShorthand.Self, Source = InterruptSource.Ipi, SourceVcpu = vcpu.Index });
                break;
            default:
                // BUSY reads back clear, as after emulation and the APIC-write exit (KVM 629d3698f695).
                value &= ~(ulong)Icr.BusyBit;
                apic.StoreX2ApicIcr(value);
                VirtualizeIcrWrite(vcpu, new Icr(value));
                break;
        }

        return true;
    }

    // ---------------------------------------------------------------- xAPIC (APIC-access page)

    private static bool IsVirtualizedRead(int offset) => (offset & ~0xF) switch
    {
        ApicOffset.Id or ApicOffset.Version or ApicOffset.Tpr or ApicOffset.Ldr or ApicOffset.Dfr or ApicOffset.Svr
            or ApicOffset.Esr or ApicOffset.Icr or ApicOffset.Icr2 or ApicOffset.Tmict or ApicOffset.Tdcr => true,
        >= ApicOffset.Isr and < ApicOffset.Esr => true,
        >= ApicOffset.LvtTimer and <= ApicOffset.LvtError => true,
        _ => false,
    };

    private static bool IsVirtualizedWrite(int offset) => offset switch
    {
        ApicOffset.Id or ApicOffset.Tpr or ApicOffset.Eoi or ApicOffset.Ldr or ApicOffset.Dfr or ApicOffset.Svr
            or ApicOffset.Esr or ApicOffset.Icr or ApicOffset.Icr2 or ApicOffset.Tmict or ApicOffset.Tdcr => true,
        >= ApicOffset.LvtTimer and <= ApicOffset.LvtError => true,
        _ => false,
    };

    /// <inheritdoc/>
    public override ulong ReadMmio(Vcpu vcpu, int offset, int size)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var apic = vcpu.Apic;
        if (!IsActive || apic.IsX2Apic || !apic.IsHardwareEnabled || size > 4 || (offset & 0xF) + size > 4
            || !IsVirtualizedRead(offset) || !apic.IsReadable(offset))
        {
            return FaultRead(vcpu, offset, size);
        }

        // APIC-register virtualization: the load is served from the virtual-APIC page.
        uint dword = apic.ReadRegisterRaw(offset & ~0xF);
        int shift = (offset & 3) * 8;
        return size == 4 ? dword : (dword >> shift) & ((1u << (size * 8)) - 1);
    }

    /// <inheritdoc/>
    public override void WriteMmio(Vcpu vcpu, int offset, uint value, int size)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var apic = vcpu.Apic;
        if (!IsActive || apic.IsX2Apic || !apic.IsHardwareEnabled || size != 4 || (offset & 0xF) != 0 || !IsVirtualizedWrite(offset))
        {
            FaultWrite(vcpu, offset, value, size);
            return;
        }

        // The store lands in the virtual-APIC page, then APIC-write emulation (SDM 30.4.3).
        switch (offset)
        {
            case ApicOffset.Tpr:
                apic.SetTpr(value);
                return;
            case ApicOffset.Icr2:
                // With IPI virtualization, APIC-write emulation of 310H clears VICR_HI bits 23:0 and
                // nothing else happens (SDM vol. 3C 30.4.3.2): no APIC-write exit.
                apic.Page.Write(ApicOffset.Icr2, value & 0xFF00_0000);
                return;
            case ApicOffset.Eoi:
                apic.Page.Write(ApicOffset.Eoi, value);
                VirtualizeEoi(vcpu);
                return;
            case ApicOffset.Icr:
                value &= ~Icr.BusyBit; // KVM has no delay: BUSY reads back 0 on every path (629d3698f695)
                apic.Page.Write(ApicOffset.Icr, value);
                VirtualizeIcrWrite(vcpu, new Icr(value | ((ulong)apic.Page.Read(ApicOffset.Icr2) << 32)));
                return;
            default:
                apic.Page.Write(offset, value);
                ApicWriteExit(vcpu, offset);
                return;
        }
    }

    private void ApicWriteExit(Vcpu vcpu, int offset)
    {
        Exit(vcpu, ExitReason.ApicWrite, offset, trapLike: true);
        ApicExitHandler.HandleTrapLikeWrite(vcpu, offset);
    }

    // EOI virtualization (SDM 30.1.4): clear the highest vISR bit, update vPPR and SVI; an EOI-exit
    // bitmap hit (KVM loads it with ioapic_handled_vectors) makes a trap-like EOI-induced exit.
    private void VirtualizeEoi(Vcpu vcpu)
    {
        int vector = vcpu.Apic.ClearHighestIsr();
        if (vector >= 0 && vcpu.Apic.IsIoApicHandled(vector))
        {
            Exit(vcpu, ExitReason.EoiInduced, vector, trapLike: true);
            ApicExitHandler.HandleEoiInduced(vcpu, vector);
        }

        Tracer?.OnEoi(vcpu.Index, vector);
    }

    // IPI virtualization (SDM 30.1.6): fixed, edge, physical, no shorthand, vector >= 16 and a
    // destination inside the PID-pointer table post directly; a self shorthand is self-IPI
    // virtualization; everything else is an APIC-write exit on the ICR (trap-like).
    private void VirtualizeIcrWrite(Vcpu vcpu, Icr icr)
    {
        var apic = vcpu.Apic;
        bool plainFixed = icr.DeliveryMode == DeliveryMode.Fixed && icr.TriggerMode == TriggerMode.Edge && icr.Vector >= 16;
        uint destination = apic.IsX2Apic ? icr.X2ApicDestination : icr.XApicDestination;
        if (plainFixed && icr.Shorthand == DestinationShorthand.None && icr.DestinationMode == DestinationMode.Physical
            && destination < (uint)_pidTable.Length && (_pidTable[destination] & 1) != 0 && destination != (apic.IsX2Apic ? 0xFFFF_FFFFu : 0xFFu))
        {
            var target = Vm.Vcpus[(int)destination].Apic;
            target.AcceptInterrupt(new InterruptMessage(icr.Vector, DeliveryMode.Fixed, DestinationMode.Physical, destination, TriggerMode.Edge, true, DestinationShorthand.None, InterruptSource.Ipi, vcpu.Index));
            return;
        }

        if (plainFixed && icr.Shorthand == DestinationShorthand.Self)
        {
            apic.AcceptInterrupt(new InterruptMessage(icr.Vector, DeliveryMode.Fixed, DestinationMode.Physical, 0, TriggerMode.Edge, true, DestinationShorthand.Self, InterruptSource.Ipi, vcpu.Index));
            return;
        }

        ApicWriteExit(vcpu, ApicOffset.Icr);
    }

    /// <summary>Fixed vectors for an active APICv vCPU are posted into its descriptor.</summary>
    private sealed class PostedDelivery(ApicvModel model) : IVectorDelivery
    {
        public void Deliver(LocalApic apic, int vector)
        {
            // Inhibited: emulated delivery. On the bound vCPU's own thread (its timer, a self-IPI),
            // the vCPU is not in guest mode, so KVM would sync the PIR at the next entry anyway:
            // the vector goes straight into the virtual IRR.
            if (!model.IsActive || apic.IsOwnerThread)
            {
                apic.SetIrrAndKick(vector);
                return;
            }

            var pid = model._pid[apic.VcpuId];
            if (pid.Post(vector))
            {
                // A notification to NDST (running) or the wake-up vector (blocked): either way the
                // vCPU gets to process the PIR.
                apic.Host.Kick(apic);
            }

            model.Tracer?.OnDelivery(apic.VcpuId, vector, posted: true);
        }

        public void SyncToIrr(LocalApic apic) => model._pid[apic.VcpuId].SyncTo(apic);

        public void Reset(LocalApic apic) => model._pid[apic.VcpuId].Clear();
    }
}
