// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Time;

namespace VirtualApic.Tests.Time;

/// <summary>
/// The clock's indexed heap against a model with no structure at all (a list scanned for its minimum):
/// random arms, re-arms, cancels, advances and peeks over up to 12 timers, some of whose callbacks
/// re-arm themselves or arm and cancel other timers, must fire the same timers in the same order at
/// the same clock readings, and agree after every step on what is armed and when.
/// </summary>
public class VirtualClockModelTests
{
    private enum OpKind
    {
        Arm,
        Cancel,
        Advance,
        RunDue,
    }

    private readonly record struct Op(OpKind Kind, int Timer, long Value);

    /// <summary>What a timer's callback does besides recording itself: 0 nothing, 1 re-arm itself, 2 arm another, 3 cancel another.</summary>
    private readonly record struct Behaviour(int Kind, int Other, long Delta);

    private const int MaxTimers = 12;
    private const int MaxRearms = 3; // per timer and run: keeps a callback from re-arming forever

    private static readonly Gen<Behaviour> GenBehaviour = Gen.Frequency(
        (4, Gen.Const(new Behaviour(0, 0, 0))),
        (2, Gen.Long[0, 120].Select(d => new Behaviour(1, 0, d))),
        (1, Gen.Select(Gen.Int[0, MaxTimers - 1], Gen.Long[0, 200], (o, d) => new Behaviour(2, o, d))),
        (1, Gen.Int[0, MaxTimers - 1].Select(o => new Behaviour(3, o, 0))));

    private static readonly Gen<Op> GenOp = Gen.Frequency(
        (8, Gen.Select(Gen.Int[0, MaxTimers - 1], Gen.Frequency((1, Gen.Long[-60, -1]), (6, Gen.Long[0, 400]), (1, Gen.Const(0L))), (t, d) => new Op(OpKind.Arm, t, d))),
        (3, Gen.Int[0, MaxTimers - 1].Select(t => new Op(OpKind.Cancel, t, 0))),
        (5, Gen.Frequency((1, Gen.Const(0L)), (6, Gen.Long[1, 250]), (1, Gen.Long[250, 2_000])).Select(d => new Op(OpKind.Advance, 0, d))),
        (1, Gen.Const(new Op(OpKind.RunDue, 0, 0))));

    /// <summary>The model: every armed timer with its deadline and arming sequence, in no order.</summary>
    private sealed class Model
    {
        public readonly long?[] Deadline = new long?[MaxTimers];
        public readonly long[] Sequence = new long[MaxTimers];
        public readonly long[] LastDeadline = new long[MaxTimers];
        public long Now;
        private long _sequence;

        public void Arm(int t, long deadline)
        {
            Deadline[t] = deadline;
            LastDeadline[t] = deadline;
            Sequence[t] = ++_sequence;
        }

        public void Cancel(int t)
        {
            Deadline[t] = null;
            Sequence[t] = ++_sequence;
        }

        // The armed timer that fires first: the earliest deadline, then the earliest arm.
        public int Earliest()
        {
            int best = -1;
            for (int t = 0; t < MaxTimers; t++)
            {
                if (Deadline[t] is { } d
                    && (best < 0 || d < Deadline[best]!.Value || (d == Deadline[best]!.Value && Sequence[t] < Sequence[best])))
                {
                    best = t;
                }
            }

            return best;
        }

        public int Armed => Deadline.Count(d => d is not null);
    }

    [Fact]
    public void The_heap_fires_what_a_list_scanned_for_its_minimum_fires()
    {
        Gen.Select(GenBehaviour.Array[MaxTimers], GenOp.Array[1, 120]).Sample(sample =>
        {
            var (behaviours, ops) = sample;
            var clock = new VirtualClock();
            var model = new Model();
            var fired = new List<(int Timer, long At)>();
            var expected = new List<(int Timer, long At)>();
            int[] rearms = new int[MaxTimers];
            int[] modelRearms = new int[MaxTimers];
            var timers = new ClockTimer[MaxTimers];
            for (int i = 0; i < MaxTimers; i++)
            {
                int t = i;
                timers[t] = new ClockTimer(clock, () =>
                {
                    fired.Add((t, clock.NowNs));
                    OnFire(behaviours[t], t, rearms, clock.NowNs, (x, d) => timers[x].Arm(d), x => timers[x].Cancel());
                });
            }

            for (int step = 0; step < ops.Length; step++)
            {
                var op = ops[step];
                switch (op.Kind)
                {
                    case OpKind.Arm:
                        timers[op.Timer].Arm(clock.NowNs + op.Value);
                        model.Arm(op.Timer, model.Now + op.Value);
                        break;
                    case OpKind.Cancel:
                        timers[op.Timer].Cancel();
                        model.Cancel(op.Timer);
                        break;
                    case OpKind.Advance:
                        clock.Advance(op.Value);
                        AdvanceModel(model, model.Now + op.Value, behaviours, modelRearms, expected);
                        break;
                    default:
                        clock.RunDue();
                        AdvanceModel(model, model.Now, behaviours, modelRearms, expected);
                        break;
                }

                string where = $"step {step} ({op})";
                Assert.True(expected.SequenceEqual(fired), $"{where}: fired [{string.Join(", ", fired)}], the model [{string.Join(", ", expected)}]");
                Assert.Equal(model.Now, clock.NowNs);
                Assert.Equal(model.Armed, clock.ArmedCount);
                int first = model.Earliest();
                Assert.Equal(first >= 0, clock.TryPeekNextDeadline(out long next));
                if (first >= 0)
                {
                    Assert.Equal(model.Deadline[first]!.Value, next);
                }

                for (int t = 0; t < MaxTimers; t++)
                {
                    Assert.True(model.Deadline[t].HasValue == timers[t].IsArmed, $"{where}: timer {t} armed");
                    Assert.Equal(model.LastDeadline[t], timers[t].DeadlineNs);
                }
            }
        }, iter: 2_000);
    }

    // The model's advance: fire the earliest due timer, with the clock at its deadline (never back),
    // until none is due, then stand at the target.
    private static void AdvanceModel(Model model, long target, Behaviour[] behaviours, int[] rearms, List<(int, long)> expected)
    {
        while (model.Earliest() is var t && t >= 0 && model.Deadline[t]!.Value <= target)
        {
            model.Now = Math.Max(model.Now, model.Deadline[t]!.Value);
            model.Deadline[t] = null;
            expected.Add((t, model.Now));
            OnFire(behaviours[t], t, rearms, model.Now, model.Arm, model.Cancel);
        }

        model.Now = target;
    }

    private static void OnFire(Behaviour b, int self, int[] rearms, long now, Action<int, long> arm, Action<int> cancel)
    {
        switch (b.Kind)
        {
            case 1 when rearms[self] < MaxRearms:
                rearms[self]++;
                arm(self, now + b.Delta);
                break;
            case 2 when rearms[self] < MaxRearms:
                rearms[self]++;
                arm(b.Other, now + b.Delta);
                break;
            case 3:
                cancel(b.Other);
                break;
        }
    }
}
