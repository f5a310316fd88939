// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>Thrown inside the interpreter when it meets an instruction, operand form or mode it does not
/// model; <see cref="X86Cpu.Run"/> turns it into <see cref="StopReason.Unsupported"/> with the location.</summary>
internal sealed class UnsupportedException : Exception
{
    public UnsupportedException(string message)
        : base(message)
    {
    }
}
