// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Core;

/// <summary>The 1024 32-bit words of a 4 KiB APIC page, stored inline in <see cref="ApicPage"/>.</summary>
[InlineArray(ApicPage.Size / 4)]
internal struct PageWords
{
    private uint _first;
}
