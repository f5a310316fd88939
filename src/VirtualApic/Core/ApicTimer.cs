// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;
using VirtualApic.Time;

namespace VirtualApic.Core;

/// <summary>
/// The local APIC timer on the VM's virtual clock (SDM 11.5.4; KVM lapic.c, <c>start_apic_timer</c>
/// and friends): one-shot, periodic and TSC-deadline modes, the divide configuration and TMCCT
/// computed from time. TMICT, TDCR and LVTT live in the page; this class keeps only what the page
/// cannot hold (the latched mode, the period, the expiry time, the TSC deadline).
/// </summary>
/// <remarks>
/// Threading (docs/threading.md, "Timers"): register writes arm and cancel on the owner's thread;
/// the expiry runs on the thread that advances the clock. One lock serialises the two, as KVM's
/// <c>hrtimer_cancel</c> waits for a running callback; an expiry whose arm was replaced since it fell
/// due is dropped. The clock's thread never waits for that lock: an expiry that finds it held is left
/// to the holder, which runs it as it lets go. The interrupt itself is handed to the owner (KVM
/// <c>apic_timer_expired</c>).
/// </remarks>
public sealed class ApicTimer
{
    private readonly LocalApic _apic;
    private readonly ClockTimer _clockTimer;
    private readonly Lock _lock = new();

    // The clock sequence of the current arm (0: not armed); an expiry for another one is stale.
    private long _armed;

    // Expiries handed to a bound owner on another thread, injected once (KVM lapic_timer.pending).
    private int _pendingInjections;

    // The sequence of an expiry the clock's thread found the lock held for (0: none): the holder runs it.
    private long _handedOver;

    internal ApicTimer(LocalApic apic)
    {
        _apic = apic;
        _clockTimer = new ClockTimer(apic.Clock, (Action<long>)Expire);
    }

    /// <summary>The latched timer mode (KVM <c>lapic_timer.timer_mode</c>).</summary>
    public TimerMode Mode { get; private set; }

    /// <summary>The divider that TDCR selects (1..128).</summary>
    public int DivideCount { get; private set; } = 2;

    /// <summary>The period in ns of the running count (0: stopped); periodic mode clamps it per profile.</summary>
    public long PeriodNs { get; private set; }

    /// <summary>The virtual time at which the current count reaches zero, valid while <see cref="IsArmed"/>.</summary>
    public long TargetNs { get; private set; }

    /// <summary>The armed TSC deadline (0: disarmed), in TSC ticks.</summary>
    public ulong TscDeadline { get; private set; }

    /// <summary>Whether an expiry is scheduled.</summary>
    public bool IsArmed => Volatile.Read(ref _armed) != 0;

    /// <summary>Number of expiries so far, coalesced ones included (diagnostics).</summary>
    public long Expirations => Interlocked.Read(ref _expirations);

    private long _expirations;

    private VirtualClock Clock => _apic.Clock;

    private void ArmAt(long targetNs)
    {
        TargetNs = targetNs;
        Volatile.Write(ref _armed, _clockTimer.ArmWithSequence(targetNs));
    }

    private void Disarm()
    {
        Volatile.Write(ref _armed, 0);
        _clockTimer.Cancel();
    }

    internal void Cancel()
    {
        using (Hold())
        {
            Disarm();
            Volatile.Write(ref _pendingInjections, 0);
        }
    }

    internal void ResetState()
    {
        using (Hold())
        {
            ResetStateLocked();
        }
    }

    private void ResetStateLocked()
    {
        Disarm();
        Volatile.Write(ref _pendingInjections, 0);
        PeriodNs = 0;
        TargetNs = 0;
        TscDeadline = 0;
        Mode = CurrentLvtMode();
        DivideCount = DivideFromTdcr(_apic.Words.Read(ApicOffset.Tdcr));
    }

    /// <summary>The divider encoded by a TDCR value: bits 3,1:0 (SDM figure 11-10).</summary>
    public static int DivideFromTdcr(uint tdcr)
    {
        uint t = tdcr & 0xF;
        uint shift = (((t & 3) | ((t & 8) >> 1)) + 1) & 7;
        return 1 << (int)shift;
    }

    private TimerMode CurrentLvtMode() => new Lvt(_apic.Words.Read(ApicOffset.LvtTimer)).TimerMode;

    /// <summary>The TSC of the VM at virtual time <paramref name="ns"/>.</summary>
    public static ulong TscAt(long ns, long tscKhz) => (ulong)((UInt128)(ulong)ns * (ulong)tscKhz / 1_000_000);

    // The first virtual ns at which the TSC reaches `tsc` (TSC counts tscKhz per ms).
    private static long NsForTsc(ulong tsc, long tscKhz)
    {
        var ns = (((UInt128)tsc * 1_000_000) + (ulong)tscKhz - 1) / (ulong)tscKhz;
        return ns > long.MaxValue ? long.MaxValue : (long)ns;
    }

    private long CountToNs(ulong count, int divide) => PeriodForCount(count, divide, _apic.Config.BusMhz);

    /// <summary>The time in ns that <paramref name="count"/> bus cycles over <paramref name="divide"/> take at <paramref name="busMhz"/>.</summary>
    internal static long PeriodForCount(ulong count, int divide, long busMhz)
    {
        var ns = (UInt128)count * (ulong)divide * 1000 / (ulong)busMhz;
        return ns > long.MaxValue / 2 ? long.MaxValue / 2 : (long)ns;
    }

    /// <summary>
    /// TMCCT (KVM <c>apic_get_tmcct</c>): 0 in TSC-deadline mode or when stopped; otherwise the
    /// remaining time in bus cycles over the divider, wrapping per period in periodic mode.
    /// </summary>
    public uint CurrentCount()
    {
        if (Mode == TimerMode.TscDeadline || _apic.Words.Read(ApicOffset.Tmict) == 0 || PeriodNs == 0)
        {
            return 0;
        }

        long remaining = Math.Max(0, TargetNs - Clock.NowNs);

        // KVM reduces modulo the period; a remaining time of exactly one period means the count
        // was just (re)loaded, which real time never observes but a virtual clock does.
        if (remaining > PeriodNs)
        {
            remaining %= PeriodNs;
        }

        var cycles = (UInt128)(ulong)remaining * (ulong)_apic.Config.BusMhz / (1000 * (ulong)DivideCount);
        return cycles > uint.MaxValue ? uint.MaxValue : (uint)cycles;
    }

    /// <summary>A TMICT write: ignored in TSC-deadline mode, else restarts the count (0 stops it).</summary>
    internal void WriteInitialCount(uint count)
    {
        using (Hold())
        {
            WriteInitialCountLocked(count);
        }
    }

    private void WriteInitialCountLocked(uint count)
    {
        if (Mode == TimerMode.TscDeadline)
        {
            // SDM 11.5.4.1: ignored in TSC-deadline mode, where TMICT is 0 (entering the mode zeroed
            // it). A trap-like write (APICv APIC-write, AVIC_NOACCEL) has already put the value in the
            // page; put the 0 back so that no backend shows the ignored write (docs/known-divergences.md).
            _apic.Words.Write(ApicOffset.Tmict, 0);
            return;
        }

        Disarm();
        _apic.Words.Write(ApicOffset.Tmict, count);
        StartCount(count, Clock.NowNs);
    }

    private void StartCount(uint tmict, long now)
    {
        // The reserved mode 11b starts nothing (KVM __start_apic_timer arms only one-shot and periodic).
        PeriodNs = tmict == 0 || Mode == TimerMode.Reserved ? 0 : CountToNs(tmict, DivideCount);
        ClampPeriod();
        if (PeriodNs == 0)
        {
            return;
        }

        ArmAt(SaturatingAdd(now, PeriodNs));
    }

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private void ClampPeriod()
    {
        long min = _apic.Config.Profile.PeriodicTimerMinimumNs;
        if (Mode == TimerMode.Periodic && PeriodNs != 0 && PeriodNs < min)
        {
            PeriodNs = min;
        }
    }

    /// <summary>A TDCR write: a running count is rescaled to the new divider (KVM <c>update_target_expiration</c>).</summary>
    internal void WriteDivideConfiguration(uint tdcr)
    {
        using (Hold())
        {
            WriteDivideConfigurationLocked(tdcr);
        }
    }

    private void WriteDivideConfigurationLocked(uint tdcr)
    {
        int old = DivideCount;
        _apic.Words.Write(ApicOffset.Tdcr, tdcr);
        DivideCount = DivideFromTdcr(tdcr);
        if (DivideCount == old || PeriodNs == 0 || Mode == TimerMode.TscDeadline)
        {
            return;
        }

        long now = Clock.NowNs;
        long remaining = Math.Max(0, TargetNs - now);
        PeriodNs = CountToNs(_apic.Words.Read(ApicOffset.Tmict), DivideCount);
        ClampPeriod();
        if (IsArmed)
        {
            var scaled = (UInt128)(ulong)remaining * (ulong)DivideCount / (ulong)old;
            ArmAt(scaled > (ulong)(long.MaxValue - now) ? long.MaxValue : now + (long)scaled);
        }
    }

    /// <summary>
    /// After an LVT timer write (KVM <c>apic_update_lvtt</c>): latch the mode; a switch into or out of
    /// TSC-deadline mode stops the timer and zeroes TMICT and the deadline.
    /// </summary>
    internal void OnLvtWritten()
    {
        using (Hold())
        {
            OnLvtWrittenLocked();
        }
    }

    private void OnLvtWrittenLocked()
    {
        var mode = CurrentLvtMode();
        if (mode == Mode)
        {
            return;
        }

        if ((mode == TimerMode.TscDeadline) != (Mode == TimerMode.TscDeadline))
        {
            Disarm();
            _apic.Words.Write(ApicOffset.Tmict, 0);
            PeriodNs = 0;
            TscDeadline = 0;
        }

        Mode = mode;
        ClampPeriod();
    }

    /// <summary>RDMSR IA32_TSC_DEADLINE: 0 unless the APIC is enabled in hardware and in TSC-deadline mode (KVM <c>kvm_get_lapic_tscdeadline_msr</c> checks <c>kvm_apic_present</c>).</summary>
    public ulong ReadTscDeadline() => _apic.IsHardwareEnabled && Mode == TimerMode.TscDeadline ? TscDeadline : 0;

    /// <summary>
    /// WRMSR IA32_TSC_DEADLINE: ignored unless the APIC is enabled in hardware and in TSC-deadline
    /// mode; 0 disarms; a deadline in the past fires at once.
    /// </summary>
    public void WriteTscDeadline(ulong deadline)
    {
        bool expired;
        using (Hold())
        {
            if (!_apic.IsHardwareEnabled || Mode != TimerMode.TscDeadline)
            {
                return;
            }

            Disarm();
            TscDeadline = deadline;
            if (deadline == 0)
            {
                return;
            }

            long now = Clock.NowNs;
            long target = NsForTsc(deadline, _apic.Config.TscKhz);
            expired = target <= now;
            if (expired)
            {
                // A deadline already passed expires this timer now, on this (the owner's) thread, and
                // nothing else (KVM start_sw_tscdeadline calls apic_timer_expired directly).
                TargetNs = now;
                TscDeadline = 0;
                Interlocked.Increment(ref _expirations);
            }
            else
            {
                ArmAt(target);
            }
        }

        if (expired)
        {
            _apic.DeliverLocal(ApicOffset.LvtTimer);
        }
    }

    // The clock's thread (KVM apic_timer_fn). It does not wait for a timer operation in progress: a
    // guest rewriting TMICT in a loop holds the lock most of the time, the lock lets the running
    // owner take it again before a woken waiter runs, and the one thread that serves every vCPU's
    // timer then starves whenever the host has fewer cores than busy vCPUs (the threading test saw
    // its clock slow down 150-500 times on 2 cores). The holder runs the expiry as it lets go (Hold),
    // which is the order "that operation, then the expiry": a re-arm or cancel makes it stale.
    private void Expire(long sequence)
    {
        if (_lock.TryEnter())
        {
            ExpireAndExit(sequence);
            return;
        }

        // An older hand-over still waiting here is stale (this sequence exists because the timer was
        // armed again after it popped, and sequences only grow): overwriting it loses nothing.
        Interlocked.Exchange(ref _handedOver, sequence);
        RunHandedOverExpiry();
    }

    // Runs a handed-over expiry if the lock is free. The exchange in Expire and the barrier here are
    // full fences on both sides: either the holder letting go sees the expiry, or the clock's
    // TryEnter sees the lock free.
    private void RunHandedOverExpiry()
    {
        while (true)
        {
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _handedOver) == 0 || !_lock.TryEnter())
            {
                return;
            }

            ExpireAndExit(Interlocked.Exchange(ref _handedOver, 0));
        }
    }

    // With the lock held: runs the expiry (0: another thread took the hand-over first), lets go, and
    // hands the interrupt over outside the lock.
    private void ExpireAndExit(long sequence)
    {
        bool fired;
        try
        {
            fired = sequence != 0 && ExpireLocked(sequence);
        }
        finally
        {
            _lock.Exit();
        }

        if (fired)
        {
            HandOverInterrupt();
        }
    }

    // KVM apic_timer_expired: counts the expiry and re-arms a periodic timer; false if stale.
    private bool ExpireLocked(long sequence)
    {
        if (Volatile.Read(ref _armed) != sequence)
        {
            return false; // re-armed or cancelled since it fell due
        }

        Volatile.Write(ref _armed, 0);
        long count = 1;
        switch (Mode)
        {
            case TimerMode.Periodic when PeriodNs > 0:
                // The expirations up to the end of this advance cannot be told apart by anyone:
                // they would all set the same IRR bit before any vCPU looks (KVM's pending count
                // is injected once too). Count them, deliver once, re-arm after the advance.
                long until = Clock.AdvanceTargetNs;
                if (until > TargetNs)
                {
                    long skipped = (until - TargetNs) / PeriodNs;
                    count += skipped;
                    TargetNs += skipped * PeriodNs;
                }

                if (TargetNs <= long.MaxValue - PeriodNs)
                {
                    ArmAt(TargetNs + PeriodNs);
                }

                break;
            case TimerMode.TscDeadline:
                TscDeadline = 0;
                break;
            default:
                break;
        }

        Interlocked.Add(ref _expirations, count);
        return true;
    }

    private void HandOverInterrupt()
    {
        // Hand the interrupt to the owner. A vCPU bound to another thread gets a request and a kick
        // and injects it before it next evaluates (KVM kvm_inject_apic_timer_irqs); otherwise (this is
        // the owner's thread, or the vCPU is not bound to any) it is delivered now, as any sender does.
        if (_apic.IsBound && !_apic.IsOwnerThread)
        {
            Interlocked.Increment(ref _pendingInjections);
            _apic.RequestTimerInjection();
            _apic.Host.Kick(_apic);
        }
        else
        {
            _apic.DeliverLocal(ApicOffset.LvtTimer);
        }
    }

    // Internal for the tests that play an operation in progress on another thread.
    internal LockHold Hold() => new(this);

    /// <summary>The timer lock held for one operation; letting go runs an expiry handed over meanwhile.</summary>
    internal readonly ref struct LockHold
    {
        private readonly ApicTimer _timer;

        public LockHold(ApicTimer timer)
        {
            _timer = timer;
            timer._lock.Enter();
        }

        public void Dispose()
        {
            _timer._lock.Exit();
            _timer.RunHandedOverExpiry();
        }
    }

    /// <summary>Expiries handed to the owner and not yet injected (inspection only).</summary>
    internal int PendingInjections => Volatile.Read(ref _pendingInjections);

    // The owner's thread: the expiries handed over since the last look become one interrupt.
    internal void InjectPending()
    {
        if (Interlocked.Exchange(ref _pendingInjections, 0) > 0)
        {
            _apic.DeliverLocal(ApicOffset.LvtTimer);
        }
    }

    /// <summary>The timer state that the register image cannot hold, for snapshots.</summary>
    public ApicTimerState Save()
    {
        using (Hold())
        {
            return new(Mode, PeriodNs, IsArmed, TargetNs, TscDeadline);
        }
    }

    /// <summary>
    /// Restores the timer after the page was restored (KVM <c>__start_apic_timer(APIC_TMCCT)</c> for
    /// migrations, but exact here since the whole state is saved): re-latches the mode and divider and
    /// re-arms at the saved target. A target already due fires on the next <see cref="VirtualClock.RunDue"/>.
    /// </summary>
    internal void Restore(ApicTimerState state)
    {
        using (Hold())
        {
            Disarm();
            Volatile.Write(ref _pendingInjections, 0);
            Mode = CurrentLvtMode();
            DivideCount = DivideFromTdcr(_apic.Words.Read(ApicOffset.Tdcr));
            PeriodNs = state.PeriodNs;
            TargetNs = state.TargetNs;
            TscDeadline = state.TscDeadline;
            if (state.Armed)
            {
                ArmAt(TargetNs);
            }
        }
    }

    /// <summary>
    /// Restarts the timer from a TMCCT value, the way KVM does after KVM_SET_LAPIC when only the
    /// register image is known: 0 makes a periodic timer restart a full period and a one-shot fire at
    /// once (KVM commit 8e6ed96cdd50); otherwise the remaining time is TMCCT's, capped at the period
    /// (KVM <c>set_target_expiration</c> compares in ns with the period after the periodic clamp, so a
    /// clamped periodic timer, whose TMCCT may exceed TMICT, keeps its longer remaining time).
    /// </summary>
    internal void RestartFromCurrentCount(uint tmcct)
    {
        using (Hold())
        {
            RestartFromCurrentCountLocked(tmcct);
        }
    }

    private void RestartFromCurrentCountLocked(uint tmcct)
    {
        Disarm();
        Volatile.Write(ref _pendingInjections, 0);
        Mode = CurrentLvtMode();
        DivideCount = DivideFromTdcr(_apic.Words.Read(ApicOffset.Tdcr));
        TscDeadline = 0;
        uint tmict = _apic.Words.Read(ApicOffset.Tmict);
        if (Mode == TimerMode.TscDeadline || tmict == 0)
        {
            PeriodNs = 0;
            return;
        }

        PeriodNs = CountToNs(tmict, DivideCount);
        ClampPeriod();
        long now = Clock.NowNs;
        // A bare image carries no target: KVM set_target_expiration caps the remaining time at the
        // (clamped) period, so a clamped periodic timer keeps its longer remaining time.
        long target = tmcct == 0
            ? (Mode == TimerMode.Periodic ? SaturatingAdd(now, PeriodNs) : now)
            : SaturatingAdd(now, Math.Min(CountToNs(tmcct, DivideCount), PeriodNs));
        ArmAt(target);
    }
}

/// <summary>The timer state outside the register image.</summary>
/// <param name="Mode">The latched mode.</param>
/// <param name="PeriodNs">The period of the running count in ns.</param>
/// <param name="Armed">Whether an expiry was scheduled.</param>
/// <param name="TargetNs">The scheduled expiry time in virtual ns.</param>
/// <param name="TscDeadline">The armed TSC deadline.</param>
public readonly record struct ApicTimerState(TimerMode Mode, long PeriodNs, bool Armed, long TargetNs, ulong TscDeadline);
