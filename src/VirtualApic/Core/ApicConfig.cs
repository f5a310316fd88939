// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Profiles;

namespace VirtualApic.Core;

/// <summary>The fixed, per-VM configuration of a local APIC: what CPUID advertises and the clocks.</summary>
public sealed record ApicConfig
{
    /// <summary>The behaviour profile.</summary>
    public ApicProfile Profile { get; init; } = ApicProfile.Kvm;

    /// <summary>CPUID.1:ECX[21]: x2APIC supported. Without it, APIC_BASE.EXTD is reserved.</summary>
    public bool X2ApicSupported { get; init; } = true;

    /// <summary>CPUID.1:ECX[24]: TSC-deadline timer supported. Without it, the LVT timer mode field is one bit.</summary>
    public bool TscDeadlineSupported { get; init; } = true;

    /// <summary>The LVT CMCI register exists (LVR max LVT entry 6 instead of 5).</summary>
    public bool CmciSupported { get; init; }

    /// <summary>Guest physical address width: APIC_BASE bits at or above it are reserved.</summary>
    public int MaxPhysAddr { get; init; } = 46;

    /// <summary>
    /// LVR bit 24 (directed EOI / suppress-EOI-broadcast supported). KVM sets it only with x2APIC in
    /// CPUID and an IOAPIC that has an EOI register (version 0x20); SVR bit 12 is writable only then.
    /// </summary>
    public bool DirectedEoiSupported { get; init; }

    /// <summary>TSC frequency in kHz.</summary>
    public long TscKhz { get; init; } = 2_000_000;

    /// <summary>APIC timer input (bus) frequency in MHz, before the divider.</summary>
    public long BusMhz { get; init; } = 1000;

    /// <summary>
    /// The x2APIC ICR is kept as ICR (0x300) + ICR2 (0x310) in the page, as AMD hardware does
    /// (KVM <c>x2apic_icr_is_split</c>); otherwise as one 64-bit value at 0x300 (Intel).
    /// </summary>
    public bool X2ApicIcrSplit { get; init; }

    /// <summary>
    /// Whether other threads may deliver interrupts concurrently (the default). A VMM that drives every
    /// vCPU and device from one thread (the scenario runner, a TCG-style emulator) may say false: the
    /// IRR is then updated with plain instead of locked operations, two fewer per interrupt.
    /// </summary>
    public bool ConcurrentDelivery { get; init; } = true;

    /// <summary>Checks the values a host supplies.</summary>
    /// <exception cref="ArgumentException">A value out of its architectural range.</exception>
    public void Validate()
    {
        if (MaxPhysAddr is < 32 or > 52)
        {
            throw new ArgumentException($"MaxPhysAddr must be 32..52, got {MaxPhysAddr}", nameof(MaxPhysAddr));
        }

        if (TscKhz is <= 0 or > 100_000_000)
        {
            throw new ArgumentException($"TscKhz must be 1..100000000, got {TscKhz}", nameof(TscKhz));
        }

        if (BusMhz is <= 0 or > 100_000)
        {
            throw new ArgumentException($"BusMhz must be 1..100000, got {BusMhz}", nameof(BusMhz));
        }
    }
}
