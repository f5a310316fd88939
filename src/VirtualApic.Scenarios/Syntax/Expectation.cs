// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>What an expectation compares the observation with.</summary>
public enum ExpectationKind : byte
{
    /// <summary><c>== VALUE</c>, or <c>&amp; MASK == VALUE</c> when <see cref="Expectation.Mask"/> is set.</summary>
    Value = 0,
    /// <summary><c>== #GP</c> or <c>!gp</c>: the access raises a general-protection fault.</summary>
    GeneralProtection = 1,
    /// <summary><c>== ok</c>: a write completes without a fault (or a host write is accepted).</summary>
    Ok = 2,
    /// <summary><c>== error</c>: a host write (<c>host-wrmsr</c>) is refused.</summary>
    Error = 3,
    /// <summary><c>== none</c>: <c>take</c> finds nothing to take.</summary>
    None = 4,
    /// <summary><c>== nmi</c>: <c>take</c> takes an NMI.</summary>
    Nmi = 5,
    /// <summary><c>== smi</c>: <c>take</c> takes an SMI.</summary>
    Smi = 6,
    /// <summary><c>== init</c>: <c>take</c> takes an INIT.</summary>
    Init = 7,
    /// <summary><c>== vector V</c>: <c>take</c> takes a maskable interrupt with vector <see cref="Expectation.Value"/>.</summary>
    Vector = 8,
    /// <summary><c>== extint V</c>: <c>take</c> takes an ExtINT whose acknowledge returns <see cref="Expectation.Value"/>.</summary>
    ExtInt = 9,
    /// <summary><c>== sipi V</c>: <c>take</c> takes a SIPI with vector (start page) <see cref="Expectation.Value"/>.</summary>
    Sipi = 10,
}

/// <summary>
/// The expectation that ends an observing statement (<c>== 0x20</c>, <c>&amp; 0xff == 0x20</c>,
/// <c>== #GP</c>, <c>!gp</c>, <c>== vector 0x51</c>, ...).
/// </summary>
/// <param name="Kind">What is compared.</param>
/// <param name="Value">The expected value for <see cref="ExpectationKind.Value"/>, the vector for
/// <see cref="ExpectationKind.Vector"/>, <see cref="ExpectationKind.ExtInt"/> and <see cref="ExpectationKind.Sipi"/>; 0 otherwise.</param>
/// <param name="Mask">The mask of a masked compare (<c>&amp; MASK == VALUE</c>), or <c>null</c>.</param>
public sealed record Expectation(ExpectationKind Kind, ulong Value = 0, ulong? Mask = null)
{
    /// <summary><c>== VALUE</c>.</summary>
    public static Expectation EqualTo(ulong value) => new(ExpectationKind.Value, value);

    /// <summary><c>&amp; MASK == VALUE</c>.</summary>
    public static Expectation MaskedEqualTo(ulong mask, ulong value) => new(ExpectationKind.Value, value, mask);

    /// <summary><c>== #GP</c> (also written <c>!gp</c>).</summary>
    public static Expectation GeneralProtection { get; } = new(ExpectationKind.GeneralProtection);

    /// <summary>The expectation in canonical scenario syntax, for example <c>&amp; 0xff == 0x20</c> or <c>== vector 0x51</c>.</summary>
    public override string ToString() => Kind switch
    {
        ExpectationKind.Value when Mask is { } mask => $"& {Hex(mask)} == {Hex(Value)}",
        ExpectationKind.Value => $"== {Hex(Value)}",
        ExpectationKind.GeneralProtection => "== #GP",
        ExpectationKind.Ok => "== ok",
        ExpectationKind.Error => "== error",
        ExpectationKind.None => "== none",
        ExpectationKind.Nmi => "== nmi",
        ExpectationKind.Smi => "== smi",
        ExpectationKind.Init => "== init",
        ExpectationKind.Vector => $"== vector {Hex(Value)}",
        ExpectationKind.ExtInt => $"== extint {Hex(Value)}",
        ExpectationKind.Sipi => $"== sipi {Hex(Value)}",
        _ => $"== ?{(int)Kind}",
    };

    private static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}

/// <summary>A statement that observes something and may end with an <see cref="Expectation"/>.</summary>
public interface IObservingStatement
{
    /// <summary>The expectation on the observation, or <c>null</c> when the statement only records it.</summary>
    Expectation? Expect { get; }
}
