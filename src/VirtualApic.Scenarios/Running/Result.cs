// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using VirtualApic.Cpu;
using VirtualApic.Scenarios.Syntax;

namespace VirtualApic.Scenarios.Running;

/// <summary>What a statement observed: a value, <c>ok</c>, <c>#GP</c>, <c>error</c> or an event taken.</summary>
internal readonly record struct Result(Result.Kinds Kind, ulong Value = 0, GuestEvent Event = default)
{
    public enum Kinds : byte
    {
        Value,
        Ok,
        Gp,
        Error,
        Event,
    }

    public static Result Ok => new(Kinds.Ok);

    public static Result Gp => new(Kinds.Gp);

    public static Result Error => new(Kinds.Error);

    public static Result OkOrGp(bool ok) => ok ? Ok : Gp;

    public static Result Of(ulong value) => new(Kinds.Value, value);

    public static Result Of(GuestEvent e) => new(Kinds.Event, 0, e);

    public bool Matches(Expectation expect) => expect.Kind switch
    {
        ExpectationKind.Value => Kind == Kinds.Value && (Value & (expect.Mask ?? ulong.MaxValue)) == expect.Value,
        ExpectationKind.GeneralProtection => Kind == Kinds.Gp,
        ExpectationKind.Ok => Kind == Kinds.Ok,
        ExpectationKind.Error => Kind == Kinds.Error,
        ExpectationKind.None => Kind == Kinds.Event && Event.Kind == GuestEventKind.None,
        ExpectationKind.Nmi => Kind == Kinds.Event && Event.Kind == GuestEventKind.Nmi,
        ExpectationKind.Smi => Kind == Kinds.Event && Event.Kind == GuestEventKind.Smi,
        ExpectationKind.Init => Kind == Kinds.Event && Event.Kind == GuestEventKind.Init,
        ExpectationKind.Vector => Kind == Kinds.Event && Event.Kind == GuestEventKind.Vector && Event.Vector == expect.Value,
        ExpectationKind.ExtInt => Kind == Kinds.Event && Event.Kind == GuestEventKind.ExtInt && Event.Vector == expect.Value,
        ExpectationKind.Sipi => Kind == Kinds.Event && Event.Kind == GuestEventKind.Sipi && Event.Vector == expect.Value,
        _ => false,
    };

    public override string ToString() => Kind switch
    {
        Kinds.Value => "0x" + Value.ToString("x", CultureInfo.InvariantCulture),
        Kinds.Ok => "ok",
        Kinds.Gp => "#GP",
        Kinds.Error => "error",
        _ => Event.ToString(),
    };
}
