// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Assist;

/// <summary>The cause of an AVIC_INCOMPLETE_IPI exit, EXITINFO2[63:32] (APM vol. 2 15.29.9.1).</summary>
public enum AvicIpiFailure : byte
{
    /// <summary>Not a fixed, edge-triggered IPI.</summary>
    InvalidInterruptType = 0,
    /// <summary>The IRR bits were set, but a target had IsRunning clear.</summary>
    TargetNotRunning = 1,
    /// <summary>A destination's table entry is not valid.</summary>
    InvalidTarget = 2,
    /// <summary>A target's backing page pointer is not valid.</summary>
    InvalidBackingPage = 3,
    /// <summary>Vector below 16 (newer processors).</summary>
    InvalidIpiVector = 4,
}
