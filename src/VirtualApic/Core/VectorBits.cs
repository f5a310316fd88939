// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Core;

/// <summary>
/// A set of the 256 interrupt vectors as four 64-bit words, held inside the object that owns it (a
/// field, not an array of its own), so reading it costs no extra cache line.
/// </summary>
[InlineArray(4)]
internal struct VectorBits
{
    private ulong _word;
}
