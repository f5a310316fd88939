// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>
/// An architectural exception raised while executing an instruction. Thrown from deep inside operand
/// and memory helpers and caught once per instruction by <see cref="X86Cpu"/>, which rolls RIP/RSP back
/// and delivers it. One instance per CPU is reused, so raising a fault does not allocate.
/// </summary>
internal sealed class GuestFault : Exception
{
    public GuestFault()
        : base("guest fault")
    {
    }

    /// <summary>The exception vector (0-31).</summary>
    public int Vector { get; set; }

    /// <summary>The error code, or -1 when the vector pushes none.</summary>
    public int ErrorCode { get; set; }

    /// <summary>For #PF: the faulting linear address (CR2).</summary>
    public ulong FaultAddress { get; set; }
}
