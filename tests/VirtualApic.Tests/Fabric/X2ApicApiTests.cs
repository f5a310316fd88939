// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// KVM_CAP_X2APIC_API as a VMM enables it (arch/x86/kvm): <c>USE_32BIT_IDS</c> makes MSI address-hi
/// bits 31:8 destination bits 31:8 (<c>kvm_msi_to_lapic_irq</c>, <c>x86_msi_msg_get_destid</c>) and
/// files the physical map without xAPIC aliases (<c>kvm_recalculate_phys_map</c>);
/// <c>DISABLE_BROADCAST_QUIRK</c> turns off the device 0xFF broadcast (<c>kvm_apic_mda</c>).
/// </summary>
public class X2ApicApiTests
{
    private const X2ApicApiFlags Both = X2ApicApiFlags.Use32BitIds | X2ApicApiFlags.DisableBroadcastQuirk;

    [Theory]
    [InlineData(0u)]
    [InlineData(0xFFu)]
    [InlineData(0x100u)]
    [InlineData(0x11Fu)]
    [InlineData(0x7FFFu)]
    [InlineData(0xFFFF_FFFEu)]
    public void Address_hi_carries_destination_bits_31_to_8(uint destination)
    {
        ulong address = Msi.EncodeAddress32(destination);
        Assert.Equal(destination & 0xFF, (uint)(address >> 12) & 0xFF);
        Assert.Equal(destination & 0xFFFF_FF00, (uint)(address >> 32));
        Assert.True(Msi.IsMsiAddress(address, use32BitIds: true));
        Assert.Equal(destination, Msi.Decode(address, 0x40, extendedDestinationId: false, use32BitIds: true).Destination);

        // Without the flag address-hi is no destination: a non-zero one is not an MSI address at all.
        Assert.Equal(destination > 0xFF, !Msi.IsMsiAddress(address));
    }

    [Fact]
    public void Address_hi_bits_7_to_0_make_the_route_invalid()
    {
        // KVM kvm_msi_route_invalid: with x2apic_format, address_hi & 0xff must be 0.
        Assert.False(Msi.IsMsiAddress(0x0000_0001_FEE0_0000ul, use32BitIds: true));
        Assert.True(Msi.IsMsiAddress(0x0000_0100_FEE0_0000ul, use32BitIds: true));
        using var vm = TestGuest.Vm(288, x2Apic: true, x2ApicApi: X2ApicApiFlags.Use32BitIds);
        Assert.Equal(-1, vm.DeliverMsi(0x0000_0101_FEE0_0000ul, 0x40));
        Assert.Empty(TestGuest.Receivers(vm, 0x40));
    }

    [Fact]
    public void An_msi_reaches_a_vcpu_above_255_only_with_32_bit_ids()
    {
        using var with = TestGuest.Vm(288, x2Apic: true, x2ApicApi: X2ApicApiFlags.Use32BitIds);
        Assert.Equal(1, with.DeliverMsi(Msi.EncodeAddress32(287), 0x41));
        Assert.Equal([287], TestGuest.Receivers(with, 0x41));

        using var without = TestGuest.Vm(288, x2Apic: true);
        Assert.Equal(-1, without.DeliverMsi(Msi.EncodeAddress32(287), 0x41));
        Assert.Empty(TestGuest.Receivers(without, 0x41));
    }

    [Fact]
    public void Truncated_xapic_aliases_share_an_msi_without_32_bit_ids_and_not_with_them()
    {
        // 288 vCPUs after RESET are in xAPIC mode: vCPU 256's 8-bit ID is 0, like vCPU 0's.
        using var without = TestGuest.Vm(288, x2Apic: false);
        Assert.True(without.Router.Map.PhysicalIdAliased);
        without.DeliverMsi(Msi.EncodeAddress(0), 0x42);
        Assert.Equal([0, 256], TestGuest.Receivers(without, 0x42));

        // With x2apic_format the map ignores the alias: vCPU 0 owns slot 0, vCPU 256 sits at slot 256
        // (its x2APIC ID is above 255: the hotplug rule), and both are reached on the fast path.
        using var with = TestGuest.Vm(288, x2Apic: false, x2ApicApi: X2ApicApiFlags.Use32BitIds);
        Assert.False(with.Router.Map.PhysicalIdAliased);
        long slow = with.Router.SlowPathDeliveries;
        with.DeliverMsi(Msi.EncodeAddress32(0), 0x42);
        Assert.Equal([0], TestGuest.Receivers(with, 0x42));
        with.DeliverMsi(Msi.EncodeAddress32(256), 0x43);
        Assert.Equal([256], TestGuest.Receivers(with, 0x43));
        Assert.Equal(slow, with.Router.SlowPathDeliveries);
    }

    [Fact]
    public void Device_destination_0xff_stops_being_a_broadcast_when_the_quirk_is_disabled()
    {
        using var quirk = TestGuest.Vm(300, x2Apic: true, x2ApicApi: X2ApicApiFlags.Use32BitIds);
        quirk.DeliverMsi(Msi.EncodeAddress32(0xFF), 0x44);
        Assert.Equal(300, TestGuest.Receivers(quirk, 0x44).Length);

        using var off = TestGuest.Vm(300, x2Apic: true, x2ApicApi: Both);
        Assert.Equal(1, off.DeliverMsi(Msi.EncodeAddress32(0xFF), 0x44));
        Assert.Equal([0xFF], TestGuest.Receivers(off, 0x44));

        // The IOAPIC is a device too.
        off.IoApic.WriteEntry(3, Registers.RedirectionEntry.Create(0x45, destination: 0xFF));
        off.IoApic.Pulse(3);
        Assert.Equal([0xFF], TestGuest.Receivers(off, 0x45));
    }

    [Fact]
    public void Unknown_flags_are_rejected_by_name()
    {
        var e = Assert.Throws<ArgumentException>(() => new VmOptions { X2ApicApi = (X2ApicApiFlags)4 }.Validate());
        Assert.Contains("x2apic-api", e.Message, StringComparison.Ordinal);
    }
}
