// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Time;

/// <summary>
/// Deterministic virtual time shared by a VM, in nanoseconds. Time moves only when the host calls
/// <see cref="Advance"/>; timers that fall due fire in deadline order (ties in arming order), each
/// with the clock reading its own deadline.
/// </summary>
/// <remarks>
/// Threading (docs/threading.md, "Timers"): any thread may arm and cancel timers while one thread
/// advances time. The queue is an indexed binary heap under one lock, with one entry per armed timer:
/// re-arming moves the timer's entry and cancelling removes it, so memory is O(armed timers) whatever
/// a guest does. Expiry callbacks run on the advancing thread outside the clock's lock, so a callback
/// may re-arm (the lock order is: a timer owner's own lock, then the clock's).
/// </remarks>
public sealed class VirtualClock
{
    private readonly Lock _lock = new();
    private ClockTimer[] _heap = new ClockTimer[4];
    private int _count;
    private long _sequence;
    private long _now;

    /// <summary>The current virtual time in nanoseconds since VM start.</summary>
    public long NowNs
    {
        get => Volatile.Read(ref _now);
        private set => Volatile.Write(ref _now, value);
    }

    /// <summary>Number of armed timers (for tests and invariants).</summary>
    public int ArmedCount
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>
    /// The target of the advance in progress (the time <see cref="AdvanceTo"/> moves to), or
    /// <see cref="NowNs"/> outside an advance. A periodic timer uses it to coalesce the expirations
    /// that nothing can observe in between.
    /// </summary>
    public long AdvanceTargetNs => Math.Max(Volatile.Read(ref _target), NowNs);

    private long _target;

    /// <summary>Moves time forward by <paramref name="ns"/>, firing every timer that falls due on the way.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative duration, or one that would move time past
    /// <see cref="long.MaxValue"/> ns (the clock is left as it was).</exception>
    public void Advance(long ns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ns);
        long now = NowNs;
        if (ns > long.MaxValue - now)
        {
            throw new ArgumentOutOfRangeException(nameof(ns), ns,
                $"advancing {ns} ns from {now} ns would pass the end of virtual time ({long.MaxValue} ns)");
        }

        AdvanceTo(now + ns);
    }

    /// <summary>Moves time forward to <paramref name="targetNs"/>, firing due timers in order.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="targetNs"/> is before now.</exception>
    public void AdvanceTo(long targetNs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(targetNs, NowNs);
        Volatile.Write(ref _target, targetNs);
        while (true)
        {
            ClockTimer timer;
            long sequence;
            lock (_lock)
            {
                if (_count == 0 || _heap[0].DeadlineNs > targetNs)
                {
                    break;
                }

                timer = _heap[0];
                sequence = timer.Sequence;
                RemoveAt(0);
                NowNs = Math.Max(NowNs, timer.DeadlineNs);
            }

            // Outside the lock: the callback may re-arm this or other timers, and takes its owner's
            // lock first. A re-arm or cancel between the pop and here changes the sequence: the
            // owner checks it and drops a stale expiry.
            timer.Fire(sequence);
        }

        NowNs = targetNs;
    }

    /// <summary>Sets the time directly, as restoring a snapshot does. Armed timers stay armed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative time.</exception>
    public void SetTime(long ns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ns);
        NowNs = ns;
        Volatile.Write(ref _target, ns);
    }

    /// <summary>Fires every timer whose deadline is at or before now (after a restore or an arm in the past).</summary>
    public void RunDue() => AdvanceTo(NowNs);

    /// <summary>
    /// The earliest deadline of an armed timer, if any: where an embedder whose vCPUs are all halted
    /// can jump the clock to.
    /// </summary>
    /// <param name="deadlineNs">The earliest armed deadline, in virtual nanoseconds.</param>
    /// <returns>Whether any timer is armed.</returns>
    public bool TryPeekNextDeadline(out long deadlineNs)
    {
        lock (_lock)
        {
            if (_count > 0)
            {
                deadlineNs = _heap[0].DeadlineNs;
                return true;
            }
        }

        deadlineNs = 0;
        return false;
    }

    internal long Arm(ClockTimer timer, long deadlineNs)
    {
        lock (_lock)
        {
            timer.DeadlineNs = deadlineNs;
            timer.Sequence = ++_sequence;
            if (timer.HeapIndex < 0)
            {
                if (_count == _heap.Length)
                {
                    Array.Resize(ref _heap, _count * 2);
                }

                timer.HeapIndex = _count;
                _heap[_count++] = timer;
                SiftUp(timer.HeapIndex);
            }
            else
            {
                // The entry moves; no stale copy stays behind.
                SiftUp(timer.HeapIndex);
                SiftDown(timer.HeapIndex);
            }

            return timer.Sequence;
        }
    }

    internal void Cancel(ClockTimer timer)
    {
        lock (_lock)
        {
            timer.Sequence = ++_sequence;
            if (timer.HeapIndex >= 0)
            {
                RemoveAt(timer.HeapIndex);
            }
        }
    }

    internal bool IsQueued(ClockTimer timer)
    {
        lock (_lock)
        {
            return timer.HeapIndex >= 0;
        }
    }

    private static bool Before(ClockTimer a, ClockTimer b) =>
        a.DeadlineNs < b.DeadlineNs || (a.DeadlineNs == b.DeadlineNs && a.Sequence < b.Sequence);

    private void RemoveAt(int index)
    {
        var removed = _heap[index];
        removed.HeapIndex = -1;
        _count--;
        if (index != _count)
        {
            var last = _heap[_count];
            _heap[index] = last;
            last.HeapIndex = index;
            SiftUp(index);
            SiftDown(last.HeapIndex);
        }

        _heap[_count] = null!;
    }

    private void SiftUp(int index)
    {
        var t = _heap[index];
        while (index > 0)
        {
            int parent = (index - 1) >> 1;
            if (!Before(t, _heap[parent]))
            {
                break;
            }

            _heap[index] = _heap[parent];
            _heap[index].HeapIndex = index;
            index = parent;
        }

        _heap[index] = t;
        t.HeapIndex = index;
    }

    private void SiftDown(int index)
    {
        var t = _heap[index];
        while (true)
        {
            int child = (2 * index) + 1;
            if (child >= _count)
            {
                break;
            }

            if (child + 1 < _count && Before(_heap[child + 1], _heap[child]))
            {
                child++;
            }

            if (!Before(_heap[child], t))
            {
                break;
            }

            _heap[index] = _heap[child];
            _heap[index].HeapIndex = index;
            index = child;
        }

        _heap[index] = t;
        t.HeapIndex = index;
    }
}

/// <summary>A one-shot timer on a <see cref="VirtualClock"/>; the owner re-arms it for periodic use.</summary>
public sealed class ClockTimer
{
    private readonly VirtualClock _clock;
    private readonly Action? _onFire;
    private readonly Action<long>? _onFireWithSequence;

    /// <summary>Creates a disarmed timer that calls <paramref name="onFire"/> when it falls due.</summary>
    public ClockTimer(VirtualClock clock, Action onFire)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(onFire);
        _clock = clock;
        _onFire = onFire;
    }

    // For owners that serialise expiry with their own arming (ApicTimer): the callback gets the
    // sequence of the arm that fell due and drops it if the timer was re-armed or cancelled since.
    internal ClockTimer(VirtualClock clock, Action<long> onFire)
    {
        _clock = clock;
        _onFireWithSequence = onFire;
    }

    /// <summary>True while armed (queued on the clock).</summary>
    public bool IsArmed => _clock.IsQueued(this);

    /// <summary>The deadline of the last arm, in virtual nanoseconds.</summary>
    public long DeadlineNs { get; internal set; }

    internal long Sequence { get; set; }

    // Position in the clock's heap, -1 when not queued; guarded by the clock's lock.
    internal int HeapIndex { get; set; } = -1;

    /// <summary>Arms (or re-arms) the timer for <paramref name="deadlineNs"/>. Any thread.</summary>
    public void Arm(long deadlineNs) => _clock.Arm(this, deadlineNs);

    /// <summary>Disarms the timer. Any thread.</summary>
    public void Cancel() => _clock.Cancel(this);

    internal long ArmWithSequence(long deadlineNs) => _clock.Arm(this, deadlineNs);

    internal void Fire(long sequence)
    {
        if (_onFireWithSequence is not null)
        {
            _onFireWithSequence(sequence);
        }
        else if (Sequence == sequence)
        {
            _onFire!(); // not re-armed or cancelled since it fell due
        }
    }
}
