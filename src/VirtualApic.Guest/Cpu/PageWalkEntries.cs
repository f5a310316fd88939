// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Guest.Cpu;

/// <summary>
/// The guest-physical addresses of the paging-structure entries one 4-level walk read (PML4E, PDPTE,
/// PDE, PTE), kept so that the walk can set their accessed and dirty bits once it has passed its
/// checks. A local struct, not a <c>stackalloc</c>: a method with a loop and a <c>stackalloc</c> is
/// never tiered by the JIT (no on-stack replacement with localloc, dotnet/runtime#85548), so it would
/// run without dynamic PGO.
/// </summary>
[InlineArray(4)]
internal struct PageWalkEntries
{
    private ulong _address;
}
