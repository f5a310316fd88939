// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Assist;
using VirtualApic.Cpu;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// <see cref="ApicExit"/> and <see cref="GuestEvent"/> pack their fields into machine words (so the
/// JIT returns them in registers); every field must still read back as written, alone or changed by
/// <c>with</c>, and equality must follow the fields.
/// </summary>
public sealed class ApicExitPackingTests
{
    private static readonly Gen<ApicExit> Exits = Gen.Select(
        Gen.Byte, Gen.Byte, Gen.Int, Gen.Bool, Gen.ULong,
        (o, r, i, t, icr) => new ApicExit((AssistOutcome)o, (ExitReason)r, i, t, icr));

    [Fact]
    public void Every_exit_field_reads_back_as_written()
    {
        Gen.Select(Gen.Byte, Gen.Byte, Gen.Int, Gen.Bool, Gen.ULong).Sample((o, r, i, t, icr) =>
        {
            var e = new ApicExit((AssistOutcome)o, (ExitReason)r, i, t, icr);
            var (outcome, reason, info, trapLike, icrOut) = e;
            return e.Outcome == (AssistOutcome)o && e.Reason == (ExitReason)r && e.Info == i && e.TrapLike == t && e.Icr == icr
                && outcome == e.Outcome && reason == e.Reason && info == i && trapLike == t && icrOut == icr;
        });
    }

    [Fact]
    public void With_changes_one_exit_field_and_keeps_the_others()
    {
        Gen.Select(Exits, Gen.Byte, Gen.Byte, Gen.Int, Gen.ULong).Sample((e, o, r, i, icr) =>
            (e with { Outcome = (AssistOutcome)o }) == new ApicExit((AssistOutcome)o, e.Reason, e.Info, e.TrapLike, e.Icr)
            && (e with { Reason = (ExitReason)r }) == new ApicExit(e.Outcome, (ExitReason)r, e.Info, e.TrapLike, e.Icr)
            && (e with { Info = i }) == new ApicExit(e.Outcome, e.Reason, i, e.TrapLike, e.Icr)
            && (e with { TrapLike = !e.TrapLike }) == new ApicExit(e.Outcome, e.Reason, e.Info, !e.TrapLike, e.Icr)
            && (e with { Icr = icr }) == new ApicExit(e.Outcome, e.Reason, e.Info, e.TrapLike, icr));
    }

    [Fact]
    public void Exits_are_equal_exactly_when_every_field_is()
    {
        Gen.Select(Exits, Exits).Sample((a, b) =>
            (a == b) == (a.Outcome == b.Outcome && a.Reason == b.Reason && a.Info == b.Info && a.TrapLike == b.TrapLike && a.Icr == b.Icr));
        Assert.Equal(default, ApicExit.Completed);
        Assert.Equal(
            "ApicExit { Outcome = Exit, Reason = AvicIncompleteIpi, Info = -1, TrapLike = True, Icr = 4294967296 }",
            new ApicExit(AssistOutcome.Exit, ExitReason.AvicIncompleteIpi, -1, true, 1UL << 32).ToString());
    }

    [Fact]
    public void The_factories_build_the_exit_their_fields_describe()
    {
        // FaultLike packs its words itself (so it stays small enough to inline on every exit path).
        Gen.Select(Gen.Byte, Gen.Int, Gen.ULong).Sample((r, i, icr) =>
            ApicExit.FaultLike((ExitReason)r, i) == new ApicExit(AssistOutcome.Exit, (ExitReason)r, i, false)
            && ApicExit.TrapLikeExit((ExitReason)r, i) == new ApicExit(AssistOutcome.Exit, (ExitReason)r, i, true)
            && ApicExit.IncompleteIpi((AvicIpiFailure)r, icr)
                == new ApicExit(AssistOutcome.Exit, ExitReason.AvicIncompleteIpi, (int)(AvicIpiFailure)r, true, icr));
        Assert.Equal(new ApicExit(AssistOutcome.GeneralProtection, default, 0, false), ApicExit.GeneralProtection);
    }

    [Fact]
    public void Every_guest_event_field_reads_back_as_written()
    {
        Gen.Select(Gen.Byte, Gen.Byte, Gen.Byte, Gen.Byte).Sample((k, v, k2, v2) =>
        {
            var e = new GuestEvent((GuestEventKind)k, v);
            var (kind, vector) = e;
            return e.Kind == (GuestEventKind)k && e.Vector == v && kind == e.Kind && vector == v
                && (e with { Kind = (GuestEventKind)k2 }) == new GuestEvent((GuestEventKind)k2, v)
                && (e with { Vector = v2 }) == new GuestEvent((GuestEventKind)k, v2)
                && (e == new GuestEvent((GuestEventKind)k2, v2)) == (k == k2 && v == v2);
        });
        Assert.Equal(GuestEventKind.Vector, new GuestEvent(GuestEventKind.Vector).Kind);
        Assert.Equal(0, new GuestEvent(GuestEventKind.Vector).Vector);
    }
}
