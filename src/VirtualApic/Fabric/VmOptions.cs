// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;

namespace VirtualApic.Fabric;

/// <summary>The hardware-assist backend a VM runs under (the scenario language's <c>accel=</c>).</summary>
public enum AccelKind : byte
{
    /// <summary>Everything emulated.</summary>
    None,
    /// <summary>Intel APICv: register virtualization, virtual-interrupt delivery, posted interrupts.</summary>
    Apicv,
    /// <summary>AMD AVIC, xAPIC only (x2APIC inhibits it, as in KVM without x2AVIC).</summary>
    Avic,
    /// <summary>AMD AVIC with x2APIC acceleration.</summary>
    X2Avic,
}

/// <summary>The options of a VM, with the scenario language's defaults.</summary>
public sealed record VmOptions
{
    /// <summary>Number of vCPUs (1-4096); APIC IDs 0..N-1 at RESET, vCPU 0 is the BSP.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>The hardware-assist backend.</summary>
    public AccelKind Accel { get; init; } = AccelKind.None;

    /// <summary>The behaviour profile.</summary>
    public ApicProfile Profile { get; init; } = ApicProfile.Kvm;

    /// <summary>TSC frequency in kHz.</summary>
    public long TscKhz { get; init; } = 2_000_000;

    /// <summary>APIC timer bus frequency in MHz.</summary>
    public long BusMhz { get; init; } = 1000;

    /// <summary>CPUID.1:ECX[21] x2APIC.</summary>
    public bool X2Apic { get; init; } = true;

    /// <summary>CPUID.1:ECX[24] TSC-deadline timer.</summary>
    public bool TscDeadline { get; init; } = true;

    /// <summary>The LVT CMCI register exists.</summary>
    public bool Cmci { get; init; }

    /// <summary>Guest physical address width.</summary>
    public int MaxPhysAddr { get; init; } = 46;

    /// <summary>IOAPIC version: 0x11 (KVM's, no EOI register) or 0x20 (EOI register, directed EOI).</summary>
    public int IoApicVersion { get; init; } = 0x11;

    /// <summary>MSI address bits 11:5 extend the destination ID to 15 bits.</summary>
    public bool ExtendedDestinationId { get; init; }

    /// <summary>The <c>KVM_CAP_X2APIC_API</c> flags the VMM enabled (none by default, as in KVM).</summary>
    public X2ApicApiFlags X2ApicApi { get; init; }

    /// <summary>
    /// The IOAPIC is the VMM's, not KVM's (<c>KVM_CAP_SPLIT_IRQCHIP</c>): an EOI of an IOAPIC-handled
    /// vector exits to the VMM (<see cref="Assist.ExitReason.IoApicEoi"/>), and with
    /// <see cref="ExtendedDestinationId"/> the redirection entries' bits 55:49 are destination bits
    /// 14:8 (QEMU's IOAPIC, Linux <c>virt_destid_8_14</c>). QEMU's IOAPIC is version 0x20.
    /// </summary>
    public bool SplitIrqchip { get; init; }

    /// <summary>APs start waiting for INIT-SIPI instead of running.</summary>
    public bool ApsWaitForSipi { get; init; }

    /// <summary>Other threads may deliver interrupts concurrently (default); false for a one-thread VMM (see <see cref="ApicConfig.ConcurrentDelivery"/>).</summary>
    public bool ConcurrentDelivery { get; init; } = true;

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">An option out of range, naming it.</exception>
    public void Validate()
    {
        if (Cpus is < 1 or > 4096)
        {
            throw new ArgumentException($"cpus must be 1..4096, got {Cpus}", nameof(Cpus));
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
        X2ApicIcrSplit = Accel is AccelKind.Avic or AccelKind.X2Avic,
        ConcurrentDelivery = ConcurrentDelivery,
    };
}
