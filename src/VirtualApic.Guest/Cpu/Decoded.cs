// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>One cached decode: Iced's instruction plus what the interpreter precomputes so that the
/// same bytes run correctly wherever they are mapped (branch and RIP-relative targets are kept relative
/// to the next instruction, not as the absolute addresses Iced computed at decode time).</summary>
internal struct Decoded
{
    /// <summary>Iced's decode.</summary>
    public Instruction I;

    /// <summary>Near-branch target or RIP-relative address minus the address of the next instruction.</summary>
    public long Relative;

    /// <summary>Instruction length in bytes.</summary>
    public byte Length;

    /// <summary>Operand size in bytes of the main (first) operand, or of the memory operand.</summary>
    public byte OpBytes;

    /// <summary>Memory operand size in bytes (0 when none).</summary>
    public byte MemBytes;

    /// <summary>Address size in bytes (2, 4 or 8).</summary>
    public byte AddrBytes;

    /// <summary>Whether the memory operand is RIP/EIP-relative.</summary>
    public bool RipRelative;
}
