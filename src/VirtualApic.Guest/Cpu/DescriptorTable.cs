// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>GDTR or IDTR: a linear base and a limit.</summary>
/// <param name="Base">The linear base address.</param>
/// <param name="Limit">The limit (size - 1).</param>
public readonly record struct DescriptorTable(ulong Base, ushort Limit);
