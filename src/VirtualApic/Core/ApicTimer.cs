using VirtualApic.Registers;
using VirtualApic.Time;

namespace VirtualApic.Core;

/// <summary>
/// The local APIC timer on the VM's virtual clock (SDM 11.5.4; KVM lapic.c, <c>start_apic_timer</c>
/// and friends): one-shot, periodic and TSC-deadline modes, the divide configuration and TMCCT
/// computed from time. TMICT, TDCR and LVTT live in the page; this class keeps only what the page
/// cannot hold (the latched mode, the period, the expiry time, the TSC deadline).
/// </summary>
public sealed class ApicTimer
{
    private readonly LocalApic _apic;
    private readonly ClockTimer _clockTimer;

    internal ApicTimer(LocalApic apic)
    {
        _apic = apic;
        _clockTimer = new ClockTimer(apic.Clock, Expire);
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
    public bool IsArmed => _clockTimer.IsArmed;

    /// <summary>Number of expiries so far (diagnostics).</summary>
    public long Expirations { get; private set; }

    private VirtualClock Clock => _apic.Clock;

    internal void Cancel() => _clockTimer.Cancel();

    internal void ResetState()
    {
        _clockTimer.Cancel();
        PeriodNs = 0;
        TargetNs = 0;
        TscDeadline = 0;
        Mode = CurrentLvtMode();
        DivideCount = DivideFromTdcr(_apic.Page.Read(ApicOffset.Tdcr));
    }

    /// <summary>The divider encoded by a TDCR value: bits 3,1:0 (SDM figure 11-10).</summary>
    public static int DivideFromTdcr(uint tdcr)
    {
        uint t = tdcr & 0xF;
        uint shift = (((t & 3) | ((t & 8) >> 1)) + 1) & 7;
        return 1 << (int)shift;
    }

    private TimerMode CurrentLvtMode() => new Lvt(_apic.Page.Read(ApicOffset.LvtTimer)).TimerMode;

    /// <summary>The TSC of the VM at virtual time <paramref name="ns"/>.</summary>
    public static ulong TscAt(long ns, long tscKhz) => (ulong)((UInt128)(ulong)ns * (ulong)tscKhz / 1_000_000);

    // The first virtual ns at which the TSC reaches `tsc` (TSC counts tscKhz per ms).
    private static long NsForTsc(ulong tsc, long tscKhz)
    {
        UInt128 ns = (((UInt128)tsc * 1_000_000) + (ulong)tscKhz - 1) / (ulong)tscKhz;
        return ns > long.MaxValue ? long.MaxValue : (long)ns;
    }

    private long CountToNs(ulong count, int divide)
    {
        UInt128 ns = (UInt128)count * (ulong)divide * 1000 / (ulong)_apic.Config.BusMhz;
        return ns > long.MaxValue / 2 ? long.MaxValue / 2 : (long)ns;
    }

    /// <summary>
    /// TMCCT (KVM <c>apic_get_tmcct</c>): 0 in TSC-deadline mode or when stopped; otherwise the
    /// remaining time in bus cycles over the divider, wrapping per period in periodic mode.
    /// </summary>
    public uint CurrentCount()
    {
        if (Mode == TimerMode.TscDeadline || _apic.Page.Read(ApicOffset.Tmict) == 0 || PeriodNs == 0)
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

        UInt128 cycles = (UInt128)(ulong)remaining * (ulong)_apic.Config.BusMhz / (1000 * (ulong)DivideCount);
        return cycles > uint.MaxValue ? uint.MaxValue : (uint)cycles;
    }

    /// <summary>A TMICT write: ignored in TSC-deadline mode, else restarts the count (0 stops it).</summary>
    internal void WriteInitialCount(uint count)
    {
        if (Mode == TimerMode.TscDeadline)
        {
            // SDM 11.5.4.1: ignored in TSC-deadline mode, where TMICT is 0 (entering the mode zeroed
            // it). A trap-like write (APICv APIC-write, AVIC_NOACCEL) has already put the value in the
            // page; put the 0 back so that no backend shows the ignored write (docs/known-divergences.md).
            _apic.Page.Write(ApicOffset.Tmict, 0);
            return;
        }

        _clockTimer.Cancel();
        _apic.Page.Write(ApicOffset.Tmict, count);
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

        TargetNs = now + PeriodNs;
        _clockTimer.Arm(TargetNs);
    }

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
        int old = DivideCount;
        _apic.Page.Write(ApicOffset.Tdcr, tdcr);
        DivideCount = DivideFromTdcr(tdcr);
        if (DivideCount == old || PeriodNs == 0 || Mode == TimerMode.TscDeadline)
        {
            return;
        }

        long now = Clock.NowNs;
        long remaining = Math.Max(0, TargetNs - now);
        PeriodNs = CountToNs(_apic.Page.Read(ApicOffset.Tmict), DivideCount);
        ClampPeriod();
        if (_clockTimer.IsArmed)
        {
            TargetNs = now + (long)((UInt128)(ulong)remaining * (ulong)DivideCount / (ulong)old);
            _clockTimer.Arm(TargetNs);
        }
    }

    /// <summary>
    /// After an LVT timer write (KVM <c>apic_update_lvtt</c>): latch the mode; a switch into or out of
    /// TSC-deadline mode stops the timer and zeroes TMICT and the deadline.
    /// </summary>
    internal void OnLvtWritten()
    {
        var mode = CurrentLvtMode();
        if (mode == Mode)
        {
            return;
        }

        if ((mode == TimerMode.TscDeadline) != (Mode == TimerMode.TscDeadline))
        {
            _clockTimer.Cancel();
            _apic.Page.Write(ApicOffset.Tmict, 0);
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
        if (!_apic.IsHardwareEnabled || Mode != TimerMode.TscDeadline)
        {
            return;
        }

        _clockTimer.Cancel();
        TscDeadline = deadline;
        if (deadline == 0)
        {
            return;
        }

        TargetNs = Math.Max(Clock.NowNs, NsForTsc(deadline, _apic.Config.TscKhz));
        _clockTimer.Arm(TargetNs);
        if (TargetNs <= Clock.NowNs)
        {
            Clock.RunDue();
        }
    }

    private void Expire()
    {
        Expirations++;
        _apic.DeliverLocal(ApicOffset.LvtTimer);
        switch (Mode)
        {
            case TimerMode.Periodic when PeriodNs > 0:
                // Each period fires at its own virtual time; the clock never skips one.
                TargetNs += PeriodNs;
                _clockTimer.Arm(TargetNs);
                break;
            case TimerMode.TscDeadline:
                TscDeadline = 0;
                break;
            default:
                break;
        }
    }

    /// <summary>The timer state that the register image cannot hold, for snapshots.</summary>
    public ApicTimerState Save() => new(Mode, PeriodNs, IsArmed, TargetNs, TscDeadline);

    /// <summary>
    /// Restores the timer after the page was restored (KVM <c>__start_apic_timer(APIC_TMCCT)</c> for
    /// migrations, but exact here since the whole state is saved): re-latches the mode and divider and
    /// re-arms at the saved target. A target already due fires on the next <see cref="VirtualClock.RunDue"/>.
    /// </summary>
    internal void Restore(ApicTimerState state)
    {
        _clockTimer.Cancel();
        Mode = CurrentLvtMode();
        DivideCount = DivideFromTdcr(_apic.Page.Read(ApicOffset.Tdcr));
        PeriodNs = state.PeriodNs;
        TargetNs = state.TargetNs;
        TscDeadline = state.TscDeadline;
        if (state.Armed)
        {
            _clockTimer.Arm(TargetNs);
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
        _clockTimer.Cancel();
        Mode = CurrentLvtMode();
        DivideCount = DivideFromTdcr(_apic.Page.Read(ApicOffset.Tdcr));
        TscDeadline = 0;
        uint tmict = _apic.Page.Read(ApicOffset.Tmict);
        if (Mode == TimerMode.TscDeadline || tmict == 0)
        {
            PeriodNs = 0;
            return;
        }

        PeriodNs = CountToNs(tmict, DivideCount);
        ClampPeriod();
        long now = Clock.NowNs;
        if (tmcct == 0)
        {
            TargetNs = Mode == TimerMode.Periodic ? now + PeriodNs : now;
        }
        else
        {
            TargetNs = now + Math.Min(CountToNs(tmcct, DivideCount), PeriodNs);
        }

        _clockTimer.Arm(TargetNs);
    }
}

/// <summary>The timer state outside the register image.</summary>
/// <param name="Mode">The latched mode.</param>
/// <param name="PeriodNs">The period of the running count in ns.</param>
/// <param name="Armed">Whether an expiry was scheduled.</param>
/// <param name="TargetNs">The scheduled expiry time in virtual ns.</param>
/// <param name="TscDeadline">The armed TSC deadline.</param>
public readonly record struct ApicTimerState(TimerMode Mode, long PeriodNs, bool Armed, long TargetNs, ulong TscDeadline);
