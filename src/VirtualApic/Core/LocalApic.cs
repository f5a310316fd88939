// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using System.Runtime.CompilerServices;
using VirtualApic.Registers;
using VirtualApic.Time;

namespace VirtualApic.Core;

/// <summary>
/// The architectural local APIC of one vCPU (xAPIC and x2APIC): register semantics, priority,
/// acceptance, acknowledge, EOI, the LVT and the timer. Its state is the 4 KiB
/// <see cref="Page"/> plus a few derived caches that can always be rebuilt from it.
/// </summary>
/// <remarks>
/// <para>Threading (docs/threading.md): <see cref="AcceptInterrupt"/> may be called from any thread
/// (IRR and TMR bits are set atomically, or posted into the inbox of an IRR bound to its vCPU's
/// thread, and the owner is kicked). Every other member belongs to the vCPU's own thread.</para>
/// <para>Not modelled here: the Hyper-V SynIC; KVM's PV EOI is the hypervisor's (Hypervisor.PvEoi); the APIC-access page's TPR-access reporting,
/// SMM's effect on INIT, and the remote-read delivery mode (dropped).</para>
/// </remarks>
public sealed partial class LocalApic
{
    // The register table's answers for this APIC's CPUID and profile, computed once.
    private readonly RegisterFeatures _registerFeatures;
    private readonly ulong _readableXApic;
    private readonly ulong _readableX2Apic;
    private readonly RegisterWrite[] _xApicWrites;
    private readonly RegisterWrite[] _x2ApicWrites;
    private readonly int _lvtCount;

    // Config.ConcurrentDelivery, read on every IRR update: a field of this object, one load.
    private readonly bool _concurrentDelivery;

    // Whether only the evaluating thread writes the IRR even while unbound: every delivery from
    // elsewhere is posted (a descriptor's PIR, or the inbox). Set once, before the vCPU runs.
    private bool _ownerWritesIrr;

    private ulong _apicBase;

    // The ISR's count and highest vector (IsrCache: used in place, never copied).
    private IsrCache _isr;

    // SVR bit 8 as last processed by a write, for change detection: the ReplayShadow.SoftwareEnable
    // shadow (a trap-like SVR write has already put the new value in the page; see WriteSvr).
    private bool _softwareEnabled;

    // ESR errors detected since the last ESR write (architectural profile only; SDM 11.5.3).
    private uint _esrPending;

    /// <summary>Errors detected since the last ESR write, which the next ESR write latches (snapshots carry them).</summary>
    internal uint EsrPending
    {
        get => Volatile.Read(ref _esrPending);
        set => _esrPending = value & 0xEF;
    }

    // Vectors whose EOI must reach the IOAPIC (KVM ioapic_handled_vectors), kept by the fabric.
    private VectorBits _ioapicHandled; // in this object: every EOI reads it

    // Which TMR dwords may hold a set bit: edge acceptances and EOIs skip the TMR's line without one.
    private TmrSummary _tmr;

    /// <summary>Creates the APIC of vCPU <paramref name="vcpuId"/> in its RESET state.</summary>
    /// <param name="vcpuId">The vCPU index, which is also the initial APIC ID and the x2APIC ID.</param>
    /// <param name="isBsp">Whether this is the bootstrap processor (APIC_BASE.BSP at RESET).</param>
    /// <param name="config">The VM's CPUID and clock options.</param>
    /// <param name="clock">The VM's virtual clock.</param>
    public LocalApic(int vcpuId, bool isBsp, ApicConfig config, VirtualClock clock)
        : this(vcpuId, isBsp, config, clock, new ApicPage())
    {
    }

    /// <summary>Creates the APIC with a register page its VM allocated apart (see VirtualMachine's constructor).</summary>
    internal LocalApic(int vcpuId, bool isBsp, ApicConfig config, VirtualClock clock, ApicPage page)
    {
        ArgumentNullException.ThrowIfNull(page);
        Page = page;
        _words = page.Words;
        page.AttachTo(this);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfNegative(vcpuId);
        config.Validate();
        VcpuId = vcpuId;
        IsResetBsp = isBsp;
        Config = config;
        Clock = clock;
        _lvtCount = config.CmciSupported ? 7 : 6;
        _concurrentDelivery = config.ConcurrentDelivery;
        _registerFeatures = FeaturesOf(config);
        _readableXApic = ApicRegisterTable.AccessMask(x2Apic: false, RegisterAccess.Read, _registerFeatures);
        _readableX2Apic = ApicRegisterTable.AccessMask(x2Apic: true, RegisterAccess.Read, _registerFeatures);
        _xApicWrites = ApicRegisterTable.CompileWrites(x2Apic: false, _registerFeatures);
        _x2ApicWrites = ApicRegisterTable.CompileWrites(x2Apic: true, _registerFeatures);
        Timer = new ApicTimer(this);
        Reset();
    }

    /// <summary>The vCPU index: the initial xAPIC ID and the x2APIC ID.</summary>
    public int VcpuId { get; }

    /// <summary>Whether this APIC belongs to the vCPU that is the BSP at RESET.</summary>
    internal bool IsResetBsp { get; }

    /// <summary>The VM's configuration.</summary>
    public ApicConfig Config { get; }

    /// <summary>The VM's virtual clock.</summary>
    internal VirtualClock Clock { get; }

    /// <summary>The register page: the single source of truth, shared with a hardware assist.</summary>
    public ApicPage Page { get; }

    // The page's words by address, held here: a register access is a load from this object's
    // lines and the access, with no page reference to load and null-check (see PageWords).
    private readonly PageWords _words;

    /// <summary>The words of <see cref="Page"/>, for the paths that run on every interrupt.</summary>
    internal PageWords Words => _words;

    /// <summary>The APIC timer.</summary>
    public ApicTimer Timer { get; }

    /// <summary>Where IPIs, IOAPIC EOIs, map changes and kicks go. Set by the fabric before use.</summary>
    internal IApicHost Host { get; set; } = StandaloneApicHost.Instance;

    /// <summary>Where NMI, SMI, INIT and SIPI go. Set by the owning vCPU before use.</summary>
    internal IApicCpu Cpu { get; set; } = NullApicCpu.Instance;

    /// <summary>
    /// How fixed vectors reach this APIC: into the IRR directly, or through a hardware assist's
    /// posted-interrupt descriptor. Set by the backend; <see cref="DirectIrrDelivery"/> by default.
    /// </summary>
    internal IVectorDelivery Delivery { get; set; } = DirectIrrDelivery.Instance;

    /// <summary>The IA32_APIC_BASE value.</summary>
    public ulong ApicBaseMsr => _apicBase;

    /// <summary>The mode that IA32_APIC_BASE selects.</summary>
    public ApicMode Mode => new ApicBase(_apicBase).Mode;

    /// <summary>The base physical address of the xAPIC MMIO window.</summary>
    public ulong BaseAddress => _apicBase & ~0xFFFul & ((1ul << Config.MaxPhysAddr) - 1);

    /// <summary>Whether the APIC is globally enabled (IA32_APIC_BASE.EN).</summary>
    public bool IsHardwareEnabled => (_apicBase & ApicBase.EnableBit) != 0;

    /// <summary>Whether the APIC is in x2APIC mode.</summary>
    public bool IsX2Apic => (_apicBase & (ApicBase.EnableBit | ApicBase.ExtdBit)) == (ApicBase.EnableBit | ApicBase.ExtdBit);

    /// <summary>Whether SVR bit 8 (APIC software enable) is set.</summary>
    public bool IsSoftwareEnabled => (Words.Read(ApicOffset.Svr) & SvrEnable) != 0;

    /// <summary>Hardware- and software-enabled: the APIC accepts fixed interrupts.</summary>
    /// <remarks>
    /// The software enable as last processed, as KVM's <c>kvm_apic_sw_enabled</c> reads
    /// <c>apic->sw_enabled</c>, not SVR in the page: a delivery then touches no page line it does
    /// not write, and a trap-like SVR write counts once replayed.
    /// </remarks>
    internal bool IsEnabled => IsHardwareEnabled && _softwareEnabled;

    /// <summary>The APIC ID as the current mode sees it: 8 bits in xAPIC mode, 32 in x2APIC mode.</summary>
    public uint ApicId => IsX2Apic ? Words.Read(ApicOffset.Id) : Words.Read(ApicOffset.Id) >> 24;

    /// <summary>The 8-bit xAPIC ID field (ID bits 31:24), meaningful in xAPIC mode.</summary>
    public byte XApicId => (byte)(Words.Read(ApicOffset.Id) >> 24);

    /// <summary>The x2APIC ID: always the vCPU index (KVM makes it read-only, commit 4b7c3f6d04bd).</summary>
    public uint X2ApicId => (uint)VcpuId;

    /// <summary>The logical destination register.</summary>
    public uint Ldr => Words.Read(ApicOffset.Ldr);

    // The xAPIC ID, LDR and DFR as of the last map change (MapInputsChanged), with _apicBase and
    // _softwareEnabled everything ApicMap.Build reads: a rebuild then reads one object per APIC, not
    // two lines of its register page too (W6 at 4096 vCPUs 46 -> 26 us, docs/performance.md,
    // "Twenty-fourth session"). A trap-like write has already put the new value in the page; the map
    // follows once its replay has run, as the ReplayShadow.ApicMap rule says.
    /// <summary>The xAPIC ID as of the last map change: what <c>ApicMap.Build</c> files the APIC under.</summary>
    internal byte MapXApicId { get; private set; }

    /// <summary>The LDR as of the last map change.</summary>
    internal uint MapLdr { get; private set; }

    /// <summary>The DFR as of the last map change.</summary>
    internal uint MapDfr { get; private set; }

    /// <summary>SVR's software-enable bit as last processed (a map change when it changes).</summary>
    internal bool MapSoftwareEnabled => _softwareEnabled;

    /// <summary>The destination format register.</summary>
    internal uint Dfr => Words.Read(ApicOffset.Dfr);

    /// <summary>The task priority register.</summary>
    public uint Tpr => Words.Read(ApicOffset.Tpr);

    /// <summary>The processor priority register, as last computed.</summary>
    public uint Ppr => Words.Read(ApicOffset.Ppr);

    /// <summary>
    /// The vectors whose EOI must be forwarded to the IOAPIC (KVM <c>ioapic_handled_vectors</c>;
    /// under APICv, the EOI-exit bitmap). Kept by the fabric as redirection entries change.
    /// </summary>
    internal Span<ulong> IoApicHandledVectors => _ioapicHandled;

    /// <summary>The number of in-service vectors (derived cache, see <see cref="RefreshIsrCache"/>).</summary>
    public int IsrCount => _isr.Count;

    private const uint SvrEnable = 1u << 8;
    private const uint SvrSuppressEoiBroadcast = 1u << 12;

    /// <summary>The LVR value KVM computes (<c>kvm_apic_set_version</c>): version 0x14, max LVT entry, directed-EOI bit.</summary>
    internal uint VersionValue => 0x14u | ((uint)(_lvtCount - 1) << 16) | (Config.DirectedEoiSupported ? 1u << 24 : 0);

    /// <summary>Puts the APIC in its RESET state (KVM <c>kvm_lapic_reset(init_event=false)</c>).</summary>
    public void Reset() => ResetCore(initEvent: false);

    /// <summary>The APIC part of INIT (KVM <c>kvm_lapic_reset(init_event=true)</c>): keeps APIC_BASE and the ID.</summary>
    internal void InitReset() => ResetCore(initEvent: true);

    private void ResetCore(bool initEvent)
    {
        Timer.Cancel();
        if (!initEvent)
        {
            ulong value = ApicBase.DefaultAddress | ApicBase.EnableBit | (IsResetBsp ? ApicBase.BspBit : 0);
            ApplyApicBase(value);
            SetXApicId((uint)VcpuId);
        }

        ResetRegisters();
        MapInputsChanged();
    }

    // The register part shared by RESET, INIT and (architectural profile) a hardware disable.
    private void ResetRegisters()
    {
        Timer.Cancel();
        Delivery.Reset(this);
        Words.Write(ApicOffset.Version, VersionValue);
        for (int i = 0; i < _lvtCount; i++)
        {
            Words.Write(LvtOffset(i), Lvt.MaskedBit);
        }

        // KVM_X86_QUIRK_LINT0_REENABLED (on by default): the BSP comes out of RESET in virtual-wire
        // mode, LINT0 unmasked ExtINT. The architectural reset value is masked.
        if (IsResetBsp && Config.Profile.Lint0ExtIntAtReset)
        {
            Words.Write(ApicOffset.LvtLint0, (uint)DeliveryMode.ExtInt << 8);
        }

        Words.Write(ApicOffset.Dfr, 0xFFFF_FFFF);
        Words.Write(ApicOffset.Svr, 0xFF);
        _softwareEnabled = false;
        Words.Write(ApicOffset.Tpr, 0);
        if (!IsX2Apic)
        {
            Words.Write(ApicOffset.Ldr, 0);
        }

        Words.Write(ApicOffset.Esr, 0);
        Volatile.Write(ref _esrPending, 0);
        _lintRemoteIrr = 0;
        Words.Write(ApicOffset.Icr, 0);
        Words.Write(ApicOffset.Icr + 4, 0);
        Words.Write(ApicOffset.Icr2, 0);
        Words.Write(ApicOffset.Tdcr, 0);
        Words.Write(ApicOffset.Tmict, 0);
        Words.Write(ApicOffset.Tmcct, 0);
        _inbox.Drop();
        Words.ClearVectors(ApicOffset.Irr);
        _isr.Clear(Words);
        _tmr.Forget(); // first: a level acceptance racing the clearing then marks its bit again
        Words.ClearVectors(ApicOffset.Tmr);
        Timer.ResetState();
        UpdatePpr();
    }

    private static int LvtOffset(int index) => index == 6 ? ApicOffset.LvtCmci : ApicOffset.LvtTimer + (index << 4);

    // ---------------------------------------------------------------------------------------
    // Acceptance (KVM __apic_accept_irq), priority, acknowledge, EOI.
    // ---------------------------------------------------------------------------------------

    /// <summary>
    /// Accepts an interrupt message addressed to this APIC (destination matching is the fabric's
    /// job). Returns true when the APIC took it. Safe from any thread.
    /// </summary>
    public bool AcceptInterrupt(in InterruptMessage message) =>
        message.DeliveryMode is DeliveryMode.Fixed or DeliveryMode.LowestPriority
            ? AcceptFixed(message.Vector, message.TriggerMode, message.Level)
            : AcceptEvent(message.DeliveryMode, message.Vector, message.TriggerMode, message.Level);

    // SMI, NMI, INIT, SIPI and the PV unhalt: out of line, so that the JIT spends its inlining budget
    // of a delivery path on the fixed acceptance every IPI and MSI takes. The fields come by value:
    // a reference to the message would keep a caller's message in memory even on the fixed path.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool AcceptEvent(DeliveryMode mode, byte vector, TriggerMode trigger, bool level)
    {
        switch (mode)
        {
            case DeliveryMode.Smi:
                Cpu.OnSmi();
                Host.Kick(this);
                return true;
            case DeliveryMode.Nmi:
                Cpu.OnNmi();
                Host.Kick(this);
                return true;
            case DeliveryMode.Init:
                // A level de-assert INIT is ignored (SDM 11.6.1: INIT level de-assert is a
                // synchronization message of old processors).
                if (trigger == TriggerMode.Level && !level)
                {
                    return false;
                }

                Cpu.OnInit();
                Host.Kick(this);
                return true;
            case DeliveryMode.StartUp:
                Cpu.OnSipi(vector);
                Host.Kick(this);
                return true;
            case DeliveryMode.RemoteRead when Config.Profile.RemoteReadUnhalts:
                // KVM __apic_accept_irq(APIC_DM_REMRD): the PV unhalt of KVM_HC_KICK_CPU.
                Cpu.OnPvUnhalt();
                Host.Kick(this);
                return true;
            default:
                // Remote read (reserved since the P6, SDM 11.6.1) and ExtINT: ExtINT arrives through the
                // PIC path (LINT0), never as a message.
                return false;
        }
    }

    // Internal for the paths that have no message to build: the x2APIC ICR fastpath and APICv's IPI
    // virtualization take a fixed IPI straight from the ICR's fields.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool AcceptFixed(byte vector, TriggerMode trigger, bool level)
    {
        // A level-triggered de-assert message carries no interrupt.
        if (trigger == TriggerMode.Level && !level)
        {
            return false;
        }

        if (!IsEnabled)
        {
            return false; // SW- or HW-disabled APICs drop fixed interrupts (SDM 11.4.7.2).
        }

        if (vector < 16 && Config.Profile.RejectsIllegalVectors)
        {
            RecordError(EsrReceiveIllegalVector); // on the sender's thread: atomic

            return false;
        }

        // TMR follows the trigger mode of the last acceptance of the vector. An edge vector whose TMR
        // dword the summary knows to be zero has no bit to clear: its line is not loaded. (Written as
        // _tmr.Test(...) != level, the same test, W3 avic and W5 read 0.5-0.9 ns slower: the JIT's code.)
        bool levelTriggered = trigger == TriggerMode.Level;
        if ((levelTriggered || _tmr.MayHold(vector)) && Words.TestKnownVector(ApicOffset.Tmr, vector) != levelTriggered)
        {
            FlipTmr(vector, trigger);
        }

        bool posted = Delivery.Deliver(this, vector);
        Tracer?.OnDelivery(VcpuId, vector, posted);
        return true;
    }

    // Out of line: a vector changes trigger mode rarely, and every acceptance inlines AcceptFixed.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FlipTmr(byte vector, TriggerMode trigger)
    {
        if (trigger == TriggerMode.Level)
        {
            _tmr.MarkVector(vector);
            Words.TestAndSetVectorAtomic(ApicOffset.Tmr, vector);
            _tmr.MarkVector(vector); // after too: a RESET may have forgotten the first (TmrSummary)
        }
        else
        {
            Words.TestAndClearVectorAtomic(ApicOffset.Tmr, vector);
        }
    }

    /// <summary>
    /// The tracer of acceptances and EOIs: the core reports them itself, whatever path (emulation,
    /// posted interrupt, AVIC hardware IPI, virtual EOI) got there.
    /// </summary>
    internal IApicTracer? Tracer { get; set; }

    /// <summary>
    /// An AVIC hardware IPI reaching this APIC's backing page (APM 15.29.9.1): a fixed edge vector set
    /// in the IRR by "hardware", with no kick (a not-running target makes the sender exit instead).
    /// Returns false when the APIC is disabled and drops it. Any thread.
    /// </summary>
    internal bool AcceptFromHardware(byte vector)
    {
        if (!IsEnabled)
        {
            return false;
        }

        if (_tmr.Test(Words, vector))
        {
            Words.TestAndClearVectorAtomic(ApicOffset.Tmr, vector);
        }

        SetIrr(vector);
        Tracer?.OnDelivery(VcpuId, vector, posted: true);
        return true;
    }

    /// <summary>Sets an IRR bit and kicks the owner: the plain (emulated) delivery. Safe from any thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetIrrAndKick(int vector)
    {
        SetIrr(vector);
        Host.Kick(this);
    }

    // ---------------------------------------------------------------------------------------
    // IRR ownership. Unbound (the default), every IRR update is a locked operation, so any thread
    // may deliver. Bound to its vCPU thread (Vcpu.BindToCurrentThread), the owner updates the IRR
    // with plain instructions and other threads post into an inbox of 256 bits (one locked OR and
    // a flag) that the owner folds in before it evaluates: the same split as a posted-interrupt
    // descriptor, and OpenVMM's per-target inbox. A backend whose deliveries are all posted
    // (APICv: the descriptor while active, the inbox while inhibited) keeps the IRR the evaluating
    // thread's alone while unbound too (KeepIrrOwnerWritten): no thread identity is needed when no
    // other thread ever writes it.
    // ---------------------------------------------------------------------------------------

    // The thread a bound IRR belongs to (OwnerThread: used in place, never copied).
    private OwnerThread _owner;

    // Other threads' deliveries to a bound IRR (IrrInbox: used in place, never copied).
    private IrrInbox _inbox;

    /// <summary>
    /// Binds the IRR to the calling thread: from now on only this thread may evaluate, acknowledge
    /// and EOI (as the threading contract says anyway), and other threads' deliveries go through
    /// the inbox. Call it on the vCPU's thread before it runs; <see cref="UnbindOwner"/> undoes it.
    /// </summary>
    internal void BindOwnerToCurrentThread()
    {
        _owner.BindToCurrentThread();
        MergeInbox();
    }

    /// <summary>
    /// Makes every later <see cref="SetIrr"/> of an unbound IRR a post into the inbox, so that only
    /// the thread that evaluates (the vCPU's, or whoever holds it paused) writes the IRR, with plain
    /// instructions. For a backend that posts every other delivery (APICv's descriptor): its owner's
    /// PIR sync and acknowledge then need no locked instruction, where KVM's
    /// <c>__kvm_apic_update_irr</c> keeps a compare-exchange because its inhibited senders set IRR
    /// bits directly. Call it before the vCPU runs; it is never undone.
    /// </summary>
    internal void KeepIrrOwnerWritten() => _ownerWritesIrr = true;

    /// <summary>Whether only the evaluating thread writes the IRR (<see cref="KeepIrrOwnerWritten"/>, or a one-thread VM).</summary>
    internal bool IsIrrOwnerWritten => _ownerWritesIrr || !_concurrentDelivery;

    /// <summary>Returns to unbound mode (every IRR update locked), after folding in the inbox.</summary>
    internal void UnbindOwner()
    {
        MergeInbox();
        _owner.Unbind();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool OnOwnerThread() => _owner.IsBound && _owner.IsCurrent();

    /// <summary>Whether the IRR is bound (<see cref="BindOwnerToCurrentThread"/>) to the calling thread.</summary>
    internal bool IsOwnerThread => OnOwnerThread();

    /// <summary>
    /// Sets an IRR bit from any thread, as the IRR's current ownership requires (no kick). Hardware
    /// models that write a target's IRR (AVIC's IPI path) use this too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetIrr(int vector)
    {
        if ((uint)vector > 255)
        {
            ApicPage.ThrowBadVector(vector);
        }

        if (!_concurrentDelivery)
        {
            Words.SetKnownVector(ApicOffset.Irr, vector);
        }
        else if (!_owner.IsBound)
        {
            if (_ownerWritesIrr)
            {
                _inbox.Post(vector);
            }
            else
            {
                Words.TestAndSetVectorAtomic(ApicOffset.Irr, vector);
            }
        }
        else if (_owner.IsCurrent())
        {
            Words.SetKnownVector(ApicOffset.Irr, vector);
        }
        else
        {
            _inbox.Post(vector);
        }
    }

    /// <summary>
    /// ORs 32 vector bits into IRR dword <paramref name="index"/> (0-7), as <see cref="SetIrr"/> does
    /// for one. Bound, any thread; unbound with <see cref="KeepIrrOwnerWritten"/>, the evaluating
    /// thread only (a descriptor's sync, which KVM runs on the vCPU's thread too).
    /// </summary>
    internal void OrIrrWord(int index, uint bits)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)index, 7u, nameof(index));
        if (bits == 0)
        {
            return;
        }

        if (WritesIrrPlainly())
        {
            int offset = ApicOffset.Irr + (index << 4);
            Words.Write(offset, Words.Read(offset) | bits);
        }
        else if (!_owner.IsBound)
        {
            Words.OrVectorWordAtomic(ApicOffset.Irr, index, bits);
        }
        else
        {
            _inbox.PostWord(index, bits);
        }
    }

    // Whether this thread may update the IRR with plain instructions: no other thread writes it
    // (a one-thread VM, an owner-written unbound IRR) or this thread is the one it is bound to.
    private bool WritesIrrPlainly() =>
        !_concurrentDelivery || (_ownerWritesIrr && !_owner.IsBound) || OnOwnerThread();

    // Folds the inbox into the IRR: plainly where the IRR may be written plainly, atomically
    // elsewhere (a paused vCPU's snapshot, or a bound vCPU being unbound).
    private void MergeInbox() => _inbox.MergeInto(Words, WritesIrrPlainly());

    /// <summary>
    /// Word <paramref name="index"/> (0-7) of the inbox as stored, for side-effect-free inspection
    /// (VirtualApic.Diagnostics): the deliveries from other threads not yet folded into the IRR.
    /// </summary>
    internal uint InboxWord(int index) => _inbox.Word(index);

    /// <summary>Whether <paramref name="vector"/> waits in the inbox (delivered from another thread, not yet in the IRR).</summary>
    internal bool IsInboxed(int vector) => _inbox.Contains(vector);

    /// <summary>
    /// Folds everything pending elsewhere into the IRR: the inbox of other threads' deliveries and
    /// the hardware assist's posted vectors. Owner thread (or a paused vCPU).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SyncIrr()
    {
        if (Volatile.Read(ref _requests) != 0)
        {
            ProcessRequests();
        }

        SyncIrrCore();
    }

    /// <summary>
    /// <see cref="SyncIrr"/> for a save (KVM_GET_LAPIC): an owed IOAPIC rescan stays owed, for the
    /// snapshot to carry as such (VcpuSnapshot.IoApicScanOwed). Serving it now would run it earlier
    /// than the saved VM does, and with <c>kvm_apic_pending_eoi</c> when it runs decides which
    /// vectors it marks; KVM's save does not serve KVM_REQ_SCAN_IOAPIC either. Paused vCPU.
    /// </summary>
    internal void SyncIrrForSave()
    {
        bool scan = HoldBackIoApicScan();
        SyncIrr();
        ReturnIoApicScan(scan);
    }

    // An owed rescan taken out of the request word while an action runs that would otherwise serve
    // it first, and put back afterwards (SyncIrrForSave, EndOfInterruptAtExit). Owner thread.
    private bool HoldBackIoApicScan() => (Interlocked.And(ref _requests, ~ReqScanIoApic) & ReqScanIoApic) != 0;

    private void ReturnIoApicScan(bool scan)
    {
        if (scan)
        {
            RequestIoApicScan();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SyncIrrCore()
    {
        // Posted vectors first: harvested on a thread other than a bound owner's (a paused vCPU's
        // snapshot), they go through the inbox, which must be merged after them or a restore that
        // drops the inbox would lose them.
        Delivery.SyncToIrr(this);
        if (_inbox.IsPending)
        {
            MergeInbox();
        }
    }

    // Tests and clears an IRR bit for an evaluation (the acknowledge of a caller's vector). Other
    // threads only ever set IRR bits; clearing one is the owner's (acknowledge, RESET, INIT,
    // restore). So a bit the owner reads as set stays set until it clears it: the test can be a
    // plain load. The vector is in 0-255 already (range-checked by the caller).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TestAndClearIrr(int vector)
    {
        bool set = Words.TestKnownVector(ApicOffset.Irr, vector);
        if (set)
        {
            ClearFoundIrr(vector);
        }

        return set;
    }

    // Clears an IRR bit known to be set: tested, or just found by the owner's scan (Acknowledge()
    // skips the test, whose load of the word just scanned sat on its dependency chain). Atomically
    // when other threads may be setting bits in the same word (unbound), with a locked AND that need
    // not return the old word; plainly when they cannot: a single-threaded VM, an IRR bound to its
    // vCPU thread, where other threads post to the inbox and the binding contract puts every
    // evaluation on the owner thread, or an owner-written IRR (KeepIrrOwnerWritten). No thread-id
    // read here (unlike WritesIrrPlainly): it cost a TLS lookup per interrupt.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ClearFoundIrr(int vector)
    {
        if (_concurrentDelivery && !_owner.IsBound && !_ownerWritesIrr)
        {
            Words.ClearKnownVectorAtomic(ApicOffset.Irr, vector);
            return;
        }

        Words.ClearKnownVector(ApicOffset.Irr, vector);
    }

    /// <summary>The highest vector in the IRR (posted vectors folded in first), or -1.</summary>
    public int HighestIrr
    {
        get
        {
            SyncIrr();
            return Words.HighestVector(ApicOffset.Irr);
        }
    }

    /// <summary>The highest-ISR cache as stored (null while it must be found by a scan), for inspection.</summary>
    internal int? HighestIsrCache => _isr.StoredHighest;

    /// <summary>
    /// The vector last acknowledged, while it is still the highest in service and no EOI, restore or
    /// assist toggle came since; else -1 (KVM's <c>highest_isr_cache</c>, see <see cref="IsrCache.LastSetInService"/>).
    /// </summary>
    internal int HighestIsrSetByInjection => _isr.LastSetInService;

    /// <summary>The highest in-service vector, or -1.</summary>
    public int HighestIsr
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _isr.Highest(Words);
    }

    /// <summary>
    /// The vector the CPU would take now, or -1: the highest IRR vector whose priority class is
    /// above PPR (KVM <c>apic_has_interrupt_for_ppr</c>; SDM 11.8.3). Needs the APIC hardware-enabled
    /// only: a stale IRR survives a software disable, as in KVM.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PendingVector()
    {
        if (!IsHardwareEnabled)
        {
            return -1;
        }

        SyncIrr();
        int v = Words.HighestVector(ApicOffset.Irr);
        return v >= 0 && (uint)(v & 0xF0) > Words.Read(ApicOffset.Ppr) ? v : -1;
    }

    /// <summary>
    /// Acknowledges the pending interrupt (the INTA cycle): moves the vector from IRR to ISR and
    /// raises PPR. Returns the vector, or -1 when none is deliverable.
    /// </summary>
    public int Acknowledge()
    {
        int v = PendingVector();
        if (v < 0)
        {
            return -1;
        }

        ClearFoundIrr(v);
        _isr.SetInService(Words, v);

        // v was deliverable, so its class is above both TPR's and the previous ISR's: it is PPR now.
        Words.Write(ApicOffset.Ppr, (uint)v & 0xF0);
        return v;
    }

    /// <summary>
    /// Acknowledges <paramref name="vector"/>, which the caller just got from <see cref="PendingVector"/>
    /// (saves the second IRR scan of <see cref="Acknowledge()"/>). Returns false, changing nothing,
    /// when the vector is not pending above PPR.
    /// </summary>
    internal bool Acknowledge(int vector)
    {
        if ((uint)vector > 0xFF || (uint)(vector & 0xF0) <= Words.Read(ApicOffset.Ppr)
            || !TestAndClearIrr(vector))
        {
            return false;
        }

        _isr.SetInService(Words, vector);
        Words.Write(ApicOffset.Ppr, (uint)vector & 0xF0);
        return true;
    }

    /// <summary>
    /// The guest's EOI (KVM <c>apic_set_eoi</c>): clears the highest in-service vector, lowers PPR,
    /// clears a LINT Remote IRR the vector holds (architectural profile) and then, the APIC's state
    /// being final, tells the IOAPIC when it handles the vector, with the vector's TMR trigger mode.
    /// Returns what happened; <see cref="EoiResult.None"/> when nothing was in service (not an error).
    /// </summary>
    /// <remarks>
    /// The IOAPIC may deliver to this APIC again from inside the forwarding (a level line still
    /// asserted re-raises the vector at once, KVM <c>kvm_ioapic_update_eoi_one</c>): that re-entry
    /// finds the EOI complete, because the forwarding is the last step (<see cref="SendEoiToIoApic"/>).
    /// </remarks>
    public EoiResult EndOfInterrupt()
    {
        var eoi = ClearHighestIsr();
        if (eoi.IsNone)
        {
            return eoi;
        }

        if (OwnsLvtStatusBits)
        {
            eoi = ClearLintRemoteIrr(eoi);
        }

        SendEoiToIoApic(eoi);
        return eoi;
    }

    /// <summary>
    /// An EOI the guest made in guest mode and the hypervisor performs at the next exit (a PV EOI,
    /// KVM <c>apic_sync_pv_eoi_from_guest</c>): with the IOAPIC-handled set as it stands, because a
    /// rescan owed now is served by the entry that follows (<c>vcpu_enter_guest</c>), after this EOI.
    /// Serving it first would mark the vector by <c>kvm_apic_pending_eoi</c> (it is still in service)
    /// and send to the IOAPIC an EOI KVM does not (fuzzer seed 2940153). Owner thread.
    /// </summary>
    internal EoiResult EndOfInterruptAtExit()
    {
        bool scan = HoldBackIoApicScan();
        var eoi = EndOfInterrupt();
        ReturnIoApicScan(scan);
        return eoi;
    }

    /// <summary>
    /// The ISR/PPR half of an EOI, as EOI virtualization does it in hardware (SDM 30.1.4, APM
    /// 15.29.9.2): clears the highest in-service vector and lowers PPR. Returns the vector with its
    /// TMR trigger mode and whether the IOAPIC handles it, for the caller to finish or exit on.
    /// </summary>
    internal EoiResult ClearHighestIsr()
    {
        if ((Volatile.Read(ref _requests) & ReqScanIoApic) != 0)
        {
            // The rescan keeps vectors still in service: it must run before this one leaves the ISR
            // (KVM runs vcpu_scan_ioapic before the guest can EOI).
            ProcessRequests();
        }

        int v = _isr.ClearHighest(Words);
        if (v < 0)
        {
            return EoiResult.None;
        }

        UpdatePpr();
        Tracer?.OnEoi(VcpuId, v);

        // v came from the ISR, so it is 0-255: the bitmap reads need no range check.
        // Two returns, not a TMR word of 0 when the summary rules the TMR out: the common one then
        // builds its result with no level bit to compute (W4 take + EOI 31.8 -> 31.5 ns).
        ulong ioApicHandled = IoApicHandledWord(v);
        return _tmr.MayHold(v)
            ? EoiResult.Retired(v, Words.ReadKnownVectorWord(ApicOffset.Tmr, v), ioApicHandled)
            : EoiResult.Retired(v, 0u, ioApicHandled);
    }

    /// <summary>Whether <paramref name="vector"/>'s TMR bit is set: its last acceptance was level-triggered.</summary>
    internal bool IsLevelTriggered(int vector)
    {
        if ((uint)vector > 255)
        {
            ApicPage.ThrowBadVector(vector);
        }

        return _tmr.Test(Words, vector);
    }

    /// <summary>Marks TMR dwords (bit i for dword i) as possibly non-zero: the page's public writes (see <see cref="TmrSummary"/>).</summary>
    internal void MarkTmrDwords(int dwords) => _tmr.Mark(dwords);

    /// <summary>The TMR summary as stored (bit i: TMR dword i may hold a set bit), for the tests.</summary>
    internal int TmrSummaryDwords => _tmr.Dwords;

    /// <summary>Whether the IOAPIC must hear of an EOI of <paramref name="vector"/> (KVM <c>kvm_ioapic_handles_vector</c>).</summary>
    internal bool IsIoApicHandled(int vector)
    {
        if ((uint)vector > 255)
        {
            ApicPage.ThrowBadVector(vector);
        }

        return (IoApicHandledWord(vector) & (1ul << vector)) != 0;
    }

    // The qword of the IOAPIC-handled set that holds vector (bits 7:6 pick it: any int stays inside).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong IoApicHandledWord(int vector) =>
        _ioapicHandled[(vector >> 6) & 3];

    // Whether the APIC owns the LVT status bits (delivery status, LINT Remote IRR): every profile but KVM's.
    private bool OwnsLvtStatusBits => (_registerFeatures & RegisterFeatures.LvtStatusWritable) == 0;

    /// <summary>
    /// The rest of an EOI whose ISR/PPR half a hardware assist already did (KVM
    /// <c>kvm_apic_set_eoi_accelerated</c>, the APICv EOI-induced exit): the LINT Remote IRR
    /// (architectural profile), then the IOAPIC. Returns what happened.
    /// </summary>
    internal EoiResult EndOfInterruptAccelerated(int vector)
    {
        var eoi = EoiResult.Retired(vector, IsLevelTriggered(vector), IsIoApicHandled(vector));
        if (OwnsLvtStatusBits)
        {
            eoi = ClearLintRemoteIrr(eoi);
        }

        SendEoiToIoApic(eoi);
        return eoi;
    }

    // The one place an EOI leaves the APIC, and the last step of every EOI path: it runs only once the
    // ISR bit, the ISR cache, PPR, the trace and the LINT Remote IRR are final, so an IOAPIC that
    // re-delivers to this APIC from inside the call (same thread, KVM kvm_ioapic_update_eoi_one) finds
    // the EOI complete. It stays in the core rather than in each caller because the EOI also enters
    // through the guest-facing register writes (WriteRegister, MmioWrite, TryWriteX2ApicMsr), whose
    // callers, embedders included, get a fault status back and no room for an EOI result.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SendEoiToIoApic(EoiResult eoi)
    {
        if (eoi.IoApicHandled)
        {
            ForwardEoiToIoApic(eoi);
        }
    }

    // Out of line and by value: a call left in line that reads the result's properties takes the
    // address of the caller's EoiResult, and then every EOI keeps it in memory and reloads it (a
    // store-forwarding round trip on each test of its bits) instead of holding it in a register.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ForwardEoiToIoApic(EoiResult eoi) => Host.EndOfInterrupt(this, (byte)eoi.Vector, eoi.Trigger);

    /// <summary>Whether SVR bit 12 (suppress EOI broadcast, directed EOI) is set.</summary>
    internal bool SuppressEoiBroadcast => (Words.Read(ApicOffset.Svr) & SvrSuppressEoiBroadcast) != 0;

    /// <summary>
    /// PPR as it will be once <paramref name="ended"/>, the highest in-service vector, leaves the ISR
    /// (SDM 11.8.3.1): what another processor's arbitration sees of an APIC whose guest ended that
    /// vector by PV EOI (<see cref="IApicCpu.EndedByGuest"/>). Reads the page only; any thread.
    /// </summary>
    internal uint PprAfterEndOf(int ended)
    {
        // The highest in-service vector below it: its own word masked below it, then the words under.
        uint tpr = Words.Read(ApicOffset.Tpr);
        int word = ended >> 5;
        uint bits = Words.Read(ApicOffset.Isr + (word << 4)) & ((1u << (ended & 31)) - 1);
        while (bits == 0 && --word >= 0)
        {
            bits = Words.Read(ApicOffset.Isr + (word << 4));
        }

        return PprOf(tpr, bits == 0 ? -1 : (word << 5) + 31 - BitOperations.LeadingZeroCount(bits));
    }

    /// <summary>Recomputes PPR from TPR and the highest ISR vector (SDM 11.8.3.1; KVM <c>__apic_update_ppr</c>).</summary>
    internal void UpdatePpr() => Words.Write(ApicOffset.Ppr, PprOf(Words.Read(ApicOffset.Tpr), HighestIsr));

    // SDM 11.8.3.1: TPR when its class is at least the highest in-service vector's (isrv, -1 for
    // none), else that vector's class.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint PprOf(uint tpr, int isrv)
    {
        uint isrClass = isrv < 0 ? 0 : (uint)isrv & 0xF0;
        return (tpr & 0xF0) >= isrClass ? tpr & 0xFF : isrClass;
    }

    // ---------------------------------------------------------------------------------------
    // Requests (KVM kvm_make_request / kvm_check_request): work that other threads hand to the owner,
    // which does it on its own thread before it next evaluates (SyncIrr, PendingVector, Take). The
    // requester sets the bit with a full fence and then kicks (docs/threading.md).
    // ---------------------------------------------------------------------------------------

    private int _requests;
    private const int ReqRefresh = 1;      // KVM_REQ_APICV_UPDATE: re-derive owner caches
    private const int ReqTimer = 2;        // a timer expiry to inject (KVM_REQ_UNBLOCK + pending)
    private const int ReqScanIoApic = 4;   // KVM_REQ_SCAN_IOAPIC: rebuild the IOAPIC-handled set

    /// <summary>
    /// Asks the owning vCPU to re-derive its caches (<see cref="RefreshIsrCache"/>) and fold posted
    /// vectors in at its next evaluation. Any thread: an inhibit toggle on one vCPU's thread must not
    /// touch the others' owner-only state (KVM raises KVM_REQ_APICV_UPDATE for the same reason).
    /// </summary>
    internal void RequestRefresh() => Interlocked.Or(ref _requests, ReqRefresh);

    /// <summary>
    /// Asks the owning vCPU to rebuild its set of IOAPIC-handled vectors on its own thread at its next
    /// entry (<see cref="ServeRequests"/>), in any case before it evaluates or EOIs (KVM
    /// <c>KVM_REQ_SCAN_IOAPIC</c>, <c>vcpu_scan_ioapic</c>). Any thread; the caller kicks.
    /// </summary>
    internal void RequestIoApicScan() => Interlocked.Or(ref _requests, ReqScanIoApic);

    /// <summary>
    /// Serves what is owed, as a vCPU entry does (KVM <c>vcpu_enter_guest</c> before it enters): the
    /// timer expiry handed over, the IOAPIC rescan, the assist refresh. Owner thread.
    /// </summary>
    internal void ServeRequests()
    {
        if (Volatile.Read(ref _requests) != 0)
        {
            ProcessRequests();
        }
    }

    /// <summary>Whether any request is owed (a scan, a refresh, a handed-over timer expiry). Any thread.</summary>
    internal bool HasRequests => Volatile.Read(ref _requests) != 0;

    /// <summary>Whether an IOAPIC-handled scan request is still owed (inspection, snapshots).</summary>
    internal bool IoApicScanRequested => (Volatile.Read(ref _requests) & ReqScanIoApic) != 0;

    internal void RequestTimerInjection() => Interlocked.Or(ref _requests, ReqTimer);

    // Whether the IRR is bound to some thread (the timer hands expiries on other threads to it).
    internal bool IsBound => _owner.IsBound;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ProcessRequests()
    {
        int r = Interlocked.Exchange(ref _requests, 0);

        // The timer's expiry goes in before the scan, as KVM's vcpu_run injects pending timer
        // interrupts (kvm_inject_pending_timer_irqs) before vcpu_enter_guest handles
        // KVM_REQ_SCAN_IOAPIC: an expiry that happened first is in the IRR when the scan looks
        // (kvm_apic_pending_eoi), as it is when the timer fires on the owner's own thread.
        if ((r & ReqTimer) != 0)
        {
            Timer.InjectPending();
        }

        if ((r & ReqScanIoApic) != 0)
        {
            Host.ScanIoApicHandledVectors(this);
        }

        if ((r & ReqRefresh) != 0)
        {
            SyncIrrCore();
            RefreshIsrCache();
        }
    }

    /// <summary>
    /// Re-derives the ISR caches from the page after something other than this class changed the ISR
    /// (a hardware assist's virtual EOI, a restore, an inhibit toggle; KVM commit 97a71c444a14).
    /// </summary>
    internal void RefreshIsrCache()
    {
        _isr.Refresh(Words);
        UpdatePpr();
    }

    /// <summary>Sets TPR (the CR8 path writes bits 7:4) and recomputes PPR.</summary>
    internal void SetTpr(uint tpr)
    {
        Words.Write(ApicOffset.Tpr, tpr & 0xFF);
        UpdatePpr();
    }

    /// <summary>Marks or unmarks <paramref name="vector"/> as one whose EOI the IOAPIC needs.</summary>
    internal void SetIoApicHandled(int vector, bool handled)
    {
        if ((uint)vector > 255)
        {
            ApicPage.ThrowBadVector(vector);
        }

        ulong bit = 1ul << vector;
        if (handled)
        {
            _ioapicHandled[vector >> 6] |= bit;
        }
        else
        {
            _ioapicHandled[vector >> 6] &= ~bit;
        }
    }

    /// <summary>Whether the physical destination <paramref name="destination"/> names this APIC (no aliasing rules).</summary>
    internal bool MatchesPhysical(uint destination) =>
        IsX2Apic || destination > 0xFF ? destination == X2ApicId : destination == XApicId;

    /// <summary>
    /// Whether a physical destination reaches this APIC (KVM <c>kvm_apic_match_dest</c> for a
    /// physical IPI): the broadcast ID of its own mode, or its ID (<see cref="MatchesPhysical"/>).
    /// The one rule for the router and for a hardware model's physical unicast.
    /// </summary>
    internal bool ReachedByPhysical(uint destination) =>
        destination == InterruptMessage.BroadcastDestination(IsX2Apic) || MatchesPhysical(destination);

    // ---------------------------------------------------------------------------------------
    // Local interrupts: LVT entries (KVM kvm_apic_local_deliver).
    // ---------------------------------------------------------------------------------------

    /// <summary>
    /// Delivers the interrupt that the LVT entry at <paramref name="lvtOffset"/> describes, if the
    /// APIC is hardware-enabled and the entry unmasked. Returns whether it was accepted.
    /// </summary>
    internal bool DeliverLocal(int lvtOffset)
    {
        uint lvt = Words.Read(lvtOffset);
        if (!IsHardwareEnabled || (lvt & Lvt.MaskedBit) != 0)
        {
            return false;
        }

        var mode = (DeliveryMode)((lvt >> 8) & 7);
        var trigger = (lvt & Lvt.LevelBit) != 0 ? TriggerMode.Level : TriggerMode.Edge;
        if (mode == DeliveryMode.ExtInt)
        {
            return false; // the PIC path takes ExtINT (Vcpu.TakeEvent)
        }

        bool accepted = AcceptInterrupt(new InterruptMessage(
            (byte)lvt, mode, DestinationMode.Physical, X2ApicId, trigger, true, DestinationShorthand.Self, InterruptSource.Local, VcpuId));

        // Architecturally a level-triggered fixed LINT sets its remote IRR until the EOI (SDM 11.5.1).
        if (accepted && mode == DeliveryMode.Fixed && trigger == TriggerMode.Level
            && OwnsLvtStatusBits
            && lvtOffset is ApicOffset.LvtLint0 or ApicOffset.LvtLint1)
        {
            Words.Write(lvtOffset, lvt | Lvt.RemoteIrrBit);
            _lintRemoteIrr |= lvtOffset == ApicOffset.LvtLint0 ? 1 : 2;
        }

        return accepted;
    }

    // Architectural LINT0/LINT1 remote IRR (bit 0: LINT0, bit 1: LINT1).
    private int _lintRemoteIrr;

    /// <summary>
    /// The architectural LINT0 (bit 0) and LINT1 (bit 1) remote IRR, for snapshots. Setting it (the
    /// owner, or a paused VM, after the register image is restored) also sets or clears the LVT bits
    /// in the page under the architectural profile, so the page and the APIC's own copy agree.
    /// </summary>
    internal int LintRemoteIrrBits
    {
        get => _lintRemoteIrr;
        set
        {
            _lintRemoteIrr = value & 3;
            if (!OwnsLvtStatusBits)
            {
                return; // KVM: the bits are plain page bits, which the image already restored
            }

            for (int pin = 0; pin < 2; pin++)
            {
                int offset = pin == 0 ? ApicOffset.LvtLint0 : ApicOffset.LvtLint1;
                uint lvt = Words.Read(offset);
                Words.Write(offset, (_lintRemoteIrr & (1 << pin)) != 0 ? lvt | Lvt.RemoteIrrBit : lvt & ~Lvt.RemoteIrrBit);
            }
        }
    }

    /// <summary>
    /// Whether an EOI of <paramref name="vector"/> has a LINT entry's Remote IRR to clear (SDM 11.5.1):
    /// a level LINT entry with the vector holds one, where the profile gives it one (not KVM's). A
    /// hypervisor that virtualizes EOIs must exit on such a vector, as on an IOAPIC-handled one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool EoiClearsLintRemoteIrr(int vector) => _lintRemoteIrr != 0 && LintRemoteIrrClearedBy(vector);

    // Out of line: APICv's every virtualized EOI asks, and a LINT Remote IRR is the rare case.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool LintRemoteIrrClearedBy(int vector) =>
        OwnsLvtStatusBits && (LintHoldsRemoteIrrFor(ApicOffset.LvtLint0, vector) || LintHoldsRemoteIrrFor(ApicOffset.LvtLint1, vector));

    // Whether the LINT entry at lvtOffset holds a Remote IRR for vector: what an EOI of it clears.
    private bool LintHoldsRemoteIrrFor(int lvtOffset, int vector)
    {
        uint lvt = Words.Read(lvtOffset);
        return (lvt & Lvt.RemoteIrrBit) != 0 && (byte)lvt == vector;
    }

    private bool LintRemoteIrr(int lvtOffset) =>
        (lvtOffset == ApicOffset.LvtLint0 && (_lintRemoteIrr & 1) != 0) || (lvtOffset == ApicOffset.LvtLint1 && (_lintRemoteIrr & 2) != 0);

    // The EOI's effect on the LVT (SDM 11.5.1): a level-triggered LINT entry with the vector drops its
    // Remote IRR. Only where the APIC owns the status bits (the callers test the profile; KVM has no
    // LINT Remote IRR).
    private EoiResult ClearLintRemoteIrr(EoiResult eoi)
    {
        for (int offset = ApicOffset.LvtLint0; offset <= ApicOffset.LvtLint1; offset += 0x10)
        {
            if (LintHoldsRemoteIrrFor(offset, eoi.Vector))
            {
                Words.Write(offset, Words.Read(offset) & ~Lvt.RemoteIrrBit);
                _lintRemoteIrr &= offset == ApicOffset.LvtLint0 ? ~1 : ~2;
                eoi = eoi.WithLintRemoteIrrCleared();
            }
        }

        return eoi;
    }

    // ---------------------------------------------------------------------------------------
    // ESR (architectural profile; KVM never latches errors).
    // ---------------------------------------------------------------------------------------

    internal const uint EsrSendIllegalVector = 1u << 5;
    internal const uint EsrReceiveIllegalVector = 1u << 6;
    internal const uint EsrIllegalRegisterAddress = 1u << 7;

    // Any thread: a receive error is found on the sender's thread. The pending errors are one word
    // updated atomically (the owner latches it with an exchange on an ESR write), and the LVT error
    // interrupt is a local delivery, which any thread may make.
    private void RecordError(uint bit)
    {
        if (!Config.Profile.EsrRecordsErrors)
        {
            return;
        }

        bool first = (Interlocked.Or(ref _esrPending, bit) & bit) == 0;

        // SDM 11.5.3: detecting an error raises the LVT error interrupt. The error LVT's own
        // illegal vector would recurse; the RejectsIllegalVectors check records once and stops.
        if (first)
        {
            DeliverLocal(ApicOffset.LvtError);
        }
    }
}
