// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>The kinds of token on a statement line.</summary>
internal enum TokenKind : byte
{
    /// <summary>A run of printable ASCII other than <c># = &amp; ,</c>: keywords, numbers, names, <c>!gp</c>.</summary>
    Word,
    /// <summary><c>=</c>, between an option and its value.</summary>
    Assign,
    /// <summary><c>==</c>, starting an expectation.</summary>
    EqualEqual,
    /// <summary><c>&amp;</c>, starting a masked compare.</summary>
    Ampersand,
    /// <summary><c>,</c>, separating the backends of <c>accel=</c> in a probe.</summary>
    Comma,
    /// <summary><c>#GP</c> right after <c>==</c> (anywhere else <c>#</c> starts a comment).</summary>
    GpLiteral,
}

/// <summary>A token: its kind and where it sits in the scenario text (no string is made for it).</summary>
/// <param name="Kind">The kind.</param>
/// <param name="Start">The index of its first character in the whole text.</param>
/// <param name="Length">Its length in characters.</param>
internal readonly record struct Token(TokenKind Kind, int Start, int Length)
{
    public int End => Start + Length;
}
