// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// IDs that are not 1:1 with vCPUs (kvm-reference 4.3): aliased physical IDs are all honoured
/// (KVM 5b84b0291702) on the slow path; multi-bit or colliding xAPIC logical IDs disable the
/// logical map (2970052481b9, 2bf934aadcac) and every match receives; APIC_ID_MODIFIED follows the
/// IDs and clears again (d471bd853d38), ignoring disabled APICs (a58a66afc464).
/// </summary>
public class AliasingTests
{
    [Fact]
    public void Two_vcpus_with_the_same_xapic_id_both_accept_on_the_slow_path()
    {
        using var vm = TestGuest.Vm(4, x2Apic: false);
        Assert.False(vm.Router.Map.PhysicalIdAliased);

        vm.Vcpus[2].SetXApicId(1);
        Assert.Equal(1u << 24, vm.Vcpus[2].Read(ApicOffset.Id));
        var map = vm.Router.Map;
        Assert.True(map.PhysicalIdAliased);
        Assert.True(map.LogicalIdAliased);
        Assert.True(map.ApicIdModified);
        Assert.Equal(2, map.PhysicalCount(1));
        Assert.Null(map.Physical(1));

        long slow = vm.Router.SlowPathDeliveries;
        vm.Vcpus[0].SendFixed(0x51, 1);
        Assert.Equal([1, 2], TestGuest.Receivers(vm, 0x51));
        vm.DeliverMsi(Msi.EncodeAddress(1), 0x52);
        Assert.Equal([1, 2], TestGuest.Receivers(vm, 0x52));
        Assert.Equal(slow + 2, vm.Router.SlowPathDeliveries);

        // Nobody answers to 2 any more.
        vm.Vcpus[0].SendFixed(0x53, 2);
        Assert.Empty(TestGuest.Receivers(vm, 0x53));

        // Restoring the ID restores the 1:1 map and the fast path; the flags clear.
        vm.Vcpus[2].SetXApicId(2);
        map = vm.Router.Map;
        Assert.False(map.PhysicalIdAliased);
        Assert.False(map.ApicIdModified);
        slow = vm.Router.SlowPathDeliveries;
        vm.Vcpus[0].SendFixed(0x54, 1);
        Assert.Equal([1], TestGuest.Receivers(vm, 0x54));
        vm.Vcpus[0].SendFixed(0x55, 2);
        Assert.Equal([2], TestGuest.Receivers(vm, 0x55));
        Assert.Equal(slow, vm.Router.SlowPathDeliveries);
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Apic_id_modified_tracks_xapic_ids_that_differ_from_the_vcpu_index()
    {
        using var vm = TestGuest.Vm(4, x2Apic: false);
        Assert.False(vm.Router.Map.ApicIdModified);

        vm.Vcpus[3].SetXApicId(9); // differs, but aliases nothing
        Assert.True(vm.Router.Map.ApicIdModified);
        Assert.False(vm.Router.Map.PhysicalIdAliased);
        vm.Vcpus[0].SendFixed(0x56, 9);
        Assert.Equal([3], TestGuest.Receivers(vm, 0x56));
        vm.Vcpus[0].SendFixed(0x57, 3);
        Assert.Empty(TestGuest.Receivers(vm, 0x57));

        vm.Vcpus[3].SetXApicId(3);
        Assert.False(vm.Router.Map.ApicIdModified);

        // An x2APIC-mode vCPU's ID is its index: switching clears the flag too.
        vm.Vcpus[2].SetXApicId(7);
        Assert.True(vm.Router.Map.ApicIdModified);
        vm.Vcpus[2].EnterX2Apic();
        Assert.False(vm.Router.Map.ApicIdModified);
        Assert.Equal(2u, vm.Vcpus[2].Read(ApicOffset.Id));
    }

    [Fact]
    public void A_hardware_disabled_apic_does_not_count_as_modified_and_re_enabling_restores_its_id()
    {
        // KVM a58a66afc464: only present (hardware-enabled) APICs contribute; KVM
        // __kvm_apic_set_base rewrites the xAPIC ID on EN 0->1.
        using var vm = TestGuest.Vm(3, x2Apic: false);
        vm.Vcpus[1].SetXApicId(0x40);
        Assert.True(vm.Router.Map.ApicIdModified);
        vm.Vcpus[1].HardwareDisable();
        Assert.False(vm.Router.Map.ApicIdModified);

        Assert.True(vm.Vcpus[1].TryWriteMsr(ApicBase.Msr, ApicBase.DefaultAddress | ApicBase.EnableBit));
        Assert.Equal(1u << 24, vm.Vcpus[1].Read(ApicOffset.Id));
        Assert.False(vm.Router.Map.ApicIdModified);
    }

    [Fact]
    public void Multi_bit_xapic_flat_logical_id_disables_the_logical_map_and_every_match_receives()
    {
        using var vm = TestGuest.Vm(3, x2Apic: false);
        vm.Vcpus[0].SetLogicalId(0x03); // two bits
        vm.Vcpus[1].SetLogicalId(0x02);
        vm.Vcpus[2].SetLogicalId(0x04);
        Assert.Equal(LogicalMapMode.Disabled, vm.Router.Map.LogicalMode);
        Assert.True(vm.Router.Map.LogicalIdAliased);

        long slow = vm.Router.SlowPathDeliveries;
        vm.Vcpus[2].SendFixed(0x58, 0x02, logical: true);
        Assert.Equal([0, 1], TestGuest.Receivers(vm, 0x58));
        vm.Vcpus[2].SendFixed(0x59, 0x01, logical: true);
        Assert.Equal([0], TestGuest.Receivers(vm, 0x59));
        vm.Vcpus[2].SendFixed(0x5A, 0x06, logical: true);
        Assert.Equal([0, 1, 2], TestGuest.Receivers(vm, 0x5A));
        Assert.Equal(slow + 3, vm.Router.SlowPathDeliveries);

        // One bit each again: the map comes back.
        vm.Vcpus[0].SetLogicalId(0x01);
        Assert.Equal(LogicalMapMode.XApicFlat, vm.Router.Map.LogicalMode);
        vm.Vcpus[2].SendFixed(0x5B, 0x02, logical: true);
        Assert.Equal([1], TestGuest.Receivers(vm, 0x5B));
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [InlineData(false, 0x04, 0x04, 0x04, new[] { 0, 1 })]
    [InlineData(true, 0x21, 0x21, 0x21, new[] { 0, 1 })]
    [InlineData(true, 0x23, 0x21, 0x21, new[] { 0, 1 })] // multi-bit cluster member
    [InlineData(true, 0x23, 0x21, 0x22, new[] { 0 })]
    public void Colliding_xapic_logical_ids_all_receive(bool cluster, byte ldr0, byte ldr1, byte destination, int[] expected)
    {
        using var vm = TestGuest.Vm(3, x2Apic: false);
        foreach (var v in vm.Vcpus)
        {
            v.SetDfr(cluster);
        }

        vm.Vcpus[0].SetLogicalId(ldr0);
        vm.Vcpus[1].SetLogicalId(ldr1);
        Assert.Equal(LogicalMapMode.Disabled, vm.Router.Map.LogicalMode);
        vm.Vcpus[2].SendFixed(0x5C, destination, logical: true);
        Assert.Equal(expected, TestGuest.Receivers(vm, 0x5C));
    }

    [Fact]
    public void Xapic_ids_truncated_from_vcpu_indexes_above_255_alias_without_counting_as_modified()
    {
        // A 300-vCPU VM left in xAPIC mode: vCPU 256+k has xAPIC ID k (8 bits), so IDs alias,
        // and every vCPU with the ID accepts (5b84b0291702). The truncation is not a modification
        // (KVM f651a0089548 compares against (u8)vcpu_id).
        using var vm = new VirtualMachine(new VmOptions { Cpus = 300 });
        vm.Vcpus[0].SoftwareEnable();
        vm.Vcpus[5].SoftwareEnable();
        vm.Vcpus[261].SoftwareEnable();
        Assert.Equal(5u << 24, vm.Vcpus[261].Read(ApicOffset.Id));
        var map = vm.Router.Map;
        Assert.True(map.PhysicalIdAliased);
        Assert.False(map.ApicIdModified);
        Assert.True(map.HasHighXApicIds);

        vm.Vcpus[0].SendFixed(0x5D, 5);
        Assert.Equal([5, 261], TestGuest.Receivers(vm, 0x5D));
    }
}
