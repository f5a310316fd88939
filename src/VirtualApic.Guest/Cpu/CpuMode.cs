// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>The CPU's operating mode, as decided by CR0.PE, EFER.LMA and the CS descriptor cache.</summary>
public enum CpuMode : byte
{
    /// <summary>Real-address mode (CR0.PE = 0).</summary>
    Real,

    /// <summary>Protected mode with a 16-bit code segment.</summary>
    Protected16,

    /// <summary>Protected mode with a 32-bit code segment.</summary>
    Protected32,

    /// <summary>IA-32e compatibility mode (EFER.LMA = 1, CS.L = 0), 16-bit code segment.</summary>
    Compatibility16,

    /// <summary>IA-32e compatibility mode (EFER.LMA = 1, CS.L = 0), 32-bit code segment.</summary>
    Compatibility32,

    /// <summary>64-bit mode (EFER.LMA = 1, CS.L = 1).</summary>
    Long64,
}
