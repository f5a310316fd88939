// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// Physical broadcast: 0xFF in xAPIC, 0xFFFFFFFF in x2APIC (SDM vol. 3A 11.6.2.1, 11.12.9; KVM
/// kvm_apic_broadcast), KVM's device broadcast quirk (kvm_apic_mda) and its downgrade of a
/// lowest-priority physical broadcast to fixed (kvm_irq_delivery_to_apic).
/// </summary>
public class BroadcastTests
{
    public static TheoryData<string> Profiles() => ["kvm", "architectural"];

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Xapic_physical_0xFF_reaches_every_apic_including_the_sender(string profile)
    {
        using var vm = TestGuest.Vm(5, x2Apic: false, TestApic.Profile(profile));
        vm.Vcpus[2].SendFixed(0x41, 0xFF);
        Assert.Equal([0, 1, 2, 3, 4], TestGuest.Receivers(vm, 0x41));
        vm.Vcpus[2].SendIpi(TestGuest.IcrLow(0, DeliveryMode.Nmi), 0xFF);
        Assert.All(vm.Vcpus, v => Assert.Equal(GuestEventKind.Nmi, v.Take().Kind));
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void X2apic_physical_0xFFFFFFFF_is_the_broadcast_and_0xFF_is_just_id_255(string profile)
    {
        using var vm = TestGuest.Vm(260, x2Apic: true, TestApic.Profile(profile));
        vm.Vcpus[7].SendFixed(0x42, 0xFFFF_FFFF);
        Assert.Equal(Enumerable.Range(0, 260).ToArray(), TestGuest.Receivers(vm, 0x42));

        vm.Vcpus[7].SendFixed(0x43, 0xFF);
        Assert.Equal([255], TestGuest.Receivers(vm, 0x43));
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [InlineData("kvm", true)]
    [InlineData("architectural", false)]
    public void Device_physical_0xFF_reaches_x2apic_targets_only_under_kvm_broadcast_quirk(string profile, bool quirk)
    {
        // KVM kvm_apic_mda: for a message with no source APIC (IOAPIC, MSI), 0xFF aimed at an
        // x2APIC-mode target is 0xFFFFFFFF. Without the quirk it is x2APIC ID 0xFF (none here).
        using var vm = TestGuest.Vm(4, x2Apic: true, TestApic.Profile(profile));
        int accepted = vm.DeliverMsi(Msi.EncodeAddress(0xFF), 0x44);
        Assert.True(quirk ? accepted == 4 : accepted <= 0, $"accepted {accepted}");
        Assert.Equal(quirk ? [0, 1, 2, 3] : [], TestGuest.Receivers(vm, 0x44));

        var rte = new InterruptMessage(0x45, DeliveryMode.Fixed, DestinationMode.Physical, 0xFF, TriggerMode.Edge, true,
            DestinationShorthand.None, InterruptSource.IoApic, -1);
        vm.DeliverFromDevice(rte);
        Assert.Equal(quirk ? [0, 1, 2, 3] : [], TestGuest.Receivers(vm, 0x45));

        // The quirk is for devices only: an x2APIC IPI to 0xFF is ID 255 under both profiles.
        vm.Vcpus[0].SendFixed(0x46, 0xFF);
        Assert.Empty(TestGuest.Receivers(vm, 0x46));
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Device_physical_0xFF_is_a_broadcast_to_xapic_targets_in_both_profiles(string profile)
    {
        using var vm = TestGuest.Vm(4, x2Apic: false, TestApic.Profile(profile));
        vm.Vcpus[3].EnterX2Apic();
        vm.DeliverMsi(Msi.EncodeAddress(0xFF), 0x47);
        int[] expected = profile == "kvm" ? [0, 1, 2, 3] : [0, 1, 2];
        Assert.Equal(expected, TestGuest.Receivers(vm, 0x47));
    }

    [Fact]
    public void Kvm_downgrades_a_lowest_priority_physical_broadcast_to_fixed_for_all()
    {
        // KVM kvm_irq_delivery_to_apic: "phys broadcast and lowest prio" is delivered as fixed.
        // (The SDM forbids the combination: 11.6.2.1; not asserted for the architectural profile.)
        using var vm = TestGuest.Vm(4, x2Apic: false);
        vm.Vcpus[0].SendIpi(TestGuest.IcrLow(0x48, DeliveryMode.LowestPriority), 0xFF);
        Assert.Equal([0, 1, 2, 3], TestGuest.Receivers(vm, 0x48));

        vm.DeliverMsi(Msi.EncodeAddress(0xFF), 0x49 | ((uint)DeliveryMode.LowestPriority << 8));
        Assert.Equal([0, 1, 2, 3], TestGuest.Receivers(vm, 0x49));

        vm.DeliverMsi(Msi.EncodeAddress(0xFF, redirectionHint: true), 0x4A); // fixed + RH = lowest priority
        Assert.Equal([0, 1, 2, 3], TestGuest.Receivers(vm, 0x4A));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Kvm_device_broadcast_quirk_with_lowest_priority_is_fixed_to_every_x2apic_target()
    {
        using var vm = TestGuest.Vm(4, x2Apic: true);
        vm.DeliverMsi(Msi.EncodeAddress(0xFF), 0x4B | ((uint)DeliveryMode.LowestPriority << 8));
        Assert.Equal([0, 1, 2, 3], TestGuest.Receivers(vm, 0x4B));
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Broadcast_fixed_skips_software_disabled_apics_but_nmi_reaches_them(string profile)
    {
        using var vm = TestGuest.Vm(3, x2Apic: false, TestApic.Profile(profile));
        vm.Vcpus[1].SoftwareDisable();
        vm.Vcpus[0].SendFixed(0x4C, 0xFF);
        Assert.Equal([0, 2], TestGuest.Receivers(vm, 0x4C));
        vm.Vcpus[0].SendIpi(TestGuest.IcrLow(0, DeliveryMode.Nmi, shorthand: DestinationShorthand.AllExcludingSelf), 0);
        Assert.Equal(GuestEventKind.None, vm.Vcpus[0].Take().Kind);
        Assert.Equal(GuestEventKind.Nmi, vm.Vcpus[1].Take().Kind);
        Assert.Equal(GuestEventKind.Nmi, vm.Vcpus[2].Take().Kind);
        TestGuest.AssertQuiet(vm);
    }
}
