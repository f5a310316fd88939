// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Boot;

/// <summary>One PT_LOAD program header of an image: <see cref="FileSize"/> bytes copied from
/// <see cref="FileOffset"/> to <see cref="PhysicalAddress"/>, then zeros up to <see cref="MemorySize"/>.</summary>
/// <param name="PhysicalAddress">Where it goes (p_paddr).</param>
/// <param name="FileOffset">Where its bytes start in the file (p_offset).</param>
/// <param name="FileSize">Bytes taken from the file (p_filesz).</param>
/// <param name="MemorySize">Bytes it occupies in memory (p_memsz, at least <see cref="FileSize"/>).</param>
public readonly record struct LoadSegment(uint PhysicalAddress, uint FileOffset, uint FileSize, uint MemorySize);
