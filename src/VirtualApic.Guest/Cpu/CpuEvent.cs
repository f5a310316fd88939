// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>What an interrupt controller hands the CPU at an instruction boundary.</summary>
public enum CpuEventKind : byte
{
    /// <summary>Nothing to deliver.</summary>
    None,

    /// <summary>A maskable interrupt, already acknowledged: deliver <see cref="CpuEvent.Vector"/> through the IDT.</summary>
    Interrupt,

    /// <summary>An NMI: deliver vector 2; NMIs stay blocked until the next IRET.</summary>
    Nmi,

    /// <summary>INIT: architectural INIT reset; an application processor then waits for a SIPI.</summary>
    Init,

    /// <summary>Start-up IPI: leave wait-for-SIPI in real mode at CS = vector &lt;&lt; 8, IP = 0.</summary>
    Sipi,
}

/// <summary>An event for the CPU: its kind and, for <see cref="CpuEventKind.Interrupt"/> and
/// <see cref="CpuEventKind.Sipi"/>, its vector.</summary>
/// <param name="Kind">What it is.</param>
/// <param name="Vector">The vector (interrupt) or start page (SIPI).</param>
public readonly record struct CpuEvent(CpuEventKind Kind, byte Vector)
{
    /// <summary>No event.</summary>
    public static CpuEvent None => default;
}
