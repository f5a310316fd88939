// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics.CodeAnalysis;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// The outcome of <see cref="ScenarioParser.Parse"/>: either a <see cref="Scenario"/> and no
/// diagnostics, or no scenario and at least one diagnostic. Nothing may run on a parse error.
/// </summary>
public sealed class ParseResult
{
    private ParseResult(Scenario? scenario, IReadOnlyList<ScenarioDiagnostic> diagnostics)
    {
        Scenario = scenario;
        Diagnostics = diagnostics;
    }

    /// <summary>The parsed scenario, or <c>null</c> when there are diagnostics.</summary>
    public Scenario? Scenario { get; }

    /// <summary>
    /// The parse errors in file order, at most one per line; empty on success. After
    /// <see cref="ScenarioParser.MaxDiagnostics"/> errors the parser stops and adds one closing
    /// "too many errors" diagnostic.
    /// </summary>
    public IReadOnlyList<ScenarioDiagnostic> Diagnostics { get; }

    /// <summary>True when the file parsed without error and <see cref="Scenario"/> is set.</summary>
    [MemberNotNullWhen(true, nameof(Scenario))]
    public bool Succeeded => Scenario is not null;

    internal static ParseResult Success(Scenario scenario) => new(scenario, []);

    internal static ParseResult Failure(IReadOnlyList<ScenarioDiagnostic> diagnostics) => new(null, diagnostics);
}
