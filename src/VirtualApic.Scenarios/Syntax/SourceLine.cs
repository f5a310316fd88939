// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// Where a statement is written: its 1-based line number and its text as written, trimmed and
/// without the comment (what the observation log prints as <c>LINE cpuN STATEMENT -&gt; RESULT</c>).
/// </summary>
/// <param name="Line">The 1-based line number in the scenario file.</param>
/// <param name="Text">The statement text, from its first to its last token, comment excluded.</param>
public readonly record struct SourceLine(int Line, string Text);
