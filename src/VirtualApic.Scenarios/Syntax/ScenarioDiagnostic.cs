// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// One parse error. <see cref="ToString"/> gives the contract's form <c>FILE:LINE:COL: message</c>.
/// </summary>
/// <param name="File">The file name given to <see cref="ScenarioParser.Parse"/>.</param>
/// <param name="Line">The 1-based line of the offending token.</param>
/// <param name="Column">
/// The 1-based column of the offending token, counted in UTF-16 code units (a tab counts as one); for a
/// missing argument, the column just after the last token of the statement.
/// </param>
/// <param name="Message">What is wrong, in one line.</param>
public sealed record ScenarioDiagnostic(string File, int Line, int Column, string Message)
{
    /// <summary>The diagnostic as <c>FILE:LINE:COL: message</c>.</summary>
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}
