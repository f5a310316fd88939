// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;

namespace VirtualApic.Fabric;

/// <summary>
/// The options of a VM: the one options type of the library, the scenario language's <c>vm</c> line
/// (<c>vm cpus=4 accel=x2avic tsc-khz=2000000</c>; each property names its keyword) and the tools.
/// Every property starts at the <c>vm</c> line's default, so <c>new VmOptions()</c> is what a bare
/// <c>vm</c> line declares.
/// </summary>
public sealed record VmOptions
{
    /// <summary>The largest <see cref="Cpus"/> value.</summary>
    public const int MaxCpus = 4096;

    /// <summary><c>cpus=N</c>, 1..4096: vCPUs with APIC IDs 0..N-1 at RESET; vCPU 0 is the BSP. Default 1.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary><c>accel=none|apicv|avic|x2avic</c>: the hardware-assist backend. Default <c>none</c>.</summary>
    public AccelKind Accel { get; init; } = AccelKind.None;

    /// <summary><c>profile=kvm|architectural</c>: whose behaviour the model follows. Default <c>kvm</c>.</summary>
    public ApicProfile Profile { get; init; } = ApicProfile.Kvm;

    /// <summary><c>tsc-khz=N</c>, 1..4294967295 (KVM's 32-bit TSC frequency): the TSC frequency in kHz. Default 2000000.</summary>
    public long TscKhz { get; init; } = 2_000_000;

    /// <summary><c>bus-mhz=N</c>, 1..4294967295: the APIC timer bus frequency before the divider, in MHz. Default 1000.</summary>
    public long BusMhz { get; init; } = 1000;

    /// <summary><c>x2apic=on|off</c>: CPUID.1:ECX[21]; off makes APIC_BASE.EXTD reserved. Default on.</summary>
    public bool X2Apic { get; init; } = true;

    /// <summary><c>tsc-deadline=on|off</c>: CPUID.1:ECX[24]; off makes the LVT timer mode field one bit wide. Default on.</summary>
    public bool TscDeadline { get; init; } = true;

    /// <summary><c>cmci=on|off</c>: the LVT CMCI register exists (VER max LVT 6 instead of 5). Default off.</summary>
    public bool Cmci { get; init; }

    /// <summary><c>maxphyaddr=N</c>, 32..52: the guest physical address width. Default 46.</summary>
    public int MaxPhysAddr { get; init; } = 46;

    /// <summary><c>ioapic-version=0x11|0x20</c>: 0x11 (KVM's, no EOI register) or 0x20 (EOI register, directed EOI). Default 0x11.</summary>
    public int IoApicVersion { get; init; } = 0x11;

    /// <summary><c>ext-dest-id=on|off</c>: MSI address bits 11:5 extend the destination ID to 15 bits. Default off.</summary>
    public bool ExtendedDestinationId { get; init; }

    /// <summary>
    /// The <c>KVM_CAP_X2APIC_API</c> flags the VMM enabled (none by default, as in KVM):
    /// <c>x2apic-32bit-ids=on</c> is <see cref="X2ApicApiFlags.Use32BitIds"/>,
    /// <c>x2apic-broadcast-quirk=off</c> is <see cref="X2ApicApiFlags.DisableBroadcastQuirk"/>.
    /// </summary>
    public X2ApicApiFlags X2ApicApi { get; init; }

    /// <summary>
    /// <c>split-irqchip=on|off</c>: the IOAPIC is the VMM's, not KVM's (<c>KVM_CAP_SPLIT_IRQCHIP</c>): an EOI of an IOAPIC-handled
    /// vector exits to the VMM (<see cref="Assist.ExitReason.IoApicEoi"/>), and with
    /// <see cref="ExtendedDestinationId"/> the redirection entries' bits 55:49 are destination bits
    /// 14:8 (QEMU's IOAPIC, Linux <c>virt_destid_8_14</c>). QEMU's IOAPIC is version 0x20.
    /// </summary>
    public bool SplitIrqchip { get; init; }

    /// <summary><c>ap-state=wait-for-sipi</c> (true) or <c>running</c> (false): APs start waiting for INIT-SIPI instead of running. Default running.</summary>
    public bool ApsWaitForSipi { get; init; }

    /// <summary>Other threads may deliver interrupts concurrently (default); false for a one-thread VMM (see <see cref="ApicConfig.ConcurrentDelivery"/>). Not a <c>vm</c> line option.</summary>
    public bool ConcurrentDelivery { get; init; } = true;

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">An option out of range, naming it.</exception>
    public void Validate()
    {
        if (Cpus is < 1 or > MaxCpus)
        {
            throw new ArgumentException($"cpus must be 1..{MaxCpus}, got {Cpus}", nameof(Cpus));
        }

        if (IoApicVersion is not (0x11 or 0x20))
        {
            throw new ArgumentException($"ioapic-version must be 0x11 or 0x20, got 0x{IoApicVersion:x}", nameof(IoApicVersion));
        }

        if ((X2ApicApi & ~(X2ApicApiFlags.Use32BitIds | X2ApicApiFlags.DisableBroadcastQuirk)) != 0)
        {
            throw new ArgumentException($"x2apic-api has unknown flags 0x{(int)X2ApicApi:x}", nameof(X2ApicApi));
        }

        ToApicConfig().Validate();
    }

    /// <summary>The per-APIC configuration these options imply.</summary>
    public ApicConfig ToApicConfig() => new()
    {
        Profile = Profile,
        X2ApicSupported = X2Apic,
        TscDeadlineSupported = TscDeadline,
        CmciSupported = Cmci,
        MaxPhysAddr = MaxPhysAddr,
        DirectedEoiSupported = X2Apic && IoApicVersion == 0x20,
        TscKhz = TscKhz,
        BusMhz = BusMhz,
        X2ApicIcrSplit = AccelNames.IsSvm(Accel),
        ConcurrentDelivery = ConcurrentDelivery,
    };
}
