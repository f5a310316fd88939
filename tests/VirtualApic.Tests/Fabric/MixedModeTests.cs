// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// VMs whose vCPUs are not all in the same mode, x2APIC IDs above 255, and KVM's hotplug hack
/// (kvm-reference 4.1: a physical destination above 0xFF is compared with the x2APIC ID even for
/// an xAPIC-mode target).
/// </summary>
public class MixedModeTests
{
    [Fact]
    public void Physical_ids_match_each_target_in_its_own_mode()
    {
        // vCPUs 0 and 1 in x2APIC, 2 and 3 in xAPIC.
        using var vm = TestGuest.Vm(4, x2Apic: false);
        vm.Vcpus[0].EnterX2Apic();
        vm.Vcpus[1].EnterX2Apic();

        vm.Vcpus[0].SendFixed(0x61, 3); // x2APIC sender -> xAPIC target by its 8-bit ID
        Assert.Equal([3], TestGuest.Receivers(vm, 0x61));
        vm.Vcpus[2].SendFixed(0x62, 1); // xAPIC sender -> x2APIC target by its x2APIC ID
        Assert.Equal([1], TestGuest.Receivers(vm, 0x62));
        vm.DeliverMsi(Msi.EncodeAddress(0), 0x63);
        Assert.Equal([0], TestGuest.Receivers(vm, 0x63));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Kvm_ipi_broadcast_is_the_senders_broadcast_and_reaches_targets_of_the_same_mode()
    {
        // kvm_apic_match_physical_addr: the broadcast is 0xFF for an xAPIC-mode target and
        // 0xFFFFFFFF for an x2APIC-mode one; 0xFF is compared with an x2APIC target's ID, and
        // 0xFFFFFFFF (> 0xFF) with an xAPIC target's x2APIC ID.
        using var vm = TestGuest.Vm(4, x2Apic: false);
        vm.Vcpus[0].EnterX2Apic();
        vm.Vcpus[1].EnterX2Apic();

        vm.Vcpus[2].SendFixed(0x64, 0xFF);
        Assert.Equal([2, 3], TestGuest.Receivers(vm, 0x64));
        vm.Vcpus[0].SendFixed(0x65, 0xFFFF_FFFF);
        Assert.Equal([0, 1], TestGuest.Receivers(vm, 0x65));

        // Shorthands do not depend on modes.
        vm.Vcpus[2].SendIpi(TestGuest.IcrLow(0x66, shorthand: DestinationShorthand.AllIncludingSelf), 0);
        Assert.Equal([0, 1, 2, 3], TestGuest.Receivers(vm, 0x66));
        vm.Vcpus[1].SendIpi(TestGuest.IcrLow(0x67, shorthand: DestinationShorthand.AllExcludingSelf), 0);
        Assert.Equal([0, 2, 3], TestGuest.Receivers(vm, 0x67));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Mixed_logical_contributors_disable_the_map_and_each_target_matches_in_its_own_mode()
    {
        using var vm = TestGuest.Vm(4, x2Apic: false);
        vm.Vcpus[2].SetLogicalId(0x04);
        vm.Vcpus[3].SetLogicalId(0x08);
        vm.Vcpus[0].EnterX2Apic();
        vm.Vcpus[1].EnterX2Apic();
        Assert.Equal(LogicalMapMode.Disabled, vm.Router.Map.LogicalMode);

        vm.Vcpus[2].SendFixed(0x68, 0x08, logical: true); // xAPIC flat bit 3; x2APIC cluster 0 bit 3: no vCPU 3 there
        Assert.Equal([3], TestGuest.Receivers(vm, 0x68));
        vm.Vcpus[0].SendFixed(0x69, 0x0000_0002, logical: true); // x2APIC cluster 0 bit 1
        Assert.Equal([1], TestGuest.Receivers(vm, 0x69));
        vm.Vcpus[0].SendFixed(0x6A, 0x0000_0005, logical: true); // x2APIC bits 0 and 2; xAPIC flat bits 0 and 2
        Assert.Equal([0, 2], TestGuest.Receivers(vm, 0x6A));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void X2apic_physical_ids_above_255_are_addressed_by_32_bit_destinations()
    {
        using var vm = TestGuest.Vm(600, x2Apic: true);
        long slow = vm.Router.SlowPathDeliveries;
        vm.Vcpus[0].SendFixed(0x6B, 299);
        Assert.Equal([299], TestGuest.Receivers(vm, 0x6B));
        vm.Vcpus[599].SendFixed(0x6C, 43);
        Assert.Equal([43], TestGuest.Receivers(vm, 0x6C));
        vm.Vcpus[43].SendFixed(0x6D, 599);
        Assert.Equal([599], TestGuest.Receivers(vm, 0x6D));
        vm.Vcpus[43].SendFixed(0x6E, 600); // no such ID
        Assert.Empty(TestGuest.Receivers(vm, 0x6E));
        vm.Vcpus[1].SendFixed(0x6F, (18u << 16) | 0x0C00, logical: true); // cluster 18 = IDs 288..303, bits 10 and 11
        Assert.Equal([298, 299], TestGuest.Receivers(vm, 0x6F));
        Assert.Equal(slow, vm.Router.SlowPathDeliveries);
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Hotplug_hack_a_destination_above_0xFF_reaches_an_xapic_mode_vcpu_by_its_x2apic_id()
    {
        // vCPU 299 stays in xAPIC mode (8-bit ID 299 & 0xFF = 43); vCPU 43 is hardware-disabled so
        // nothing aliases.
        using var vm = new VirtualMachine(new VmOptions { Cpus = 300 });
        foreach (var v in vm.Vcpus)
        {
            if (v.Index != 299)
            {
                v.EnterX2Apic();
            }

            v.SoftwareEnable();
        }

        vm.Vcpus[43].HardwareDisable();
        Assert.False(vm.Vcpus[299].InX2Apic());
        Assert.Equal(43u << 24, vm.Vcpus[299].Read(ApicOffset.Id));
        Assert.False(vm.Router.Map.PhysicalIdAliased);
        Assert.True(vm.Router.Map.HasHighXApicIds);

        vm.Vcpus[0].SendFixed(0x71, 299);
        Assert.Equal([299], TestGuest.Receivers(vm, 0x71));
        vm.Vcpus[0].SendFixed(0x72, 43); // <= 0xFF: compared with its 8-bit xAPIC ID
        Assert.Equal([299], TestGuest.Receivers(vm, 0x72));
        vm.Vcpus[0].SendFixed(0x73, 300);
        Assert.Empty(TestGuest.Receivers(vm, 0x73));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Hotplug_hack_with_the_truncated_id_aliasing_an_x2apic_vcpu_delivers_to_both()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 300 });
        foreach (var v in vm.Vcpus)
        {
            if (v.Index != 299)
            {
                v.EnterX2Apic();
            }

            v.SoftwareEnable();
        }

        Assert.True(vm.Router.Map.PhysicalIdAliased); // vCPU 43 (x2APIC) and vCPU 299 (xAPIC ID 43)
        Assert.False(vm.Router.Map.ApicIdModified);
        vm.Vcpus[0].SendFixed(0x74, 43);
        Assert.Equal([43, 299], TestGuest.Receivers(vm, 0x74));
        vm.Vcpus[0].SendFixed(0x75, 299);
        Assert.Equal([299], TestGuest.Receivers(vm, 0x75));
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("architectural")]
    public void X2apic_logical_multicast_reaches_an_x2apic_vcpu_whose_id_an_xapic_vcpu_aliases(string profile)
    {
        // The x2APIC logical destination (cluster 2, bit 11) = x2APIC ID 43. vCPU 299, left in
        // xAPIC mode with no logical ID, has 8-bit ID 43: the physical slot is aliased, but only
        // vCPU 43 is a logical target (kvm_apic_match_logical_addr). KVM discards the whole map
        // when a physical ID is aliased and the slow path finds vCPU 43.
        Assert.True(ApicProfile.TryParse(profile, out var p));
        using var vm = new VirtualMachine(new VmOptions { Cpus = 300, Profile = p });
        foreach (var v in vm.Vcpus)
        {
            if (v.Index != 299)
            {
                v.EnterX2Apic();
            }

            v.SoftwareEnable();
        }

        Assert.Equal(LogicalMapMode.X2Apic, vm.Router.Map.LogicalMode);
        vm.Vcpus[0].SendFixed(0x76, (2u << 16) | (1u << 11) | 1u, logical: true);
        Assert.Equal([32, 43], TestGuest.Receivers(vm, 0x76));
        vm.Vcpus[0].SendIpi(TestGuest.IcrLow(0, DeliveryMode.Nmi, logical: true), (2u << 16) | (1u << 11));
        Assert.Equal(GuestEventKind.Nmi, vm.Vcpus[43].Take().Kind);
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("architectural")]
    public void X2apic_logical_nmi_init_and_sipi_reach_a_software_disabled_target(string profile)
    {
        // The x2APIC LDR exists whatever SVR says, and a software-disabled APIC still accepts NMI,
        // SMI, INIT and SIPI (SDM 11.4.7.2; kvm-reference 3.4). KVM's x2APIC logical fast path
        // uses the physical table, which holds every hardware-enabled APIC.
        Assert.True(ApicProfile.TryParse(profile, out var p));
        using var vm = TestGuest.Vm(4, x2Apic: true, p);
        vm.Vcpus[2].SoftwareDisable();

        vm.Vcpus[0].SendIpi(TestGuest.IcrLow(0, DeliveryMode.Nmi, logical: true), 0x6); // bits 1, 2
        Assert.Equal(GuestEventKind.Nmi, vm.Vcpus[1].Take().Kind);
        Assert.Equal(GuestEventKind.Nmi, vm.Vcpus[2].Take().Kind);

        vm.Vcpus[0].SendIpi(TestGuest.IcrLow(0, DeliveryMode.Smi, logical: true), 0x4);
        Assert.Equal(GuestEventKind.Smi, vm.Vcpus[2].Take().Kind);

        vm.Vcpus[0].SendIpi(TestGuest.IcrLow(0, DeliveryMode.Init, logical: true), 0x4);
        Assert.Equal(GuestEventKind.Init, vm.Vcpus[2].Take().Kind);
        Assert.Equal(VcpuRunState.WaitForSipi, vm.Vcpus[2].State);
        vm.Vcpus[0].SendIpi(TestGuest.IcrLow(0x9A, DeliveryMode.StartUp, logical: true), 0x4);
        Assert.Equal(new GuestEvent(GuestEventKind.Sipi, 0x9A), vm.Vcpus[2].Take());

        // Fixed interrupts are still dropped by the disabled APIC (it kept its x2APIC mode over INIT).
        Assert.True(vm.Vcpus[2].InX2Apic());
        vm.Vcpus[0].SendFixed(0x77, 0x6, logical: true);
        Assert.Equal([1], TestGuest.Receivers(vm, 0x77));
        TestGuest.AssertQuiet(vm);
    }
}
