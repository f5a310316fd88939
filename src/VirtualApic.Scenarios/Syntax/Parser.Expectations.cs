// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>Expectations at the end of observing statements: <c>== V</c>, <c>&amp; M == V</c>, <c>!gp</c>.</summary>
internal sealed partial class Parser
{
    /// <summary>What a statement observes, which decides the expectations that can match it.</summary>
    private enum Observes
    {
        /// <summary>Nothing: the statement takes no expectation.</summary>
        Nothing,
        /// <summary>A value (<c>rdtsc</c>, <c>mmio-read</c>, <c>rdcr8</c>, <c>cpuid</c>, <c>ioapic read</c>).</summary>
        Value,
        /// <summary>A value or <c>#GP</c> (<c>rdmsr</c>, <c>read</c>).</summary>
        ValueOrFault,
        /// <summary><c>ok</c> or <c>#GP</c> (<c>wrmsr</c>, <c>write</c>, <c>eoi</c>, <c>ipi</c>, <c>wrcr8</c>).</summary>
        OkOrFault,
        /// <summary><c>ok</c> or <c>error</c> (<c>host-wrmsr</c>).</summary>
        OkOrError,
        /// <summary>An event (<c>take</c>).</summary>
        Event,
    }

    private enum ExpectedWord
    {
        None,
        Nmi,
        Smi,
        Init,
        Ok,
        Error,
        Vector,
        ExtInt,
        Sipi,
    }

    private static readonly KeywordTable<ExpectedWord> ExpectedWords = new(
        ("ok", ExpectedWord.Ok), ("error", ExpectedWord.Error), ("none", ExpectedWord.None), ("nmi", ExpectedWord.Nmi),
        ("smi", ExpectedWord.Smi), ("init", ExpectedWord.Init), ("vector", ExpectedWord.Vector),
        ("extint", ExpectedWord.ExtInt), ("sipi", ExpectedWord.Sipi));

    /// <summary>True when the next token starts an expectation (<c>==</c>, <c>&amp;</c> or <c>!gp</c>).</summary>
    private bool AtExpectation => !AtEnd && (Current.Kind is TokenKind.EqualEqual or TokenKind.Ampersand || Is(Current, "!gp"));

    /// <summary>The statement ends here and observes nothing, so it takes no expectation.</summary>
    private void EndWithoutExpectation(string op, string usage)
    {
        if (AtExpectation)
        {
            throw At(Current, $"`{op}` observes nothing, so it takes no expectation");
        }

        ExpectEnd(usage);
    }

    /// <summary>
    /// The optional expectation that ends an observing statement; the statement must end after it.
    /// Refuses an expectation that can never match what <paramref name="op"/> observes.
    /// </summary>
    /// <param name="observes">What the statement observes.</param>
    /// <param name="op">The statement's name, for messages.</param>
    /// <param name="usage">The statement's usage line.</param>
    /// <param name="largest">The largest value the statement can observe.</param>
    private Expectation? TakeExpectation(Observes observes, string op, string usage, ulong largest = ulong.MaxValue)
    {
        if (AtEnd)
        {
            return null;
        }

        var start = Current;
        Token culprit;
        Expectation expectation;
        if (Is(start, "!gp"))
        {
            _cursor++;
            culprit = start;
            expectation = Expectation.GeneralProtection;
        }
        else if (start.Kind == TokenKind.Ampersand)
        {
            _cursor++;
            var maskToken = Take("MASK", MaskedUsage);
            ulong mask = Number(maskToken, "MASK", MaskedUsage);
            if (!NextIs(TokenKind.EqualEqual))
            {
                throw AtEnd ? Missing("`== VALUE` after `& MASK`", MaskedUsage) : At(Current, $"expected `==` after `& MASK`, found {Show(Current)}");
            }

            _cursor++;
            culprit = Take("VALUE", MaskedUsage);
            ulong value = Number(culprit, "VALUE", MaskedUsage);
            if ((value & ~mask) != 0)
            {
                throw At(culprit, $"`& {Span(maskToken)} == {Span(culprit)}` can never match: VALUE has bits outside MASK");
            }

            culprit = start;
            expectation = Expectation.MaskedEqualTo(mask, value);
        }
        else if (start.Kind == TokenKind.EqualEqual)
        {
            _cursor++;
            if (AtEnd)
            {
                throw new SyntaxError(CodeEnd - _lineStart + 1, $"missing the expected result after `==`: `{op}` observes {Describe(observes)}");
            }

            culprit = _tokens[_cursor++];
            expectation = Expected(culprit);
        }
        else
        {
            throw At(start, $"unexpected {Show(start)}; usage: {usage}");
        }

        ExpectEnd(usage);
        if (!CanMatch(observes, expectation.Kind))
        {
            throw At(culprit, $"`{op}` observes {Describe(observes)}, so `{_text[start.Start..CodeEnd]}` can never match");
        }

        if (expectation.Kind == ExpectationKind.Value && expectation.Value > largest)
        {
            throw At(_tokens[^1], $"`{_text[start.Start..CodeEnd]}` can never match: `{op}` observes at most {Format(largest)}");
        }

        return expectation;
    }

    private const string MaskedUsage = "& MASK == VALUE";

    private const string ExpectedChoices = "a number, #GP, ok, error, none, nmi, smi, init, vector V, extint V or sipi V";

    /// <summary>The expected result after <c>==</c>.</summary>
    private Expectation Expected(Token token)
    {
        if (token.Kind == TokenKind.GpLiteral)
        {
            return Expectation.GeneralProtection;
        }

        if (token.Kind != TokenKind.Word)
        {
            throw At(token, $"expected {ExpectedChoices} after `==`, found {Show(token)}");
        }

        if (Literals.LooksNumeric(Span(token)))
        {
            return Expectation.EqualTo(Number(token, "VALUE", "== VALUE"));
        }

        if (!ExpectedWords.TryGet(Span(token), out var word))
        {
            throw At(token, $"unknown expectation {Show(token)}; expected {ExpectedChoices}");
        }

        return word switch
        {
            ExpectedWord.Ok => new Expectation(ExpectationKind.Ok),
            ExpectedWord.Error => new Expectation(ExpectationKind.Error),
            ExpectedWord.None => new Expectation(ExpectationKind.None),
            ExpectedWord.Nmi => new Expectation(ExpectationKind.Nmi),
            ExpectedWord.Smi => new Expectation(ExpectationKind.Smi),
            ExpectedWord.Init => new Expectation(ExpectationKind.Init),
            ExpectedWord.Vector => new Expectation(ExpectationKind.Vector, TakeVector("== vector VECTOR")),
            ExpectedWord.ExtInt => new Expectation(ExpectationKind.ExtInt, TakeVector("== extint VECTOR")),
            ExpectedWord.Sipi => new Expectation(ExpectationKind.Sipi, TakeVector("== sipi VECTOR")),
            _ => throw new InvalidOperationException($"unhandled expectation word {word}"),
        };
    }

    private static bool CanMatch(Observes observes, ExpectationKind kind) => observes switch
    {
        Observes.Value => kind == ExpectationKind.Value,
        Observes.ValueOrFault => kind is ExpectationKind.Value or ExpectationKind.GeneralProtection,
        Observes.OkOrFault => kind is ExpectationKind.Ok or ExpectationKind.GeneralProtection,
        Observes.OkOrError => kind is ExpectationKind.Ok or ExpectationKind.Error,
        Observes.Event => kind is ExpectationKind.None or ExpectationKind.Nmi or ExpectationKind.Smi or ExpectationKind.Init
            or ExpectationKind.Vector or ExpectationKind.ExtInt or ExpectationKind.Sipi,
        _ => false,
    };

    private static string Describe(Observes observes) => observes switch
    {
        Observes.Value => "a value",
        Observes.ValueOrFault => "a value or #GP",
        Observes.OkOrFault => "ok or #GP",
        Observes.OkOrError => "ok or error",
        Observes.Event => "an event (vector V, extint V, sipi V, nmi, smi, init or none)",
        _ => "nothing",
    };
}
