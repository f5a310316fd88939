// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>
/// One row of the register table: a 16-byte slot of the APIC page and every rule about it, the
/// architectural ones (access per mode, write mask, write effect) and the hardware assists' ones.
/// </summary>
/// <param name="Offset">The page offset.</param>
/// <param name="Name">The register name of the scenario language and the tools (<c>ID</c>, <c>ISR3</c>, <c>LVT_TIMER</c>).</param>
/// <param name="XApic">Access through MMIO in xAPIC mode.</param>
/// <param name="X2Apic">Access through MSR <c>0x800 + Offset/16</c> in x2APIC mode.</param>
/// <param name="WriteMask">
/// The bits a write keeps with every optional feature present (KVM <c>kvm_lapic_reg_write</c>);
/// <see cref="WriteMaskFor"/> narrows it for a given feature set.
/// </param>
/// <param name="Effect">What the write does after masking.</param>
public readonly record struct RegisterRule(
    int Offset, string Name, RegisterAccess XApic, RegisterAccess X2Apic, uint WriteMask, WriteEffect Effect)
{
    /// <summary>Bits a write always sets, whatever the value (DFR bits 27:0 read as ones).</summary>
    public uint ForcedOnes { get; init; }

    /// <summary>The features the register needs to exist at all (LVT CMCI needs <see cref="RegisterFeatures.Cmci"/>).</summary>
    public RegisterFeatures Requires { get; init; }

    /// <summary>The bits of <see cref="WriteMask"/> that exist only with <see cref="OptionalBitsNeed"/> (SVR bit 12, LVT timer bit 18).</summary>
    public uint OptionalBits { get; init; }

    /// <summary>The feature that <see cref="OptionalBits"/> need.</summary>
    public RegisterFeatures OptionalBitsNeed { get; init; }

    /// <summary>
    /// Status bits inside <see cref="WriteMask"/> that the APIC owns unless the profile makes them
    /// guest-writable (<see cref="RegisterFeatures.LvtStatusWritable"/>): delivery status, LINT remote IRR.
    /// </summary>
    public uint StatusBits { get; init; }

    /// <summary>What an x2APIC WRMSR setting bits outside the register's defined bits does.</summary>
    public X2ApicReservedRule X2ApicReserved { get; init; }

    /// <summary>Where the write's side effect finds the old value when the write is a trap-like replay.</summary>
    public ReplayShadow Shadow { get; init; }

    /// <summary>AMD AVIC, xAPIC MMIO (APM vol. 2 15.29.3; KVM <c>is_avic_unaccelerated_access_trap</c>).</summary>
    public AssistHandling AvicMmio { get; init; }

    /// <summary>AMD x2AVIC, x2APIC MSR (KVM <c>avic_set_x2apic_msr_interception</c>).</summary>
    public AssistHandling X2AvicMsr { get; init; }

    /// <summary>Intel APICv, xAPIC APIC-access page (SDM vol. 3C 30.4.2, 30.4.3).</summary>
    public AssistHandling ApicvMmio { get; init; }

    /// <summary>Intel APICv, x2APIC MSR (SDM 30.5; KVM <c>vmx_update_msr_bitmap_x2apic</c>).</summary>
    public AssistHandling ApicvMsr { get; init; }

    /// <summary>The cell of one assist column.</summary>
    public AssistHandling Handling(AssistPath path) => path switch
    {
        AssistPath.AvicMmio => AvicMmio,
        AssistPath.X2AvicMsr => X2AvicMsr,
        AssistPath.ApicvMmio => ApicvMmio,
        _ => ApicvMsr,
    };

    /// <summary>Whether the register exists with <paramref name="features"/>.</summary>
    public bool IsPresent(RegisterFeatures features) => (features & Requires) == Requires;

    /// <summary>The bits the register defines with <paramref name="features"/>: a WRMSR setting others sets reserved bits.</summary>
    public uint DefinedBitsFor(RegisterFeatures features) =>
        (features & OptionalBitsNeed) == OptionalBitsNeed ? WriteMask : WriteMask & ~OptionalBits;

    /// <summary>The bits a write keeps with <paramref name="features"/>: the defined bits less the status bits the APIC owns.</summary>
    public uint WriteMaskFor(RegisterFeatures features) =>
        (features & RegisterFeatures.LvtStatusWritable) != 0 ? DefinedBitsFor(features) : DefinedBitsFor(features) & ~StatusBits;
}
