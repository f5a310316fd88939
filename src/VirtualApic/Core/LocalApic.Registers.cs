// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;

namespace VirtualApic.Core;

public sealed partial class LocalApic
{
    private static RegisterFeatures FeaturesOf(ApicConfig config) =>
        (config.CmciSupported ? RegisterFeatures.Cmci : 0)
        | (config.DirectedEoiSupported ? RegisterFeatures.DirectedEoi : 0)
        | (config.TscDeadlineSupported ? RegisterFeatures.TscDeadline : 0)
        | (config.Profile.LvtStatusBitsWritable ? RegisterFeatures.LvtStatusWritable : 0)
        | (config.Profile.X2ApicReservedBitsFault ? RegisterFeatures.X2ApicReservedBitsFault : 0)
        | (config.Profile.X2ApicEoiNonZeroFaults ? RegisterFeatures.X2ApicEoiNonZeroFaults : 0);

    /// <summary>
    /// Whether the register at <paramref name="offset"/> is readable in the current mode (KVM
    /// <c>kvm_lapic_readable_reg_mask</c>). EOI, RRD and SELF_IPI never are: that rule is the seed bug.
    /// </summary>
    public bool IsReadable(int offset) =>
        (uint)offset <= 0x3F0 && ((IsX2Apic ? _readableX2Apic : _readableXApic) & (1ul << (offset >> 4))) != 0;

    /// <summary>
    /// Reads a register as the guest-facing access paths do (KVM <c>kvm_lapic_reg_read</c>): up to
    /// 4 bytes inside one dword, readable registers only. Returns false on failure (#GP through an
    /// MSR; an MMIO read is ignored).
    /// </summary>
    internal bool TryReadRegister(int offset, int length, out uint value)
    {
        value = 0;
        int alignment = offset & 0xF;
        if (length is not (1 or 2 or 4) || alignment + length > 4)
        {
            return false;
        }

        if (!IsReadable(offset))
        {
            RecordIllegalRegister(offset);
            return false;
        }

        uint dword = ReadRegisterRaw(offset & ~0xF);
        value = length == 4 ? dword : (dword >> (alignment * 8)) & ((1u << (length * 8)) - 1);
        return true;
    }

    /// <summary>
    /// The value of the register at <paramref name="offset"/> without access checks or side effects
    /// other than computing derived registers (PPR, APR, TMCCT), as probes and the save path see it.
    /// </summary>
    public uint ReadRegisterRaw(int offset)
    {
        switch (offset)
        {
            case ApicOffset.Apr:
                return Config.Profile.ArbitrationPriorityReadsZero ? 0 : ArbitrationPriority();
            case ApicOffset.Tmcct:
                return Timer.CurrentCount();
            case ApicOffset.Ppr:
                UpdatePpr();
                return Words.Read(ApicOffset.Ppr);
            case ApicOffset.Esr:
                return Words.Read(ApicOffset.Esr);
            default:
                if (offset is >= ApicOffset.Irr and < ApicOffset.Irr + 0x80)
                {
                    SyncIrr();
                }

                return Words.Read(offset);
        }
    }

    // SDM 11.8.3 / P6 APR: TPR when it outranks both the highest IRR and ISR classes, else the
    // highest of the three classes.
    private uint ArbitrationPriority()
    {
        uint tpr = Words.Read(ApicOffset.Tpr);
        int irrv = Math.Max(HighestIrr, 0);
        int isrv = Math.Max(HighestIsr, 0);
        if ((tpr & 0xF0) >= (uint)(irrv & 0xF0) && (tpr & 0xF0) > (uint)(isrv & 0xF0))
        {
            return tpr & 0xFF;
        }

        return Math.Max(tpr & 0xF0, Math.Max((uint)irrv & 0xF0, (uint)isrv & 0xF0));
    }

    /// <summary>
    /// Writes a register with its architectural side effects (KVM <c>kvm_lapic_reg_write</c>). The
    /// offset must be 16-byte aligned. Returns false when the write fails (#GP through an x2APIC
    /// MSR; ignored through MMIO). In x2APIC mode the ICR goes through <see cref="WriteX2ApicIcr"/>.
    /// </summary>
    /// <remarks>
    /// Every rule that is data comes from <see cref="ApicRegisterTable"/>: whether the register is
    /// writable in the mode, which bits #GP in x2APIC mode, which bits the write keeps, compiled
    /// once per APIC for its features and profile (<see cref="RegisterWrite"/>: one load per write).
    /// The switch is over the side effects only; the EOI, the write on every interrupt's path, is
    /// taken before it so that it costs a compare and the EOI itself. A trap-like replay calls
    /// this with the value already in the page; each effect that needs the old value reads the
    /// shadow its row names (<see cref="ReplayShadow"/>), never the page.
    /// </remarks>
    public bool WriteRegister(int offset, uint value)
    {
        bool x2 = IsX2Apic;
        var rule = (uint)offset <= 0x3F0 && (offset & 0xF) == 0 ? (x2 ? _x2ApicWrites : _xApicWrites)[offset >> 4] : default;
        if (rule.Effect == WriteEffect.None || (value & rule.FaultBits) != 0)
        {
            RecordIllegalRegister(offset);
            return false;
        }

        if (rule.Effect == WriteEffect.Eoi)
        {
            EndOfInterrupt(); // the value is ignored (SDM 11.8.5) once it has passed the x2APIC #GP rule
            return true;
        }

        return ApplyWrite(offset, rule.Effect, (value & rule.Kept) | rule.ForcedOnes, x2);
    }

    // The side effect of an accepted write of the kept bits (WriteRegister's second half).
    private bool ApplyWrite(int offset, WriteEffect effect, uint kept, bool x2)
    {
        switch (effect)
        {
            case WriteEffect.Store:
                Words.Write(offset, kept);
                break;
            case WriteEffect.Remap:
                Words.Write(offset, kept); // the map still routes by the old value until rebuilt (ReplayShadow.ApicMap)
                MapInputsChanged();
                break;
            case WriteEffect.Priority:
                SetTpr(kept);
                break;
            case WriteEffect.SoftwareEnable:
                WriteSvr(kept);
                break;
            case WriteEffect.LatchErrors:
                // SDM 11.5.3: a write latches the errors detected since the last write; senders'
                // threads may be adding receive errors, hence the exchange.
                Words.Write(ApicOffset.Esr, Interlocked.Exchange(ref _esrPending, 0));
                break;
            case WriteEffect.SendIpi:
                if (x2)
                {
                    // 64-bit callers use WriteX2ApicIcr; a 32-bit write keeps the stored high half.
                    return WriteX2ApicIcr(kept | ((ulong)ReadX2ApicIcrHigh() << 32));
                }

                SendIpi(new Icr(kept | ((ulong)Words.Read(ApicOffset.Icr2) << 32))); // BUSY is clear: KVM has no delay
                Words.Write(ApicOffset.Icr, kept);
                break;
            case WriteEffect.Lvt:
                WriteLvt(offset, kept);
                break;
            case WriteEffect.LvtTimer:
                WriteLvt(offset, kept);
                Timer.OnLvtWritten(); // compares with the timer's latched mode (ReplayShadow.Timer)
                break;
            case WriteEffect.TimerCount:
                Timer.WriteInitialCount(kept);
                break;
            case WriteEffect.TimerDivide:
                Timer.WriteDivideConfiguration(kept);
                break;
            case WriteEffect.SelfIpi:
                // SELF_IPI leaves the ICR untouched (KVM commit d22a81b304a2).
                SendIpi(Icr.Create((byte)kept, shorthand: DestinationShorthand.Self));
                break;
            default:
                RecordIllegalRegister(offset);
                return false;
        }

        return true;
    }

    private void RecordIllegalRegister(int offset)
    {
        // SDM 11.5.3: illegal register address (ESR bit 7) is an access to a *reserved* offset of
        // the xAPIC page; a write to a read-only register or a read of a write-only one is just
        // ignored. x2APIC accesses #GP instead.
        if (!IsX2Apic && IsReservedInXApic(offset))
        {
            RecordError(EsrIllegalRegisterAddress);
        }
    }

    // Reserved in this APIC's xAPIC page (SDM table 11-1): no row, a row this CPU lacks (LVT CMCI
    // without CMCI), or a register that exists only in x2APIC mode (SELF_IPI, SDM table 11-6).
    // RRD, which no mode may access here, is still a register of the xAPIC page, not a reserved one.
    private bool IsReservedInXApic(int offset) =>
        ApicRegisterTable.Find(offset) is not { } row
        || !row.IsPresent(_registerFeatures)
        || (row.XApic == RegisterAccess.None && row.X2Apic != RegisterAccess.None);

    private void WriteLvt(int offset, uint value)
    {
        if (!IsSoftwareEnabled)
        {
            value |= Lvt.MaskedBit; // SDM 11.4.7.2: the mask bits cannot be cleared while SW-disabled
        }

        // Without RegisterFeatures.LvtStatusWritable the table's mask has dropped the status bits the
        // APIC owns; the LINT remote IRR comes from its shadow (ReplayShadow.LvtStatus), not the page,
        // which a trap-like write has already overwritten.
        if (OwnsLvtStatusBits && LintRemoteIrr(offset))
        {
            value |= Lvt.RemoteIrrBit;
        }

        Words.Write(offset, value);
    }

    private void WriteSvr(uint value)
    {
        // Compare with the shadowed enable bit, not the page: after a trap-like write the page
        // already holds the new value (ReplayShadow.SoftwareEnable; KVM keeps apic->sw_enabled).
        bool wasEnabled = _softwareEnabled;
        Words.Write(ApicOffset.Svr, value);
        bool enabled = IsSoftwareEnabled;
        _softwareEnabled = enabled;
        if (!enabled)
        {
            // SDM 11.4.7.2: software disable masks every LVT entry.
            for (int i = 0; i < _lvtCount; i++)
            {
                int lvt = LvtOffset(i);
                Words.Write(lvt, Words.Read(lvt) | Lvt.MaskedBit);
            }

            Timer.OnLvtWritten();
        }

        if (wasEnabled != enabled)
        {
            MapInputsChanged();
        }
    }

    private void SetXApicId(uint id)
    {
        Words.Write(ApicOffset.Id, id << 24);
        MapInputsChanged();
    }

    // Every change of what the APIC map is built from (ID, LDR, DFR, SVR's enable bit, APIC_BASE)
    // ends here: the map's copies of the page registers are taken, then the host rebuilds.
    private void MapInputsChanged()
    {
        MapXApicId = (byte)(Words.Read(ApicOffset.Id) >> 24);
        MapLdr = Words.Read(ApicOffset.Ldr);
        MapDfr = Words.Read(ApicOffset.Dfr);
        Host.ApicMapChanged(this);
    }

    // ---------------------------------------------------------------------------------------
    // The ICR and IPIs.
    // ---------------------------------------------------------------------------------------

    /// <summary>The 64-bit x2APIC ICR as stored in the page (split on AMD, one 64-bit value on Intel).</summary>
    public ulong ReadX2ApicIcr() =>
        Config.X2ApicIcrSplit
            ? Words.Read(ApicOffset.Icr) | ((ulong)Words.Read(ApicOffset.Icr2) << 32)
            : Words.Read64(ApicOffset.Icr);

    private uint ReadX2ApicIcrHigh() => (uint)(ReadX2ApicIcr() >> 32);

    /// <summary>
    /// Stores a 64-bit x2APIC ICR in the vendor's page layout: split into ICR + ICR2 on AMD, one
    /// 64-bit value at 0x300 on Intel. The Intel layout also mirrors the high half into ICR2, so that
    /// leaving x2APIC mode shows the same ICR2 whatever the layout (a guest must not tell them apart).
    /// </summary>
    internal void StoreX2ApicIcr(ulong value)
    {
        if (!Config.X2ApicIcrSplit)
        {
            Words.Write(ApicOffset.Icr + 4, (uint)(value >> 32));
        }

        Words.Write(ApicOffset.Icr, (uint)value);
        Words.Write(ApicOffset.Icr2, (uint)(value >> 32));
    }

    /// <summary>
    /// A 64-bit x2APIC ICR write (KVM <c>kvm_x2apic_icr_write</c>): the reserved bits #GP
    /// (commit 71bf395a276f), BUSY is cleared, the IPI is sent, the value is stored. Returns false on #GP.
    /// </summary>
    internal bool WriteX2ApicIcr(ulong value)
    {
        if ((value & Icr.X2ApicReservedBits) != 0)
        {
            return false;
        }

        value &= ~(ulong)Icr.BusyBit;
        var icr = new Icr(value);
        if (!TrySendUnicast(icr))
        {
            SendIpi(icr);
        }

        StoreX2ApicIcr(value);
        return true;
    }

    // KVM's x2APIC ICR fastpath (x86.c handle_fastpath_set_x2apic_icr_irqoff): a fixed, physical IPI
    // with no shorthand, the common IPI of an x2APIC guest, is accepted straight into the one APIC
    // its ID names, without a message built for the router and read back by it (W3 none at 64 vCPUs
    // 44.8 -> 40.7 ns; docs/performance.md, "Forty-second session"). Vectors 0-15 (the profile's ESR
    // rule) and destinations the host cannot name at once (none, several, the broadcast ID, which no
    // APIC claims) take the general path.
    private bool TrySendUnicast(Icr icr)
    {
        if ((icr.Raw & Icr.RoutingBits) != 0 || icr.Vector < 16)
        {
            return false;
        }

        var target = Host.FindUnicastTarget(icr.X2ApicDestination);
        if (target is null)
        {
            return false;
        }

        target.AcceptFixed(icr.Vector, icr.TriggerMode, icr.Level);
        return true;
    }

    /// <summary>
    /// Sends the IPI an ICR value describes (KVM <c>kvm_apic_send_ipi</c>), with the destination read in
    /// the sender's mode. Used by ICR writes and by a hypervisor emulating an IPI the hardware gave up on.
    /// </summary>
    internal void SendIpi(Icr icr)
    {
        var mode = icr.DeliveryMode;
        if (icr.Vector < 16 && mode is DeliveryMode.Fixed or DeliveryMode.LowestPriority
            && Config.Profile.RejectsIllegalVectors)
        {
            RecordError(EsrSendIllegalVector);
            return;
        }

        var message = InterruptMessage.FromIcr(icr, this);
        Host.SendIpi(this, message);
    }

    // ---------------------------------------------------------------------------------------
    // The x2APIC MSR interface and the xAPIC MMIO interface.
    // ---------------------------------------------------------------------------------------

    /// <summary>
    /// RDMSR of an x2APIC register (KVM <c>kvm_x2apic_msr_read</c>). Returns false for #GP: not in
    /// x2APIC mode, an absent or write-only register.
    /// </summary>
    public bool TryReadX2ApicMsr(uint msr, out ulong value)
    {
        value = 0;
        if (!IsX2Apic || msr < ApicOffset.X2ApicMsrBase || msr > ApicOffset.X2ApicMsrLast)
        {
            return false;
        }

        int offset = ApicOffset.FromMsr(msr);
        if (offset == ApicOffset.Icr)
        {
            value = ReadX2ApicIcr();
            return true;
        }

        if (!TryReadRegister(offset, 4, out uint low))
        {
            return false;
        }

        value = low;
        return true;
    }

    /// <summary>
    /// WRMSR of an x2APIC register (KVM <c>kvm_x2apic_msr_write</c>). Returns false for #GP: not in
    /// x2APIC mode, bits 63:32 set (except the ICR, commit ab52be1b310b), or the register's own rules.
    /// </summary>
    public bool TryWriteX2ApicMsr(uint msr, ulong value)
    {
        if (!IsX2Apic || msr < ApicOffset.X2ApicMsrBase || msr > ApicOffset.X2ApicMsrLast)
        {
            return false;
        }

        // The MSR is tested, not the offset made from it (ApicOffset.EoiMsr says why).
        if (msr == ApicOffset.EoiMsr && value == 0)
        {
            // The write every guest's handler ends with. The EOI row of the x2APIC write table
            // accepts a zero in every profile (EoiMustBeZero faults only on other values), so the
            // table is skipped here and its lookup is not inlined into every EOI exit.
            EndOfInterrupt();
            return true;
        }

        if (msr == ApicOffset.IcrMsr)
        {
            return WriteX2ApicIcr(value);
        }

        if ((value >> 32) != 0)
        {
            return false;
        }

        return WriteRegister(ApicOffset.FromMsr(msr), (uint)value);
    }

    /// <summary>
    /// Whether a WRMSR of <paramref name="value"/> to the x2APIC register at <paramref name="offset"/>
    /// raises #GP for the value alone (SDM vol. 3A 11.12.1.3), by the row's
    /// <see cref="X2ApicReservedRule"/>. The hardware assists make the same check before a
    /// pass-through write lands, so a guest cannot tell the paths apart.
    /// </summary>
    internal bool X2ApicWriteFaults(int offset, ulong value)
    {
        if (offset == ApicOffset.Icr)
        {
            return (value & Icr.X2ApicReservedBits) != 0; // the one 64-bit register
        }

        var rule = _x2ApicWrites[(offset >> 4) & 0x3F];
        return rule.Effect == WriteEffect.None || (value >> 32) != 0 || ((uint)value & rule.FaultBits) != 0;
    }

    /// <summary>
    /// A guest load from the APIC MMIO window (KVM <c>apic_mmio_read</c>). In x2APIC mode or when
    /// hardware-disabled, the window is a hole that reads all-ones (KVM_X86_QUIRK_LAPIC_MMIO_HOLE).
    /// A failed read (unreadable register, access straddling a dword) returns 0.
    /// </summary>
    public ulong MmioRead(int offset, int size)
    {
        if (!IsHardwareEnabled || IsX2Apic)
        {
            return size >= 8 ? ulong.MaxValue : (1ul << (size * 8)) - 1;
        }

        return TryReadRegister(offset, size, out uint value) ? value : 0;
    }

    /// <summary>
    /// A guest store to the APIC MMIO window (KVM <c>apic_mmio_write</c>): anything but an aligned
    /// 4-byte store to a 16-byte slot is dropped, as are stores in the MMIO hole.
    /// </summary>
    public void MmioWrite(int offset, uint value, int size)
    {
        if (!IsHardwareEnabled || IsX2Apic || size != 4 || (offset & 0xF) != 0)
        {
            return;
        }

        WriteRegister(offset, value); // an offset past the page is reserved, as MmioRead treats it, not an alias
    }

    // ---------------------------------------------------------------------------------------
    // IA32_APIC_BASE (KVM kvm_apic_set_base / __kvm_apic_set_base; SDM 11.4.4, 11.12.5).
    // ---------------------------------------------------------------------------------------

    /// <summary>
    /// Writes IA32_APIC_BASE. A guest (<paramref name="hostInitiated"/> false) may not go from
    /// x2APIC to xAPIC nor from disabled to x2APIC; nobody may set reserved bits or the invalid
    /// EN=0/EXTD=1 combination. Returns false for #GP (guest) or an error (host).
    /// </summary>
    public bool SetApicBase(ulong value, bool hostInitiated)
    {
        if (value == _apicBase)
        {
            return true;
        }

        var newMode = new ApicBase(value).Mode;
        if ((value & ApicBase.ReservedBits(Config.MaxPhysAddr, Config.X2ApicSupported)) != 0
            || newMode == ApicMode.Invalid)
        {
            return false;
        }

        var oldMode = Mode;
        if (!hostInitiated
            && ((oldMode == ApicMode.X2Apic && newMode == ApicMode.XApic)
                || (oldMode == ApicMode.Disabled && newMode == ApicMode.X2Apic)))
        {
            return false;
        }

        ApplyApicBase(value);
        MapInputsChanged();
        return true;
    }

    private void ApplyApicBase(ulong value)
    {
        ulong old = _apicBase;
        _apicBase = value;
        ulong changed = old ^ value;
        if ((changed & ApicBase.EnableBit) != 0)
        {
            if ((value & ApicBase.EnableBit) != 0)
            {
                SetXApicId((uint)VcpuId);
            }
            else if (Config.Profile.HardwareDisableResetsApic)
            {
                ResetRegisters();
            }
        }

        if ((changed & ApicBase.ExtdBit) != 0)
        {
            if ((value & ApicBase.ExtdBit) != 0)
            {
                // SDM 11.12.10.2: the x2APIC logical ID is derived from the x2APIC ID.
                uint id = (uint)VcpuId;
                Words.Write(ApicOffset.Id, id);
                Words.Write(ApicOffset.Ldr, X2ApicLdr(id));

                // The 64-bit ICR reads the old ICR2 in its high half under every backend. AMD gets
                // that from its split layout; KVM on Intel would read the zero dword at 0x304, a
                // vendor difference a guest could see, which this model does not reproduce.
                if (!Config.X2ApicIcrSplit)
                {
                    Words.Write(ApicOffset.Icr + 4, Words.Read(ApicOffset.Icr2));
                }
            }
            else if ((value & ApicBase.EnableBit) != 0)
            {
                SetXApicId((uint)VcpuId);
            }
        }

        if ((changed & (ApicBase.EnableBit | ApicBase.ExtdBit)) != 0)
        {
            ModeChanged?.Invoke(this);
        }
    }

    /// <summary>The x2APIC LDR derived from an x2APIC ID: cluster in 31:16, one bit of 16 in 15:0.</summary>
    public static uint X2ApicLdr(uint x2ApicId) => ((x2ApicId >> 4) << 16) | (1u << (int)(x2ApicId & 0xF));

    /// <summary>Raised after EN or EXTD changed (a hardware assist switches between xAPIC and x2APIC handling).</summary>
    internal event Action<LocalApic>? ModeChanged;
}
