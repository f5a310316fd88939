// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>The six segment registers, numbered as in the ModRM <c>sreg</c> field.</summary>
public enum SegmentRegister : byte
{
    /// <summary>ES.</summary>
    Es,

    /// <summary>CS.</summary>
    Cs,

    /// <summary>SS.</summary>
    Ss,

    /// <summary>DS.</summary>
    Ds,

    /// <summary>FS.</summary>
    Fs,

    /// <summary>GS.</summary>
    Gs,
}
