// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Machine;

/// <summary>How a guest run ended.</summary>
public enum GuestOutcome : byte
{
    /// <summary>The guest wrote its status to the debug-exit port.</summary>
    Exited,

    /// <summary>Every vCPU halted or waiting for SIPI, nothing deliverable and no timer armed.</summary>
    Hang,

    /// <summary>Virtual time reached the timeout.</summary>
    Timeout,

    /// <summary>The instruction limit was reached.</summary>
    InstructionLimit,

    /// <summary>An instruction or mode the interpreter does not model.</summary>
    Unsupported,

    /// <summary>A vCPU triple-faulted.</summary>
    Shutdown,
}
