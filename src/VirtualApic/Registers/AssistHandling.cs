// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>One cell of the register table's per-assist columns: what the hardware does with a read and with a write.</summary>
/// <param name="Read">A guest load or RDMSR.</param>
/// <param name="Write">A guest store or WRMSR.</param>
public readonly record struct AssistHandling(AssistAccess Read, AssistAccess Write);
