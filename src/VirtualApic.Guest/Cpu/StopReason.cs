// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>Why <see cref="X86Cpu.Run"/> returned.</summary>
public enum StopReason : byte
{
    /// <summary>The instruction budget is used up.</summary>
    BudgetExhausted,

    /// <summary>The CPU is halted (HLT) and no event was deliverable.</summary>
    Halted,

    /// <summary>PAUSE retired: the scheduler may run another vCPU.</summary>
    Pause,

    /// <summary>The host called <see cref="X86Cpu.RequestYield"/> (for example from inside a port or MMIO write).</summary>
    YieldRequested,

    /// <summary>The CPU is waiting for a start-up IPI (after INIT, or an application processor at power-on).</summary>
    WaitForSipi,

    /// <summary>Triple fault: the CPU is in shutdown and runs no more instructions until INIT.</summary>
    Shutdown,

    /// <summary>An instruction, operand form or mode the interpreter does not model: see <see cref="RunResult.Unsupported"/>.</summary>
    Unsupported,
}
