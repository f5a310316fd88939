// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Hypervisor;
using VirtualApic.Registers;
using VirtualApic.Time;

namespace VirtualApic.Cpu;

/// <summary>
/// The guest-facing surface of one vCPU, as far as interrupts go: RDMSR/WRMSR, MMIO, STI/CLI, HLT,
/// taking the next event (with the INTA acknowledge), IRET, CR8, RDTSC and the APIC bits of CPUID.
/// It also holds the CPU-side event state the APIC hands over: NMI, SMI, INIT and SIPI.
/// </summary>
/// <remarks>
/// Every member except the <see cref="IApicCpu"/> callbacks and <see cref="PendingEvents"/> belongs
/// to the vCPU's own thread. Guest actions never throw: faults come back as results.
/// </remarks>
public sealed class Vcpu : IApicCpu, IDisposable
{
    /// <summary>IA32_TSC (0x10).</summary>
    public const uint MsrTsc = 0x10;
    /// <summary>IA32_TSC_DEADLINE (0x6E0).</summary>
    public const uint MsrTscDeadline = ApicOffset.TscDeadlineMsr;

    private int _pending;      // PendingEvents.Smi | Init | Sipi, set atomically from any thread
    private int _nmiQueued;    // NMIs accepted but not yet taken
    private volatile byte _sipiVector;
    private bool _nmiBlocked;
    private HandlerStack _handlers;
    private bool _lint0;
    private bool _lint1;

    /// <summary>Creates vCPU <paramref name="index"/> with its local APIC in the RESET state.</summary>
    public Vcpu(int index, ApicConfig config, VirtualClock clock, bool waitForSipi = false)
        : this(index, new LocalApic(index, index == 0, config, clock), waitForSipi)
    {
    }

    /// <summary>Creates vCPU <paramref name="index"/> around an APIC its VM allocated apart.</summary>
    internal Vcpu(int index, LocalApic apic, bool waitForSipi)
    {
        Index = index;
        Apic = apic;
        apic.Cpu = this;
        Dispatcher = new ExitDispatcher(Apic, Exits);
        State = waitForSipi && index != 0 ? VcpuRunState.WaitForSipi : VcpuRunState.Running;
    }

    /// <summary>The vCPU index (0 is the BSP).</summary>
    public int Index { get; }

    /// <summary>The local APIC.</summary>
    /// <remarks>
    /// Host-side access: the model's register file itself. Its methods bypass the backend (no VM exit
    /// is counted or traced, no assist sees the access), as a VMM's own reads and KVM_SET_LAPIC do.
    /// Guest accesses go through this vCPU (<see cref="TryWriteMsr"/>, <see cref="MmioWrite"/>,
    /// <see cref="Take"/>, ...), which meet the backend first.
    /// </remarks>
    public LocalApic Apic { get; }

    /// <summary>The hardware-assist model the guest's APIC accesses meet first.</summary>
    public ApicAccelerator Accelerator
    {
        get => Dispatcher.Accelerator;
        set => Dispatcher.Accelerator = value;
    }

    /// <summary>VM exits of this vCPU, by reason.</summary>
    public ExitStatistics Exits { get; } = new();

    /// <summary>The exit pipeline every APIC access, APIC MSR and HLT goes through.</summary>
    internal ExitDispatcher Dispatcher { get; }

    /// <summary>
    /// KVM's paravirtual EOI (<c>MSR_KVM_PV_EOI_EN</c>, 0x4b564d04): the guest enables it with WRMSR;
    /// the embedder provides the guest memory its flag lives in (<see cref="PvEoi.Memory"/>).
    /// </summary>
    public PvEoi PvEoi => Dispatcher.PvEoi;

    /// <summary>Receives this vCPU's exits, deliveries and EOIs, if set.</summary>
    public IVmTracer? Tracer
    {
        get => Dispatcher.Tracer;
        set
        {
            Dispatcher.Tracer = value;
            Apic.Tracer = value;
        }
    }

    /// <summary>The 8259 wired to LINT0, if any.</summary>
    public IExternalInterruptController? Pic { get; set; }

    /// <summary>RFLAGS.IF.</summary>
    public bool InterruptFlag { get; set; }

    /// <summary>The run state (changed by HLT, taking events, INIT/SIPI and restores).</summary>
    public VcpuRunState State { get; private set; }

    /// <summary>
    /// Declares the calling thread as this vCPU's thread: its own IRR updates become plain stores,
    /// other threads' deliveries go through an inbox (see <see cref="LocalApic.BindOwnerToCurrentThread"/>).
    /// </summary>
    public void BindToCurrentThread() => Apic.BindOwnerToCurrentThread();

    /// <summary>Sets the run state from the host (KVM_SET_MP_STATE), keeping the assist's bookkeeping in step.</summary>
    public void SetRunState(VcpuRunState state)
    {
        State = state;
        SyncBlockingWithState();
        Accelerator.OnRunStateChanged(Index);
        LatchWakeIfRunnable();
    }

    // The host set the run state (KVM_SET_MP_STATE, a restore): the vCPU is not in the middle of its
    // wait sequence any more; a halted vCPU still waits for a kick.
    private void SyncBlockingWithState() => Volatile.Write(ref _waiting, State == VcpuRunState.Halted ? 1 : 0);

    /// <summary>Whether NMIs are blocked (an NMI handler runs until IRET).</summary>
    public bool NmiBlocked => _nmiBlocked;

    /// <summary>The number of NMIs waiting.</summary>
    public int NmiQueued => Volatile.Read(ref _nmiQueued);

    /// <summary>The vector of the last SIPI accepted.</summary>
    public byte SipiVector => _sipiVector;

    /// <summary>The events pending now (ExtINT derived from the PIC and LINT0).</summary>
    public PendingEvents PendingEvents
    {
        get
        {
            var e = (PendingEvents)Volatile.Read(ref _pending);
            if (NmiQueued > 0)
            {
                e |= PendingEvents.Nmi;
            }

            if (ExtIntPending)
            {
                e |= PendingEvents.ExtInt;
            }

            return e;
        }
    }

    // KVM kvm_apic_accept_pic_intr: the PIC reaches a vCPU whose APIC is hardware-disabled or whose
    // LINT0 is unmasked in ExtINT mode. INTR is low almost always: that test is inlined into every
    // take, the LINT0 check is not.
    private bool ExtIntPending
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Pic is { HasInterrupt: true } && PicInterruptReachesApic();
    }

    private bool PicInterruptReachesApic()
    {
        if (!Apic.IsHardwareEnabled)
        {
            return true;
        }

        var lint0 = new Lvt(Apic.Words.Read(ApicOffset.LvtLint0));
        return !lint0.Masked && lint0.DeliveryMode == DeliveryMode.ExtInt;
    }

    // ------------------------------------------------------------------ IApicCpu (any thread)

    /// <inheritdoc/>
    public void OnNmi()
    {
        // KVM process_nmi: at most two NMIs pending when unblocked (one injecting, one latched),
        // one while an NMI handler runs; extra NMIs collapse.
        int limit = _nmiBlocked ? 1 : 2;
        int current;
        do
        {
            current = Volatile.Read(ref _nmiQueued);
            if (current >= limit)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _nmiQueued, current + 1, current) != current);
    }

    /// <inheritdoc/>
    public void OnSmi() => Interlocked.Or(ref _pending, (int)PendingEvents.Smi);

    /// <inheritdoc/>
    public void OnInit()
    {
        // INIT replaces whatever INIT/SIPI was pending (KVM: pending_events = INIT).
        int current;
        do
        {
            current = Volatile.Read(ref _pending);
        }
        while (Interlocked.CompareExchange(ref _pending, (current & ~(int)PendingEvents.Sipi) | (int)PendingEvents.Init, current) != current);
    }

    /// <inheritdoc/>
    public void OnSipi(byte vector)
    {
        // A SIPI counts only for a vCPU waiting for one, or about to be after a pending INIT;
        // otherwise it is dropped (KVM kvm_apic_accept_events discards it).
        if (State != VcpuRunState.WaitForSipi && (Volatile.Read(ref _pending) & (int)PendingEvents.Init) == 0)
        {
            return;
        }

        _sipiVector = vector;
        Interlocked.Or(ref _pending, (int)PendingEvents.Sipi);
    }

    /// <inheritdoc/>
    public void OnPvUnhalt() => Interlocked.Or(ref _pending, (int)PendingEvents.PvUnhalt);

    /// <inheritdoc/>
    /// <remarks>
    /// The flag KVM armed (only ever for the highest in-service vector) that the guest has cleared;
    /// reads the flag from guest RAM on the caller's thread (<see cref="IGuestMemory"/>).
    /// </remarks>
    public int EndedByGuest => PvEoi.Pending && !PvEoi.ReadFlag() ? Apic.Words.HighestVector(ApicOffset.Isr) : -1;

    // KVM vcpu->arch.pv.pv_unhalted (PendingEvents.PvUnhalt): consumed by HLT or a halted Take.
    private bool ConsumePvUnhalt() => (Interlocked.And(ref _pending, ~(int)PendingEvents.PvUnhalt) & (int)PendingEvents.PvUnhalt) != 0;

    // ------------------------------------------------------------------ guest actions

    /// <summary>KVM_HC_KICK_CPU, the hypercall number in RAX (Documentation/virt/kvm/x86/hypercalls.rst).</summary>
    public const ulong KvmHcKickCpu = 5;

    /// <summary>KVM's -KVM_ENOSYS, the result of an unknown hypercall.</summary>
    public const long KvmEnosys = -1000;

    /// <summary>
    /// VMCALL (an exit on every backend). <see cref="KvmHcKickCpu"/> (a0 flags, a1 APIC ID) sends a
    /// physical remote-read message to the APIC ID, which wakes a halted vCPU there (KVM
    /// <c>kvm_pv_kick_cpu_op</c>; the guest is assumed to have KVM_FEATURE_PV_UNHALT) and returns 0;
    /// any other number returns -KVM_ENOSYS.
    /// </summary>
    public long Hypercall(ulong nr, ulong a0, ulong a1)
    {
        _ = a0;
        Dispatcher.Hypercall(nr);
        if (nr != KvmHcKickCpu)
        {
            return KvmEnosys;
        }

        var kick = new InterruptMessage(0, DeliveryMode.RemoteRead, DestinationMode.Physical, (uint)a1, TriggerMode.Edge, false,
            DestinationShorthand.None, InterruptSource.Ipi, Index);
        Apic.Host.SendIpi(Apic, kick);
        return 0;
    }

    /// <summary>STI.</summary>
    public void Sti()
    {
        InterruptFlag = true;
        LatchWakeIfRunnable();
    }

    /// <summary>CLI.</summary>
    public void Cli() => InterruptFlag = false;

    /// <summary>HLT: the vCPU stops until it takes an event.</summary>
    public void Hlt()
    {
        Dispatcher.Hlt();
        if (ConsumePvUnhalt())
        {
            return; // a kick that came first: the HLT completes at once (kvm_vcpu_has_events)
        }

        Interlocked.Exchange(ref _waiting, 1); // a halted vCPU waits for a kick
        if (State == VcpuRunState.Running)
        {
            State = VcpuRunState.Halted;
            Accelerator.OnRunStateChanged(Index);
        }

        LatchWakeIfRunnable();
    }

    // A halted vCPU that already holds an event it would take must not sleep on it: latch the
    // wake-up, so that a WaitForKick returns at once (KVM kvm_vcpu_check_block asks
    // kvm_arch_vcpu_runnable before blocking). Events that arrive later latch it through Kick.
    // Owner thread (it may fold posted vectors into the IRR).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void LatchWakeIfRunnable()
    {
        if (State == VcpuRunState.Halted)
        {
            LatchWakeIfHaltedRunnable();
        }
    }

    private void LatchWakeIfHaltedRunnable()
    {
        Interlocked.Exchange(ref _waiting, 1);
        int pending = Volatile.Read(ref _pending);
        bool runnable = (pending & (int)(PendingEvents.Init | PendingEvents.Smi)) != 0
            || (!_nmiBlocked && NmiQueued > 0)
            || (InterruptFlag && (ExtIntPending || Apic.PendingVector() >= 0));
        if (runnable)
        {
            _wake.Set();
        }
    }

    /// <summary>
    /// Takes the highest-priority event the vCPU would take now, in architectural order (INIT, SMI,
    /// NMI, then ExtINT or a fixed interrupt above PPR when IF=1; SDM vol. 3A 7.3 / 6.9). A maskable
    /// interrupt is acknowledged and clears IF as an interrupt gate does.
    /// </summary>
    public GuestEvent Take()
    {
        // The common case first, kept small and free of calls: running with IF=1, nothing pending
        // but the APIC's fixed vectors (no INIT, SMI or SIPI, no NMI it could take, INTR low), PV
        // EOI off, not announced as waiting. Then the whole path below reduces to the acknowledge
        // and the handler entry; every other case takes that path. _waiting is written only on
        // this (the owner's) thread, so reading it before the acknowledge is reading it after. PV
        // EOI is tested as the dispatcher's copy of "enabled or flag pending", on a line the EOI
        // that follows loads anyway (ExitDispatcher.PvEoiInUse).
        if (State == VcpuRunState.Running && InterruptFlag && Volatile.Read(ref _pending) == 0
            && (_nmiBlocked || Volatile.Read(ref _nmiQueued) == 0) && Volatile.Read(ref _waiting) == 0
            && !ExtIntPending && !Dispatcher.PvEoiInUse)
        {
            return TakeApicVector();
        }

        return TakeWithEvents();
    }

    // Take, every case: the events beside the APIC's vectors, HLT and PV-unhalt wake-ups, PV EOI.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private GuestEvent TakeWithEvents()
    {
        var before = State;

        // Injecting needs an entry, which follows an exit: KVM looks at the PV EOI flag there.
        if (PvEoi.Pending)
        {
            PvEoi.SyncFromGuest();
        }

        var taken = TakeCore();
        if (taken.Kind != GuestEventKind.None && PvEoi.Enabled)
        {
            // An entry that injects has handled KVM_REQ_EVENT, and KVM then syncs to the guest
            // (vcpu_enter_guest -> kvm_lapic_sync_to_vapic) whatever it injected: after an NMI,
            // an SMI or an ExtINT too, the flag is armed again for a vector still in service whose
            // flag an exit took back. Software injection path only (see PvEoi.SyncToGuest).
            PvEoi.SyncToGuest(Accelerator.IsActive);
        }

        // Leaving HLT drops a PV unhalt whatever woke the vCPU (KVM vcpu_block clears pv_unhalted on
        // the way out of KVM_MP_STATE_HALTED), and a PV unhalt alone wakes it with no event.
        bool wakes = taken.Kind != GuestEventKind.None;
        if (before == VcpuRunState.Halted && ConsumePvUnhalt())
        {
            wakes = true;
        }

        bool unblocked = false;
        if (wakes && Volatile.Read(ref _waiting) != 0)
        {
            // Running again (KVM avic_vcpu_unblocking): kicks need not signal until the next wait.
            Volatile.Write(ref _waiting, 0);
            unblocked = true;
        }

        if (wakes && State == VcpuRunState.Halted)
        {
            State = VcpuRunState.Running;
        }

        if (State != before || unblocked)
        {
            Accelerator.OnRunStateChanged(Index);
        }

        return taken;
    }

    private GuestEvent TakeCore()
    {
        int pending = Volatile.Read(ref _pending);
        if ((pending & (int)PendingEvents.Init) != 0)
        {
            Interlocked.And(ref _pending, ~(int)PendingEvents.Init);
            DoInit();
            return new GuestEvent(GuestEventKind.Init);
        }

        if (State == VcpuRunState.WaitForSipi)
        {
            if ((pending & (int)PendingEvents.Sipi) == 0)
            {
                return GuestEvent.None;
            }

            Interlocked.And(ref _pending, ~(int)PendingEvents.Sipi);
            State = VcpuRunState.Running;
            return new GuestEvent(GuestEventKind.Sipi, _sipiVector);
        }

        if ((pending & (int)PendingEvents.Sipi) != 0)
        {
            Interlocked.And(ref _pending, ~(int)PendingEvents.Sipi); // outside wait-for-SIPI: dropped
        }

        if ((pending & (int)PendingEvents.Smi) != 0)
        {
            Interlocked.And(ref _pending, ~(int)PendingEvents.Smi);
            return new GuestEvent(GuestEventKind.Smi);
        }

        if (!_nmiBlocked && Volatile.Read(ref _nmiQueued) > 0)
        {
            Interlocked.Decrement(ref _nmiQueued);
            _nmiBlocked = true;
            PushHandler(GuestEventKind.Nmi);
            return new GuestEvent(GuestEventKind.Nmi);
        }

        if (!InterruptFlag)
        {
            return GuestEvent.None;
        }

        // The PIC is asked before the APIC, as KVM's kvm_cpu_get_interrupt does.
        if (ExtIntPending)
        {
            byte vector = Pic!.Acknowledge();
            EnterMaskableHandler();
            return new GuestEvent(GuestEventKind.ExtInt, vector);
        }

        return TakeApicVector();
    }

    // The APIC's fixed vector above PPR, if any, acknowledged and its handler entered (the caller
    // has checked IF and everything that comes before the APIC).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private GuestEvent TakeApicVector()
    {
        int v = Apic.Acknowledge();
        if (v < 0)
        {
            return GuestEvent.None;
        }

        EnterMaskableHandler();
        return new GuestEvent(GuestEventKind.Vector, (byte)v);
    }

    private void EnterMaskableHandler()
    {
        InterruptFlag = false;
        PushHandler(GuestEventKind.Vector);
    }

    /// <summary>The deepest handler nesting tracked; deeper entries are not remembered for IRET.</summary>
    public const int MaxHandlerDepth = 4096;

    // A guest that keeps re-enabling IF inside handlers could nest without bound; the stack stops
    // growing at MaxHandlerDepth (snapshots store the depth in 16 bits).
    private void PushHandler(GuestEventKind kind)
    {
        if (_handlers.Count < MaxHandlerDepth)
        {
            _handlers.Push(kind);
        }
    }

    // INIT (KVM kvm_vcpu_reset(init_event=true) + kvm_apic_accept_events): the APIC's INIT reset,
    // NMI/SMI state cleared, IF=0; the BSP runs on, APs wait for SIPI. A SIPI accepted after the
    // INIT stays pending: KVM handles both from one snapshot of pending_events, so it starts an AP
    // that the INIT just put in INIT_RECEIVED (and the next Take drops it on the BSP).
    private void DoInit()
    {
        Apic.InitReset();
        PvEoi.Reset();
        Interlocked.And(ref _pending, ~(int)PendingEvents.Smi);
        Volatile.Write(ref _nmiQueued, 0);
        _nmiBlocked = false;
        _handlers.Clear();
        InterruptFlag = false;
        State = new ApicBase(Apic.ApicBaseMsr).IsBsp ? VcpuRunState.Running : VcpuRunState.WaitForSipi;
    }

    /// <summary>IRET: leaves the handler of the last event taken (sets IF after a maskable one, unblocks NMIs after an NMI).</summary>
    public void Iret()
    {
        if (!_handlers.TryPop(out var kind))
        {
            return;
        }

        if (kind == GuestEventKind.Nmi)
        {
            _nmiBlocked = false;
        }
        else
        {
            InterruptFlag = true;
        }

        LatchWakeIfRunnable();
    }

    /// <summary>
    /// The IRET instruction as a CPU executes it (SDM vol. 3A 6.7.1, APM vol. 2 15.21.4): any IRET
    /// ends NMI blocking, whatever it returns from (an exception handler inside an NMI handler
    /// included), and RFLAGS.IF becomes the popped value. The handler entry of the last event taken,
    /// if any, is left. Use this from an instruction-level CPU; <see cref="Iret()"/> is the
    /// event-level form for drivers that only know which handler they leave.
    /// </summary>
    /// <param name="interruptFlagAfter">RFLAGS.IF as popped from the stack.</param>
    public void Iret(bool interruptFlagAfter)
    {
        _handlers.TryPop(out _);
        _nmiBlocked = false;
        InterruptFlag = interruptFlagAfter;
    }

    /// <summary>RDTSC.</summary>
    public ulong Rdtsc() => ApicTimer.TscAt(Apic.Clock.NowNs, Apic.Config.TscKhz);

    /// <summary>MOV to CR8: TPR[7:4] = CR8[3:0]. Bits 63:4 are reserved (#GP, returns false).</summary>
    public bool WriteCr8(ulong value)
    {
        if ((value & ~0xFul) != 0)
        {
            return false;
        }

        Apic.SetTpr((uint)value << 4);
        LatchWakeIfRunnable();
        return true;
    }

    /// <summary>MOV from CR8: TPR[7:4].</summary>
    public ulong ReadCr8() => Apic.Tpr >> 4;

    /// <summary>CPUID: the APIC bits of leaves 1 and 0xB, live (other bits read as 0).</summary>
    public uint Cpuid(uint leaf, uint subleaf, CpuidRegister register)
    {
        _ = subleaf;
        return (leaf, register) switch
        {
            (0, CpuidRegister.Eax) => 0xB,
            (1, CpuidRegister.Ebx) => (uint)(Index & 0xFF) << 24,
            (1, CpuidRegister.Ecx) => (Apic.Config.X2ApicSupported ? 1u << 21 : 0) | (Apic.Config.TscDeadlineSupported ? 1u << 24 : 0),
            (1, CpuidRegister.Edx) => Apic.IsHardwareEnabled ? 1u << 9 : 0, // follows APIC_BASE.EN
            (0xB, CpuidRegister.Edx) => Apic.X2ApicId,
            _ => 0,
        };
    }

    /// <summary>RDMSR. Returns false for #GP.</summary>
    public bool TryReadMsr(uint msr, out ulong value)
    {
        switch (msr)
        {
            case ApicBase.Msr or MsrTscDeadline or (>= ApicOffset.X2ApicMsrBase and <= ApicOffset.X2ApicMsrLast):
                return Dispatcher.ReadMsr(msr, out value);
            case MsrTsc:
                value = Rdtsc();
                return true;
            case PvEoi.Msr:
                value = Dispatcher.ReadPvEoiMsr();
                return true;
            default:
                value = 0;
                return false; // an MSR this model does not implement
        }
    }

    /// <summary>WRMSR by the guest. Returns false for #GP.</summary>
    public bool TryWriteMsr(uint msr, ulong value) => Dispatcher.WriteMsr(msr, value);

    /// <summary>
    /// A write by the VMM (KVM_SET_MSRS): any APIC_BASE transition between valid modes is allowed.
    /// Returns false on error. A halted vCPU the write makes runnable has its wake-up latched.
    /// </summary>
    public bool HostWriteMsr(uint msr, ulong value)
    {
        bool written = msr switch
        {
            ApicBase.Msr => Apic.SetApicBase(value, hostInitiated: true),
            MsrTscDeadline => WriteTscDeadlineFromHost(value),
            >= ApicOffset.X2ApicMsrBase and <= ApicOffset.X2ApicMsrLast => Apic.TryWriteX2ApicMsr(msr, value),
            PvEoi.Msr => PvEoi.TryWriteMsr(value),
            _ => false,
        };

        // KVM re-asks kvm_vcpu_has_events at the next KVM_RUN of a halted vCPU, so a host write that
        // makes an event deliverable ends the halt: a hardware disable hands LINT0 to the PIC's INTR
        // (kvm_apic_accept_pic_intr), a lower TPR or an unmasked ExtINT LINT0 uncovers what waits.
        LatchWakeIfRunnable();
        return written;
    }

    private bool WriteTscDeadlineFromHost(ulong value)
    {
        Apic.Timer.WriteTscDeadline(value);
        return true;
    }

    /// <summary>Whether <paramref name="gpa"/> falls in this vCPU's 4 KiB APIC window.</summary>
    public bool IsApicWindow(ulong gpa) => gpa - Apic.BaseAddress < ApicPage.Size;

    /// <summary>Where guest loads and stores outside the APIC window go (the IOAPIC, other devices).</summary>
    public IGuestBus? Bus { get; set; }

    /// <summary>
    /// A guest load of <paramref name="size"/> bytes (1, 2, 4 or 8) from <paramref name="gpa"/>: the
    /// APIC window first (the MMIO hole when disabled or in x2APIC mode), then the bus; unbacked
    /// addresses read all-ones.
    /// </summary>
    public ulong MmioRead(ulong gpa, int size)
    {
        if (size is not (1 or 2 or 4 or 8))
        {
            return 0;
        }

        if (IsApicWindow(gpa))
        {
            return Dispatcher.ReadMmio((int)(gpa - Apic.BaseAddress), size);
        }

        return Bus?.MmioRead(this, gpa, size) ?? (size == 8 ? ulong.MaxValue : (1ul << (size * 8)) - 1);
    }

    /// <summary>A guest store of <paramref name="size"/> bytes to <paramref name="gpa"/>.</summary>
    public void MmioWrite(ulong gpa, ulong value, int size)
    {
        if (size is not (1 or 2 or 4 or 8))
        {
            return;
        }

        if (IsApicWindow(gpa))
        {
            Dispatcher.WriteMmio((int)(gpa - Apic.BaseAddress), (uint)value, size);
            return;
        }

        Bus?.MmioWrite(this, gpa, value, size);
    }

    private readonly ManualResetEventSlim _wake = new(false);
    private long _kicks;
    private int _waiting;

    /// <summary>
    /// Whether a wake-up is latched: a <see cref="WaitForKick"/> now would return at once. Read-only
    /// inspection for the liveness invariant (VirtualApic.Diagnostics).
    /// </summary>
    internal bool WakeLatched => _wake.IsSet;

    /// <summary>
    /// Whether the vCPU owes work that KVM does at its next entry and kicks a vCPU in guest mode out
    /// for (<c>kvm_make_all_cpus_request</c>): an IOAPIC scan (KVM_REQ_SCAN_IOAPIC), an assist
    /// refresh (KVM_REQ_APICV_UPDATE), a timer expiry handed to a bound owner. See <see cref="Reenter"/>.
    /// Any thread.
    /// </summary>
    public bool HasPendingRequests => Apic.HasRequests;

    /// <summary>
    /// The vCPU leaves guest mode and enters it again without injecting anything, as a running vCPU
    /// does when KVM kicks it for a request: the exit looks at the PV EOI flag
    /// (<c>kvm_lapic_sync_from_vapic</c>: a flag still set is taken back, so the guest's next EOI
    /// writes the register; a flag the guest cleared is its EOI, performed now with the set as it
    /// stands), and the entry serves what is owed (<c>vcpu_enter_guest</c>: the expiry handed over,
    /// then the IOAPIC rescan, then the assist refresh), so a rescan runs when KVM's does, not at the
    /// vCPU's next evaluation. <see cref="Take"/> does the same before it injects, so a VMM that calls
    /// it at every entry needs this only where it re-enters without asking for an event; the scenario
    /// runner calls it after each statement for every running vCPU that <see cref="HasPendingRequests"/>.
    /// Owner thread.
    /// </summary>
    public void Reenter()
    {
        if (PvEoi.Pending)
        {
            PvEoi.SyncFromGuest();
        }

        Apic.ServeRequests();
        LatchWakeIfRunnable();
    }

    /// <summary>Number of kicks received (diagnostics; concurrent kicks may be counted once).</summary>
    public long Kicks => Volatile.Read(ref _kicks);

    /// <summary>
    /// Wakes the vCPU's thread if it waits in <see cref="WaitForKick"/>. Any thread; allocation-free.
    /// The caller has already made the event visible with an interlocked operation (IRR, PIR, NMI
    /// count), so only a vCPU that announced it may wait (<see cref="PrepareToWait"/>, HLT, until it
    /// takes an event) needs the costly event signal.
    /// </summary>
    public void Kick()
    {
        _kicks++;
        if (Volatile.Read(ref _waiting) != 0)
        {
            _wake.Set();
        }
    }

    /// <summary>
    /// For a vCPU thread: announces that it is about to wait. Call it before checking for events,
    /// then <see cref="WaitForKick"/> if none: a kick in between is not lost (both sides use full
    /// fences: the sender's interlocked event update, then its read of the waiting flag; the
    /// receiver's interlocked flag write, then its read of the events).
    /// </summary>
    /// <remarks>
    /// The assist hears of it before the caller's last check (KVM <c>avic_vcpu_blocking</c> clears
    /// AVIC IsRunning here, not at HLT): an IPI that lands after the check then exits to the
    /// hypervisor, which kicks this vCPU, instead of only ringing a doorbell nobody waits for.
    /// </remarks>
    public void PrepareToWait()
    {
        _wake.Reset();
        Interlocked.Exchange(ref _waiting, 1);
        Accelerator.OnRunStateChanged(Index);
    }

    /// <summary>
    /// Whether the vCPU announced that it may block (<see cref="PrepareToWait"/> or HLT) and has not
    /// taken an event since: a hardware assist must then wake it rather than notify it in guest mode.
    /// </summary>
    public bool IsBlocking => Volatile.Read(ref _waiting) != 0;

    // Whether a kick signalled the wake-up event since the last PrepareToWait (the harness's watchdog).
    internal bool WakeSignalled => _wake.IsSet;

    /// <summary>Blocks until kicked or the timeout passes; returns whether it was kicked.</summary>
    public bool WaitForKick(TimeSpan timeout)
    {
        Interlocked.Exchange(ref _waiting, 1);
        return _wake.Wait(timeout);
    }

    /// <summary>Drives LINT0 (<paramref name="pin"/> 0) or LINT1 (1); the LVT entry decides what happens.</summary>
    public void SetLint(int pin, bool level)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)pin, 1u, nameof(pin));
        ref bool line = ref pin == 0 ? ref _lint0 : ref _lint1;
        bool rising = level && !line;
        line = level;
        int offset = pin == 0 ? ApicOffset.LvtLint0 : ApicOffset.LvtLint1;
        var lvt = new Lvt(Apic.Words.Read(offset));

        // Edge entries fire on the rising edge; level entries while asserted (SDM 11.5.1).
        if (rising || (level && lvt.TriggerMode == TriggerMode.Level && (Apic.Words.Read(offset) & Lvt.RemoteIrrBit) == 0))
        {
            Apic.DeliverLocal(offset);
        }
    }

    /// <summary>The input level of LINT0 or LINT1.</summary>
    public bool GetLint(int pin) => pin == 0 ? _lint0 : _lint1;

    /// <inheritdoc/>
    public void Dispose() => _wake.Dispose();

    /// <summary>The CPU-side event state outside the APIC, for snapshots.</summary>
    public VcpuEventState SaveEvents() => new(
        State, InterruptFlag, _nmiBlocked, NmiQueued, (PendingEvents)Volatile.Read(ref _pending), _sipiVector,
        _handlers.ToArrayOldestFirst(), _lint0, _lint1);

    /// <summary>The PV EOI state for snapshots: the MSR value and KVM's host-side pending bit.</summary>
    public (ulong Msr, bool Pending) SavePvEoi() => (PvEoi.MsrValue, PvEoi.Pending);

    /// <summary>Restores the PV EOI state (the flag itself lives in guest memory, restored with it).</summary>
    /// <exception cref="ArgumentException">Reserved bit 1 set, or pending while disabled.</exception>
    public void RestorePvEoi(ulong msr, bool pending) => PvEoi.Restore(msr, pending);

    /// <summary>Restores the CPU-side event state.</summary>
    public void RestoreEvents(VcpuEventState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        State = state.State;
        InterruptFlag = state.InterruptFlag;
        _nmiBlocked = state.NmiBlocked;
        Volatile.Write(ref _nmiQueued, state.NmiQueued);
        Volatile.Write(ref _pending, (int)(state.Pending & (PendingEvents.Smi | PendingEvents.Init | PendingEvents.Sipi | PendingEvents.PvUnhalt)));
        _sipiVector = state.SipiVector;
        _handlers.Clear();
        foreach (var h in state.HandlerStack)
        {
            _handlers.Push(h);
        }

        _lint0 = state.Lint0;
        _lint1 = state.Lint1;
        SyncBlockingWithState();
        Accelerator.OnRunStateChanged(Index);
        LatchWakeIfRunnable();
    }
}

/// <summary>The memory-mapped devices a vCPU reaches outside its APIC window.</summary>
public interface IGuestBus
{
    /// <summary>A load; return all-ones for nothing there.</summary>
    ulong MmioRead(Vcpu vcpu, ulong gpa, int size);

    /// <summary>A store; drop it for nothing there.</summary>
    void MmioWrite(Vcpu vcpu, ulong gpa, ulong value, int size);
}

/// <summary>A CPUID output register.</summary>
public enum CpuidRegister : byte
{
    /// <summary>EAX.</summary>
    Eax,
    /// <summary>EBX.</summary>
    Ebx,
    /// <summary>ECX.</summary>
    Ecx,
    /// <summary>EDX.</summary>
    Edx,
}

/// <summary>The CPU-side interrupt state of a vCPU outside its APIC (KVM_GET_VCPU_EVENTS / MP_STATE).</summary>
/// <param name="State">Run state.</param>
/// <param name="InterruptFlag">RFLAGS.IF.</param>
/// <param name="NmiBlocked">NMI blocking.</param>
/// <param name="NmiQueued">Pending NMIs (0-2).</param>
/// <param name="Pending">SMI / INIT / SIPI pending.</param>
/// <param name="SipiVector">The last SIPI vector.</param>
/// <param name="HandlerStack">The handlers entered and not yet left by IRET, oldest first.</param>
/// <param name="Lint0">LINT0 input level.</param>
/// <param name="Lint1">LINT1 input level.</param>
public sealed record VcpuEventState(
    VcpuRunState State,
    bool InterruptFlag,
    bool NmiBlocked,
    int NmiQueued,
    PendingEvents Pending,
    byte SipiVector,
    IReadOnlyList<GuestEventKind> HandlerStack,
    bool Lint0,
    bool Lint1);
