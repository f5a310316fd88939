// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The VM's options are checked before anything is built: 1 to 4096 vCPUs (KVM_MAX_VCPUS), IOAPIC
/// version 0x11 or 0x20, only the two <c>KVM_CAP_X2APIC_API</c> flags KVM knows (any other bit is
/// -EINVAL, <c>KVM_X2APIC_API_VALID_FLAGS</c>); a refusal names the option and the value.
/// </summary>
public class VmOptionsTests
{
    public static TheoryData<VmOptions, string, string> Refused() => new()
    {
        { new VmOptions { Cpus = 0 }, "Cpus", "got 0" },
        { new VmOptions { Cpus = VmOptions.MaxCpus + 1 }, "Cpus", "got 4097" },
        { new VmOptions { IoApicVersion = 0x12 }, "IoApicVersion", "got 0x12" },
        { new VmOptions { X2ApicApi = (X2ApicApiFlags)4 }, "X2ApicApi", "flags 0x4" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void An_option_out_of_range_is_refused_naming_it(VmOptions options, string parameter, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => new VirtualMachine(options));
        Assert.Equal(parameter, e.ParamName);
        Assert.Contains(value, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_limits_themselves_are_accepted()
    {
        new VmOptions { Cpus = 1 }.Validate();
        new VmOptions { Cpus = VmOptions.MaxCpus }.Validate();
        new VmOptions { IoApicVersion = 0x20 }.Validate();
        new VmOptions { X2ApicApi = X2ApicApiFlags.Use32BitIds | X2ApicApiFlags.DisableBroadcastQuirk }.Validate();
    }

    [Theory]
    [InlineData(AccelKind.None, false)]
    [InlineData(AccelKind.Apicv, false)]
    [InlineData(AccelKind.Avic, true)]
    [InlineData(AccelKind.X2Avic, true)]
    public void Only_the_amd_backends_keep_the_x2apic_icr_split(AccelKind accel, bool split)
    {
        // AMD keeps the x2APIC ICR as two 32-bit halves (ICR and ICR2), Intel as one 64-bit value.
        Assert.Equal(split, new VmOptions { Accel = accel }.ToApicConfig().X2ApicIcrSplit);
    }

    [Theory]
    [InlineData(true, 0x20, true)]
    [InlineData(true, 0x11, false)]
    [InlineData(false, 0x20, false)]
    public void Directed_eoi_needs_x2apic_and_the_ioapic_eoi_register(bool x2Apic, int ioApicVersion, bool directedEoi)
    {
        // SVR bit 12 (suppress EOI broadcast) needs x2APIC and an IOAPIC with an EOI register (version
        // 0x20) to send the directed EOI to; KVM: x2APIC and no in-kernel IOAPIC (kvm_apic_set_version).
        Assert.Equal(directedEoi, new VmOptions { X2Apic = x2Apic, IoApicVersion = ioApicVersion }.ToApicConfig().DirectedEoiSupported);
    }
}
