// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Assist;

/// <summary>
/// No hardware assist (<c>accel=none</c>): every APIC MSR access and every xAPIC MMIO access exits
/// and is emulated; fixed vectors go straight into the IRR.
/// </summary>
public sealed class EmulatedApic : ApicAccelerator
{
    /// <inheritdoc/>
    public override string Name => "none";

    /// <inheritdoc/>
    public override ApicExit ReadX2ApicMsr(LocalApic apic, uint msr, out ulong value)
    {
        value = 0;
        return ApicExit.FaultLike(ExitReason.MsrRead, (int)msr);
    }

    /// <inheritdoc/>
    public override ApicExit WriteX2ApicMsr(LocalApic apic, uint msr, ulong value) => ApicExit.FaultLike(ExitReason.MsrWrite, (int)msr);

    /// <inheritdoc/>
    public override ApicExit ReadMmio(LocalApic apic, int offset, int size, out ulong value)
    {
        value = 0;
        return ApicExit.FaultLike(ExitReason.ApicAccess, offset);
    }

    /// <inheritdoc/>
    public override ApicExit WriteMmio(LocalApic apic, int offset, uint value, int size) => ApicExit.FaultLike(ExitReason.ApicAccess, offset);
}
