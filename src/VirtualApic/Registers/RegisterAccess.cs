// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>How a register can be accessed in one mode.</summary>
[Flags]
public enum RegisterAccess : byte
{
    /// <summary>Absent: reads and writes fail (#GP through an MSR, dropped through MMIO).</summary>
    None = 0,
    /// <summary>Readable.</summary>
    Read = 1,
    /// <summary>Writable.</summary>
    Write = 2,
    /// <summary>Readable and writable.</summary>
    ReadWrite = Read | Write,
}
