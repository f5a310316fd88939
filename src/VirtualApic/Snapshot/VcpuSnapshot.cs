// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using System.Collections.Immutable;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Registers;

namespace VirtualApic.Snapshot;

/// <summary>
/// Everything a vCPU's interrupt state is: IA32_APIC_BASE, the KVM-format 1 KiB register image, the
/// timer state outside it (mode, period, expiry, TSC deadline) and the CPU-side events (KVM's
/// MP_STATE and VCPU_EVENTS). Restoring it on any backend gives the guest the same machine.
/// </summary>
/// <param name="Index">The vCPU index.</param>
/// <param name="ApicBase">IA32_APIC_BASE.</param>
/// <param name="LapicImage">The <see cref="KvmLapicState"/> image (32-bit x2APIC ID format).</param>
/// <param name="Timer">The timer state.</param>
/// <param name="Events">The CPU-side event state.</param>
public sealed record VcpuSnapshot(int Index, ulong ApicBase, byte[] LapicImage, ApicTimerState Timer, VcpuEventState Events)
{
    /// <summary>
    /// The format version <see cref="Serialize"/> writes (2 adds the unlatched ESR errors, 3 the PV EOI
    /// state, 4 the LINT remote IRR, 5 the IOAPIC-handled set; 1 to 4 are still read).
    /// </summary>
    public const ushort FormatVersion = 5;

    /// <summary>MSR_KVM_PV_EOI_EN (0x4b564d04) as the guest last wrote it; 0 when PV EOI is off.</summary>
    public ulong PvEoiMsr { get; init; }

    /// <summary>KVM's host-side <c>KVM_APIC_PV_EOI_PENDING</c>: the guest's flag was set and not looked at since.</summary>
    public bool PvEoiPending { get; init; }

    /// <summary>
    /// Errors the APIC detected but an ESR write has not latched yet (architectural profile; SDM
    /// 11.5.3). Not part of the KVM register image, where ESR never latches anything.
    /// </summary>
    public uint EsrPending { get; init; }

    /// <summary>
    /// The remote IRR of LVT LINT0 (bit 0) and LINT1 (bit 1): set by a level-triggered fixed LINT
    /// delivery until its EOI (architectural profile; SDM 11.5.1). The APIC owns it apart from the
    /// page, because a guest LVT write must not clear it, so the register image alone does not carry it.
    /// </summary>
    public byte LintRemoteIrr { get; init; }

    private const byte LintRemoteIrrMask = 0b11;

    /// <summary>
    /// The vCPU's IOAPIC-handled set (KVM's per-vCPU <c>ioapic_handled_vectors</c>, under APICv the
    /// EOI-exit bitmap) as four 64-bit words, vectors 0-63 first; default (not carried) in a format 1
    /// to 4 snapshot. KVM does not save it and rescans after a restore; the set also depends on when
    /// the last rescan ran (<c>kvm_apic_pending_eoi</c> marks vectors then in service or requested),
    /// so <see cref="Fabric.VmSnapshot.Restore"/> loads it rather than rescanning.
    /// </summary>
    public ImmutableArray<ulong> IoApicHandledVectors { get; init; }

    /// <summary>Whether the vCPU owed a rescan of that set (a <c>KVM_REQ_SCAN_IOAPIC</c> not yet served).</summary>
    public bool IoApicScanOwed { get; init; }

    /// <summary>Whether this snapshot carries the IOAPIC-handled set (format 5 and later, or a capture).</summary>
    internal bool CarriesIoApicScan => !IoApicHandledVectors.IsDefault;

    private const int IoApicHandledWords = 4;
    private const byte IoApicScanCarried = 1;
    private const byte IoApicScanOwedBit = 2;

    private static ReadOnlySpan<byte> Magic => "VAPICCPU"u8;

    /// <summary>Captures the state of <paramref name="vcpu"/>.</summary>
    public static VcpuSnapshot Capture(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var (pvEoiMsr, pvEoiPending) = vcpu.SavePvEoi();
        return new VcpuSnapshot(
            vcpu.Index, vcpu.Apic.ApicBaseMsr, KvmLapicState.Capture(vcpu.Apic), vcpu.Apic.Timer.Save(), vcpu.SaveEvents())
        {
            EsrPending = vcpu.Apic.EsrPending,
            PvEoiMsr = pvEoiMsr,
            PvEoiPending = pvEoiPending,
            LintRemoteIrr = (byte)vcpu.Apic.LintRemoteIrrBits,
            IoApicHandledVectors = [.. vcpu.Apic.IoApicHandledVectors],
            IoApicScanOwed = vcpu.Apic.IoApicScanRequested,
        };
    }

    /// <summary>
    /// Restores onto <paramref name="vcpu"/>: APIC_BASE first (host-initiated), then the register
    /// image, the timer and the events. Validates first and changes nothing on error.
    /// </summary>
    /// <exception cref="SnapshotFormatException">The snapshot does not fit this vCPU.</exception>
    public void Restore(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        Validate(vcpu);
        if (!vcpu.Apic.RestoreApicBase(ApicBase))
        {
            throw new SnapshotFormatException($"vCPU {Index}: IA32_APIC_BASE 0x{ApicBase:x} is not valid for this VM", 0);
        }

        KvmLapicState.Apply(vcpu.Apic, LapicImage, x2ApicFormat: true, restoreTimer: Timer);
        vcpu.Apic.EsrPending = EsrPending;
        vcpu.Apic.LintRemoteIrrBits = LintRemoteIrr;
        vcpu.RestoreEvents(Events);
        vcpu.RestorePvEoi(PvEoiMsr, PvEoiPending);
        RestoreIoApicScan(vcpu);
    }

    /// <summary>
    /// Loads the carried IOAPIC-handled set and owed rescan (nothing when not carried). A whole-VM
    /// restore does it again after the IOAPIC's restore, which owes every vCPU a rescan.
    /// </summary>
    internal void RestoreIoApicScan(Vcpu vcpu)
    {
        if (CarriesIoApicScan)
        {
            vcpu.Apic.RestoreIoApicScan(IoApicHandledVectors.AsSpan(), IoApicScanOwed);
        }
    }

    /// <summary>Checks that this snapshot fits <paramref name="vcpu"/>, changing nothing.</summary>
    /// <exception cref="SnapshotFormatException">It does not; the message names the field.</exception>
    internal void Validate(Vcpu vcpu)
    {
        if (Index != vcpu.Index)
        {
            throw new SnapshotFormatException($"snapshot of vCPU {Index} cannot be restored onto vCPU {vcpu.Index}", 0);
        }

        var mode = new ApicBase(ApicBase).Mode;
        if (mode == ApicMode.Invalid
            || (ApicBase & Registers.ApicBase.ReservedBits(vcpu.Apic.Config.MaxPhysAddr, vcpu.Apic.Config.X2ApicSupported)) != 0)
        {
            throw new SnapshotFormatException($"vCPU {Index}: IA32_APIC_BASE 0x{ApicBase:x} has reserved bits or EN=0/EXTD=1", 0);
        }

        if (LapicImage is null || LapicImage.Length != KvmLapicState.Size)
        {
            throw new SnapshotFormatException($"vCPU {Index}: register image must be {KvmLapicState.Size} bytes", 0);
        }

        if (mode == ApicMode.X2Apic && BinaryPrimitives.ReadUInt32LittleEndian(LapicImage.AsSpan(ApicOffset.Id)) != (uint)Index)
        {
            throw new SnapshotFormatException($"vCPU {Index}: x2APIC ID in the register image is not {Index}", ApicOffset.Id);
        }

        if (Timer.PeriodNs < 0 || Timer.TargetNs < 0 || !Enum.IsDefined(Timer.Mode))
        {
            throw new SnapshotFormatException($"vCPU {Index}: timer state out of range", 0);
        }

        ValidateTimerBounds(vcpu.Apic.Config);

        if ((LintRemoteIrr & ~LintRemoteIrrMask) != 0)
        {
            throw new SnapshotFormatException($"vCPU {Index}: lint.remote_irr 0x{LintRemoteIrr:x} has bits other than LINT0 (bit 0) and LINT1 (bit 1)", 0);
        }

        if (LintRemoteIrr != 0 && vcpu.Apic.Config.Profile.LvtStatusBitsWritable)
        {
            throw new SnapshotFormatException(
                $"vCPU {Index}: lint.remote_irr 0x{LintRemoteIrr:x} is set, but the {vcpu.Apic.Config.Profile.Name} profile keeps no LINT remote IRR (its LVT status bits are plain page bits)", 0);
        }

        if (!Enum.IsDefined(Events.State) || Events.NmiQueued is < 0 or > 2 || Events.HandlerStack is null)
        {
            throw new SnapshotFormatException($"vCPU {Index}: event state out of range", 0);
        }

        if (PvEoiProblem(PvEoiMsr, PvEoiPending) is { } problem)
        {
            throw new SnapshotFormatException($"vCPU {Index}: {problem}", 0);
        }

        if (IoApicScanProblem(IoApicHandledVectors, IoApicScanOwed) is { } scanProblem)
        {
            throw new SnapshotFormatException($"vCPU {Index}: {scanProblem}", 0);
        }
    }

    // The set is four words or absent; a rescan owed means nothing without the set it would replace.
    private static string? IoApicScanProblem(ImmutableArray<ulong> handled, bool owed) =>
        !handled.IsDefault && handled.Length != IoApicHandledWords ? $"ioapic_scan.handled has {handled.Length} words (must be {IoApicHandledWords})"
        : handled.IsDefault && owed ? "ioapic_scan.owed is set without the IOAPIC-handled set"
        : null;

    // KVM kvm_lapic_set_pv_eoi refuses bit 1 (the address must be 4-byte aligned); the host-side
    // pending bit exists only while PV EOI is enabled.
    private static string? PvEoiProblem(ulong msr, bool pending) =>
        (msr & 2) != 0 ? $"pv_eoi.msr 0x{msr:x} sets reserved bit 1 (the flag address must be 4-byte aligned)"
        : pending && (msr & 1) == 0 ? $"pv_eoi.pending is set with PV EOI disabled (pv_eoi.msr 0x{msr:x})"
        : null;

    // The timer state is bounded by what the registers can express, so that no saved state makes the
    // clock do unbounded work (a period the guest could never have programmed, an armed timer with
    // nothing to count). Each error names the field.
    private void ValidateTimerBounds(ApicConfig config)
    {
        long longest = ApicTimer.PeriodForCount(uint.MaxValue, 128, config.BusMhz);
        if (Timer.PeriodNs > longest)
        {
            throw new SnapshotFormatException($"vCPU {Index}: timer.PeriodNs {Timer.PeriodNs} exceeds the longest count TMICT and TDCR can program ({longest} ns)", 0);
        }

        long shortest = Math.Max(1, Timer.Mode == TimerMode.Periodic ? config.Profile.PeriodicTimerMinimumNs : 1);
        if (Timer.PeriodNs != 0 && Timer.PeriodNs < shortest)
        {
            throw new SnapshotFormatException($"vCPU {Index}: timer.PeriodNs {Timer.PeriodNs} is below the {Timer.Mode} minimum of {shortest} ns under the {config.Profile.Name} profile", 0);
        }

        if (Timer.Armed && Timer.Mode != TimerMode.TscDeadline && Timer.PeriodNs == 0)
        {
            throw new SnapshotFormatException($"vCPU {Index}: timer.Armed is set with timer.PeriodNs 0 (nothing counts)", 0);
        }

        if (Timer.Armed && Timer.Mode == TimerMode.TscDeadline && Timer.TscDeadline == 0)
        {
            throw new SnapshotFormatException($"vCPU {Index}: timer.Armed is set in TSC-deadline mode with timer.TscDeadline 0", 0);
        }
    }

    /// <summary>The versioned binary form (little-endian).</summary>
    public byte[] Serialize()
    {
        // magic, version, reserved, index, apic_base, image; timer mode + armed, period, target,
        // deadline; state, flags, nmi_queued, pending, sipi_vector, reserved; (v2) unlatched ESR errors;
        // (v3) PV EOI MSR and pending bit; (v4) LINT remote IRR; (v5) IOAPIC-handled set flags
        // (bit 0 carried, bit 1 rescan owed) and its four words (0 when not carried); handler count + list.
        int size = 8 + 2 + 2 + 4 + 8 + KvmLapicState.Size + 2 + 8 + 8 + 8 + 6 + 2 + Events.HandlerStack.Count + 4 + 8 + 1 + 1
            + 1 + (IoApicHandledWords * 8);
        byte[] buffer = new byte[size];
        var w = new SpanWriter(buffer);
        w.Bytes(Magic);
        w.U16(FormatVersion);
        w.U16(0);
        w.I32(Index);
        w.U64(ApicBase);
        w.Bytes(LapicImage);
        w.U8((byte)Timer.Mode);
        w.U8(Timer.Armed ? (byte)1 : (byte)0);
        w.I64(Timer.PeriodNs);
        w.I64(Timer.TargetNs);
        w.U64(Timer.TscDeadline);
        w.U8((byte)Events.State);
        w.U8((byte)((Events.InterruptFlag ? 1 : 0) | (Events.NmiBlocked ? 2 : 0) | (Events.Lint0 ? 4 : 0) | (Events.Lint1 ? 8 : 0)));
        w.U8((byte)Events.NmiQueued);
        w.U8((byte)Events.Pending);
        w.U8(Events.SipiVector);
        w.U8(0);
        w.I32((int)EsrPending);
        w.U64(PvEoiMsr);
        w.U8(PvEoiPending ? (byte)1 : (byte)0);
        w.U8(LintRemoteIrr);
        w.U8((byte)((CarriesIoApicScan ? IoApicScanCarried : 0) | (IoApicScanOwed ? IoApicScanOwedBit : 0)));
        for (int i = 0; i < IoApicHandledWords; i++)
        {
            w.U64(CarriesIoApicScan ? IoApicHandledVectors[i] : 0);
        }

        w.U16((ushort)Events.HandlerStack.Count);
        foreach (var h in Events.HandlerStack)
        {
            w.U8((byte)h);
        }

        return buffer;
    }

    /// <summary>Parses the binary form, rejecting anything malformed with the field and offset named.</summary>
    /// <exception cref="SnapshotFormatException">Malformed input.</exception>
    public static VcpuSnapshot Deserialize(ReadOnlySpan<byte> data)
    {
        var r = new SpanReader(data);
        if (!r.Bytes(8, "magic").SequenceEqual(Magic))
        {
            throw Malformed("magic", 0, "expected \"VAPICCPU\"");
        }

        ushort version = r.U16("version");
        if (version is < 1 or > FormatVersion)
        {
            throw Malformed("version", 8, $"unsupported format version {version} (this build reads 1 to {FormatVersion})");
        }

        long at = r.Position;
        if (r.U16("reserved") != 0)
        {
            throw Malformed("reserved", at, "must be 0");
        }

        int index = r.I32("index");
        if (index < 0)
        {
            throw Malformed("index", 12, $"negative vCPU index {index}");
        }

        ulong apicBase = r.U64("apic_base");
        byte[] image = r.Bytes(KvmLapicState.Size, "lapic_image").ToArray();
        at = r.Position;
        byte mode = r.U8("timer.mode");
        if (mode > 3)
        {
            throw Malformed("timer.mode", at, $"timer mode {mode} out of range");
        }

        bool armed = r.Bool("timer.armed");
        at = r.Position;
        long period = r.I64("timer.period_ns");
        if (period < 0)
        {
            throw Malformed("timer.period_ns", at, $"negative period {period}");
        }

        at = r.Position;
        long target = r.I64("timer.target_ns");
        if (target < 0)
        {
            throw Malformed("timer.target_ns", at, $"negative expiry time {target}");
        }

        ulong deadline = r.U64("timer.tsc_deadline");
        at = r.Position;
        byte state = r.U8("events.state");
        if (state > (byte)VcpuRunState.WaitForSipi)
        {
            throw Malformed("events.state", at, $"run state {state} out of range");
        }

        at = r.Position;
        byte flags = r.U8("events.flags");
        if ((flags & ~0xF) != 0)
        {
            throw Malformed("events.flags", at, $"unknown event flags 0x{flags:x}");
        }

        at = r.Position;
        byte nmi = r.U8("events.nmi_queued");
        if (nmi > 2)
        {
            throw Malformed("events.nmi_queued", at, $"{nmi} NMIs queued (at most 2)");
        }

        at = r.Position;
        byte pending = r.U8("events.pending");
        if ((pending & ~(int)(PendingEvents.Smi | PendingEvents.Init | PendingEvents.Sipi | PendingEvents.PvUnhalt)) != 0)
        {
            throw Malformed("events.pending", at, $"unknown pending events 0x{pending:x}");
        }

        byte sipi = r.U8("events.sipi_vector");
        at = r.Position;
        if (r.U8("events.reserved") != 0)
        {
            throw Malformed("events.reserved", at, "must be 0");
        }

        uint esrPending = 0;
        if (version >= 2)
        {
            at = r.Position;
            esrPending = (uint)r.I32("esr.pending");
            if ((esrPending & ~0xEFu) != 0)
            {
                throw Malformed("esr.pending", at, $"bits 0x{esrPending:x} are not ESR error bits");
            }
        }

        ulong pvEoiMsr = 0;
        bool pvEoiPending = false;
        if (version >= 3)
        {
            at = r.Position;
            pvEoiMsr = r.U64("pv_eoi.msr");
            pvEoiPending = r.Bool("pv_eoi.pending");
            if (PvEoiProblem(pvEoiMsr, pvEoiPending) is { } problem)
            {
                throw Malformed("pv_eoi", at, problem);
            }
        }

        byte lintRemoteIrr = 0;
        if (version >= 4)
        {
            at = r.Position;
            lintRemoteIrr = r.U8("lint.remote_irr");
            if ((lintRemoteIrr & ~LintRemoteIrrMask) != 0)
            {
                throw Malformed("lint.remote_irr", at, $"bits 0x{lintRemoteIrr:x} are not LINT0 (bit 0) or LINT1 (bit 1)");
            }
        }

        var handled = default(ImmutableArray<ulong>);
        bool owed = false;
        if (version >= 5)
        {
            at = r.Position;
            byte scan = r.U8("ioapic_scan.flags");
            if ((scan & ~(IoApicScanCarried | IoApicScanOwedBit)) != 0)
            {
                throw Malformed("ioapic_scan.flags", at, $"unknown flags 0x{scan:x} (bit 0: set carried, bit 1: rescan owed)");
            }

            owed = (scan & IoApicScanOwedBit) != 0;
            ulong[] words = new ulong[IoApicHandledWords];
            long wordsAt = r.Position;
            for (int i = 0; i < IoApicHandledWords; i++)
            {
                words[i] = r.U64("ioapic_scan.handled");
            }

            if ((scan & IoApicScanCarried) != 0)
            {
                handled = [.. words];
            }
            else if (words.Any(w => w != 0))
            {
                throw Malformed("ioapic_scan.handled", wordsAt, "must be 0 when the set is not carried (flags bit 0 clear)");
            }

            if (IoApicScanProblem(handled, owed) is { } problem)
            {
                throw Malformed("ioapic_scan.flags", at, problem);
            }
        }

        int count = r.U16("events.handler_count");
        var handlers = new GuestEventKind[count];
        for (int i = 0; i < count; i++)
        {
            at = r.Position;
            byte h = r.U8("events.handler");
            if (h is not ((byte)GuestEventKind.Vector or (byte)GuestEventKind.Nmi))
            {
                throw Malformed("events.handler", at, $"handler kind {h} is neither a vector nor an NMI");
            }

            handlers[i] = (GuestEventKind)h;
        }

        if (r.Position != data.Length)
        {
            throw Malformed("end", r.Position, $"{data.Length - r.Position} trailing bytes");
        }

        var events = new VcpuEventState(
            (VcpuRunState)state, (flags & 1) != 0, (flags & 2) != 0, nmi, (PendingEvents)pending, sipi, handlers, (flags & 4) != 0, (flags & 8) != 0);
        return new VcpuSnapshot(index, apicBase, image, new ApicTimerState((TimerMode)mode, period, armed, target, deadline), events)
        {
            EsrPending = esrPending,
            PvEoiMsr = pvEoiMsr,
            PvEoiPending = pvEoiPending,
            LintRemoteIrr = lintRemoteIrr,
            IoApicHandledVectors = handled,
            IoApicScanOwed = owed,
        };
    }

    private static SnapshotFormatException Malformed(string field, long offset, string problem) =>
        new($"vCPU snapshot: {field} (offset {offset}): {problem}", offset);

    private ref struct SpanWriter(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;
        private int _pos;

        public void Bytes(ReadOnlySpan<byte> b)
        {
            b.CopyTo(_buffer[_pos..]);
            _pos += b.Length;
        }

        public void U8(byte v) => _buffer[_pos++] = v;

        public void U16(ushort v)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(_buffer[_pos..], v);
            _pos += 2;
        }

        public void I32(int v)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_buffer[_pos..], v);
            _pos += 4;
        }

        public void I64(long v)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_buffer[_pos..], v);
            _pos += 8;
        }

        public void U64(ulong v)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(_buffer[_pos..], v);
            _pos += 8;
        }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        public ReadOnlySpan<byte> Bytes(int n, string field)
        {
            Need(n, field);
            var s = _data.Slice(Position, n);
            Position += n;
            return s;
        }

        public byte U8(string field) => Bytes(1, field)[0];

        public bool Bool(string field)
        {
            int at = Position;
            byte b = U8(field);
            return b switch
            {
                0 => false,
                1 => true,
                _ => throw Malformed(field, at, $"must be 0 or 1, got {b}"),
            };
        }

        public ushort U16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2, field));

        public int I32(string field) => BinaryPrimitives.ReadInt32LittleEndian(Bytes(4, field));

        public long I64(string field) => BinaryPrimitives.ReadInt64LittleEndian(Bytes(8, field));

        public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8, field));

        private readonly void Need(int n, string field)
        {
            if (Position + n > _data.Length)
            {
                throw new SnapshotFormatException($"vCPU snapshot: truncated at {field} (offset {Position}, need {n} bytes, have {_data.Length - Position})", Position);
            }
        }
    }
}
