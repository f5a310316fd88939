// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>
/// The CPUID and profile facts that change a register's presence or write mask. A local APIC
/// computes its set once; the register table answers for any set in constant time.
/// </summary>
[Flags]
public enum RegisterFeatures : byte
{
    /// <summary>None of the optional features.</summary>
    None = 0,
    /// <summary>The LVT CMCI register exists (VER max LVT 6).</summary>
    Cmci = 1,
    /// <summary>Directed EOI (LVR bit 24): SVR bit 12, suppress EOI broadcast, is writable.</summary>
    DirectedEoi = 2,
    /// <summary>TSC-deadline timer (CPUID.1:ECX[24]): the LVT timer mode field is bits 18:17 instead of bit 17.</summary>
    TscDeadline = 4,
    /// <summary>
    /// The profile lets the guest write the LVT status bits (delivery status, LINT remote IRR), as
    /// KVM's <c>LVT_MASK</c>/<c>LINT_MASK</c> do; without it the APIC owns them (SDM 11.5.1).
    /// </summary>
    LvtStatusWritable = 8,
    /// <summary>
    /// The profile makes an x2APIC WRMSR that sets a register's undefined bits #GP (SDM vol. 3A
    /// 11.12.1.3); KVM masks them instead.
    /// </summary>
    X2ApicReservedBitsFault = 16,
    /// <summary>The profile makes an x2APIC EOI write of a non-zero value #GP (SDM vol. 3A 11.12.1.3); KVM ignores the value.</summary>
    X2ApicEoiNonZeroFaults = 32,
}
