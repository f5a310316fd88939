// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Cli;

/// <summary>Where a command writes, and whether a person is watching (a terminal, not a pipe or a CI log).</summary>
/// <param name="Out">Results.</param>
/// <param name="Error">Errors, and live progress on a terminal.</param>
/// <param name="Interactive">True when progress may redraw a line in place.</param>
internal sealed record Terminal(TextWriter Out, TextWriter Error, bool Interactive);
