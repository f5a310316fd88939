// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// The options of the <c>vm</c> line (<c>vm cpus=4 accel=x2avic tsc-khz=2000000</c>); every
/// property starts at the contract's default, so <c>new VmOptions()</c> is what a bare <c>vm</c>
/// line declares.
/// </summary>
public sealed record VmOptions
{
    /// <summary>The largest <c>cpus=</c> value.</summary>
    public const int MaxCpus = 4096;

    /// <summary><c>cpus=N</c>, 1..4096: vCPUs with APIC IDs 0..N-1 at reset; vCPU 0 is the BSP. Default 1.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary><c>accel=none|apicv|avic|x2avic</c>: the hardware-assist backend. Default <c>none</c>.</summary>
    public AccelKind Accel { get; init; } = AccelKind.None;

    /// <summary><c>profile=kvm|architectural</c>: whose behaviour the model follows. Default <c>kvm</c>.</summary>
    public ProfileKind Profile { get; init; } = ProfileKind.Kvm;

    /// <summary><c>tsc-khz=N</c>, 1..4294967295 (KVM's 32-bit TSC frequency): the TSC frequency. Default 2000000.</summary>
    public uint TscKhz { get; init; } = 2_000_000;

    /// <summary><c>bus-mhz=N</c>, 1..4294967295: the APIC timer bus frequency before the divider. Default 1000.</summary>
    public uint BusMhz { get; init; } = 1000;

    /// <summary><c>x2apic=on|off</c>: CPUID.1:ECX[21]; off makes APIC_BASE.EXTD reserved. Default on.</summary>
    public bool X2Apic { get; init; } = true;

    /// <summary><c>tsc-deadline=on|off</c>: CPUID.1:ECX[24]; off makes the LVT timer mode field one bit wide. Default on.</summary>
    public bool TscDeadline { get; init; } = true;

    /// <summary><c>cmci=on|off</c>: the LVT CMCI register exists (VER max LVT 6 instead of 5). Default off.</summary>
    public bool Cmci { get; init; }

    /// <summary><c>maxphyaddr=N</c>, 32..52: the guest physical address width. Default 46.</summary>
    public int MaxPhyAddr { get; init; } = 46;

    /// <summary><c>ioapic-version=0x11|0x20</c>: the IOAPIC model (0x20 has the EOI register). Default 0x11.</summary>
    public byte IoApicVersion { get; init; } = 0x11;

    /// <summary><c>ext-dest-id=on|off</c>: MSI address bits 11:5 extend the destination to 15 bits. Default off.</summary>
    public bool ExtDestId { get; init; }

    /// <summary>
    /// <c>x2apic-32bit-ids=on|off</c>: the VMM enabled <c>KVM_X2APIC_API_USE_32BIT_IDS</c>: MSI address
    /// bits 63:40 carry destination bits 31:8, and the physical map ignores truncated xAPIC aliases. Default off.
    /// </summary>
    public bool X2Apic32BitIds { get; init; }

    /// <summary>
    /// <c>x2apic-broadcast-quirk=on|off</c>: off is <c>KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK</c> (a device's
    /// destination 0xFF stops being a broadcast to x2APIC-mode targets). Default on (KVM's default; the
    /// architectural profile has no quirk either way).
    /// </summary>
    public bool X2ApicBroadcastQuirk { get; init; } = true;

    /// <summary>
    /// <c>split-irqchip=on|off</c>: the IOAPIC is the VMM's (<c>KVM_CAP_SPLIT_IRQCHIP</c>): EOIs of
    /// IOAPIC-handled vectors exit (<c>ioapic-eoi</c>), and with <c>ext-dest-id=on</c> a route's
    /// destination bits 14:8 travel in entry bits 55:49. Default off.
    /// </summary>
    public bool SplitIrqchip { get; init; }

    /// <summary><c>ap-state=running|wait-for-sipi</c>: where vCPUs 1..N-1 start. Default <c>running</c>.</summary>
    public ApStartState ApState { get; init; } = ApStartState.Running;
}
