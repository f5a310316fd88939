namespace VirtualApic.Time;

/// <summary>
/// Deterministic virtual time shared by a VM, in nanoseconds. Time moves only when the host calls
/// <see cref="Advance"/>; timers that fall due fire in deadline order (ties in arming order), each
/// with the clock reading its own deadline.
/// </summary>
public sealed class VirtualClock
{
    private readonly PriorityQueue<ClockTimer, (long Deadline, long Sequence)> _queue = new();
    private long _sequence;

    /// <summary>The current virtual time in nanoseconds since VM start.</summary>
    public long NowNs { get; private set; }

    /// <summary>Number of armed timers (for tests and invariants).</summary>
    public int ArmedCount => _queue.Count;

    /// <summary>Moves time forward by <paramref name="ns"/>, firing every timer that falls due on the way.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative duration.</exception>
    public void Advance(long ns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ns);
        AdvanceTo(checked(NowNs + ns));
    }

    /// <summary>Moves time forward to <paramref name="targetNs"/>, firing due timers in order.</summary>
    public void AdvanceTo(long targetNs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(targetNs, NowNs);
        while (_queue.TryPeek(out var timer, out var key) && key.Deadline <= targetNs)
        {
            _queue.Dequeue();
            if (!timer.IsArmed || timer.Sequence != key.Sequence)
            {
                continue; // cancelled or re-armed since this entry was queued
            }

            NowNs = Math.Max(NowNs, key.Deadline);
            timer.IsArmed = false;
            timer.Fire();
        }

        NowNs = targetNs;
    }

    /// <summary>Sets the time directly, as restoring a snapshot does. Armed timers stay armed.</summary>
    public void SetTime(long ns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ns);
        NowNs = ns;
    }

    /// <summary>Fires every timer whose deadline is at or before now (after a restore or an arm in the past).</summary>
    public void RunDue() => AdvanceTo(NowNs);

    /// <summary>
    /// The earliest deadline of an armed timer, if any: where an embedder whose vCPUs are all halted
    /// can jump the clock to. Stale queue entries (cancelled or re-armed timers) are dropped on the way.
    /// </summary>
    /// <param name="deadlineNs">The earliest armed deadline, in virtual nanoseconds.</param>
    /// <returns>Whether any timer is armed.</returns>
    public bool TryPeekNextDeadline(out long deadlineNs)
    {
        while (_queue.TryPeek(out var timer, out var key))
        {
            if (timer.IsArmed && timer.Sequence == key.Sequence)
            {
                deadlineNs = key.Deadline;
                return true;
            }

            _queue.Dequeue();
        }

        deadlineNs = 0;
        return false;
    }

    internal void Arm(ClockTimer timer, long deadlineNs)
    {
        timer.IsArmed = true;
        timer.DeadlineNs = deadlineNs;
        timer.Sequence = ++_sequence;
        _queue.Enqueue(timer, (deadlineNs, timer.Sequence));
    }
}

/// <summary>A one-shot timer on a <see cref="VirtualClock"/>; the owner re-arms it for periodic use.</summary>
public sealed class ClockTimer
{
    private readonly VirtualClock _clock;
    private readonly Action _onFire;

    /// <summary>Creates a disarmed timer that calls <paramref name="onFire"/> when it falls due.</summary>
    public ClockTimer(VirtualClock clock, Action onFire)
    {
        _clock = clock;
        _onFire = onFire;
    }

    /// <summary>True while armed.</summary>
    public bool IsArmed { get; internal set; }

    /// <summary>The deadline of the last arm, in virtual nanoseconds.</summary>
    public long DeadlineNs { get; internal set; }

    internal long Sequence { get; set; }

    /// <summary>Arms (or re-arms) the timer for <paramref name="deadlineNs"/>.</summary>
    public void Arm(long deadlineNs) => _clock.Arm(this, deadlineNs);

    /// <summary>Disarms the timer; a queued entry is skipped when reached.</summary>
    public void Cancel() => IsArmed = false;

    internal void Fire() => _onFire();
}
