// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// Logical destinations (SDM vol. 3A 11.6.2.2, 11.12.10.2; KVM kvm_apic_match_logical_addr and the
/// logical part of kvm_recalculate_apic_map): flat and cluster xAPIC models set up by LDR/DFR
/// writes, x2APIC cluster addressing derived from the ID; a multicast reaches every match.
/// </summary>
public class LogicalDestinationTests
{
    [Fact]
    public void Xapic_flat_multicast_reaches_every_apic_whose_ldr_bit_is_in_the_mask()
    {
        using var vm = TestGuest.Vm(8, x2Apic: false);
        foreach (var v in vm.Vcpus)
        {
            v.SetDfr(cluster: false);
            v.SetLogicalId((byte)(1 << v.Index));
            Assert.Equal((1u << v.Index) << 24, v.Read(ApicOffset.Ldr));
            Assert.Equal(0xFFFF_FFFFu, v.Read(ApicOffset.Dfr));
        }

        Assert.Equal(LogicalMapMode.XApicFlat, vm.Router.Map.LogicalMode);
        long slow = vm.Router.SlowPathDeliveries;
        vm.Vcpus[1].SendFixed(0x51, 0xA5, logical: true);
        Assert.Equal([0, 2, 5, 7], TestGuest.Receivers(vm, 0x51));
        Assert.Equal(slow, vm.Router.SlowPathDeliveries);

        vm.Vcpus[1].SendFixed(0x52, 0x00, logical: true); // an empty mask addresses nobody
        Assert.Empty(TestGuest.Receivers(vm, 0x52));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Xapic_cluster_multicast_reaches_the_members_of_one_cluster()
    {
        using var vm = TestGuest.Vm(8, x2Apic: false);
        foreach (var v in vm.Vcpus)
        {
            // Cluster i / 4, member bit i % 4.
            v.SetDfr(cluster: true);
            v.SetLogicalId((byte)(((v.Index / 4) << 4) | (1 << (v.Index % 4))));
            Assert.Equal(0x0FFF_FFFFu, v.Read(ApicOffset.Dfr));
        }

        Assert.Equal(LogicalMapMode.XApicCluster, vm.Router.Map.LogicalMode);
        vm.Vcpus[0].SendFixed(0x61, 0x13, logical: true);
        Assert.Equal([4, 5], TestGuest.Receivers(vm, 0x61));
        vm.Vcpus[0].SendFixed(0x62, 0x0F, logical: true);
        Assert.Equal([0, 1, 2, 3], TestGuest.Receivers(vm, 0x62));
        vm.Vcpus[0].SendFixed(0x63, 0x28, logical: true); // cluster 2 does not exist
        Assert.Empty(TestGuest.Receivers(vm, 0x63));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Xapic_cluster_15_is_matched_by_its_members_only()
    {
        // Cluster 0xF is outside the 15 x 4 table; the slow path still matches it exactly.
        using var vm = TestGuest.Vm(3, x2Apic: false);
        foreach (var v in vm.Vcpus)
        {
            v.SetDfr(cluster: true);
        }

        vm.Vcpus[0].SetLogicalId(0xF1);
        vm.Vcpus[1].SetLogicalId(0xF2);
        vm.Vcpus[2].SetLogicalId(0x11);
        vm.Vcpus[2].SendFixed(0x64, 0xF3, logical: true);
        Assert.Equal([0, 1], TestGuest.Receivers(vm, 0x64));
        vm.Vcpus[2].SendFixed(0x65, 0xF2, logical: true);
        Assert.Equal([1], TestGuest.Receivers(vm, 0x65));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Xapic_apics_with_a_zero_ldr_are_not_logical_targets()
    {
        using var vm = TestGuest.Vm(3, x2Apic: false);
        vm.Vcpus[1].SetLogicalId(0x02);
        vm.Vcpus[0].SendFixed(0x66, 0xFF, logical: true); // 0xFF logical is a broadcast
        Assert.Equal([0, 1, 2], TestGuest.Receivers(vm, 0x66));
        vm.Vcpus[0].SendFixed(0x67, 0x7F, logical: true);
        Assert.Equal([1], TestGuest.Receivers(vm, 0x67));
    }

    [Fact]
    public void X2apic_ldr_is_derived_from_the_id_and_read_only()
    {
        using var vm = TestGuest.Vm(40, x2Apic: true);
        foreach (var v in vm.Vcpus)
        {
            uint id = (uint)v.Index;
            Assert.Equal(id, v.Read(ApicOffset.Id));
            Assert.Equal(((id >> 4) << 16) | (1u << (int)(id & 0xF)), v.Read(ApicOffset.Ldr));
        }

        Assert.False(vm.Vcpus[3].TryWriteMsr(0x80D, 0x1), "x2APIC LDR is read-only (#GP)");
        Assert.False(vm.Vcpus[3].TryReadMsr(0x80E, out _), "x2APIC has no DFR (#GP)");
        Assert.Equal(LogicalMapMode.X2Apic, vm.Router.Map.LogicalMode);
    }

    [Fact]
    public void X2apic_cluster_multicast_reaches_every_member_in_the_mask()
    {
        using var vm = TestGuest.Vm(40, x2Apic: true);
        long slow = vm.Router.SlowPathDeliveries;

        vm.Vcpus[0].SendFixed(0x71, (1u << 16) | 0x8001, logical: true); // cluster 1: IDs 16 and 31
        Assert.Equal([16, 31], TestGuest.Receivers(vm, 0x71));

        vm.Vcpus[0].SendFixed(0x72, (2u << 16) | 0xFFFF, logical: true); // cluster 2: IDs 32..39 exist
        Assert.Equal([32, 33, 34, 35, 36, 37, 38, 39], TestGuest.Receivers(vm, 0x72));

        vm.Vcpus[5].SendFixed(0x73, 0x0000_0024, logical: true); // cluster 0, bits 2 and 5 (the sender)
        Assert.Equal([2, 5], TestGuest.Receivers(vm, 0x73));

        vm.Vcpus[0].SendFixed(0x74, (7u << 16) | 0xFFFF, logical: true); // no such cluster
        Assert.Empty(TestGuest.Receivers(vm, 0x74));

        Assert.Equal(slow, vm.Router.SlowPathDeliveries);
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Xapic_logical_dfr_change_is_seen_by_the_next_ipi()
    {
        using var vm = TestGuest.Vm(2, x2Apic: false);
        vm.Vcpus[1].SetLogicalId(0x12); // flat: bits 1 and 4; cluster: cluster 1, member bit 1
        vm.Vcpus[0].SendFixed(0x75, 0x10, logical: true);
        Assert.Equal([1], TestGuest.Receivers(vm, 0x75));
        vm.Vcpus[1].SetDfr(cluster: true);
        vm.Vcpus[0].SendFixed(0x76, 0x10, logical: true); // cluster 1, no member bit
        Assert.Empty(TestGuest.Receivers(vm, 0x76));
        vm.Vcpus[0].SendFixed(0x77, 0x12, logical: true);
        Assert.Equal([1], TestGuest.Receivers(vm, 0x77));
    }

    [Fact]
    public void Mixed_flat_and_cluster_models_disable_the_logical_map_and_each_apic_matches_by_its_own_model()
    {
        // KVM kvm_recalculate_logical_map: contributors in different modes disable the map.
        using var vm = TestGuest.Vm(2, x2Apic: false);
        vm.Vcpus[0].SetLogicalId(0x21); // flat: bits 0 and 5 (not a single bit either)
        vm.Vcpus[1].SetDfr(cluster: true);
        vm.Vcpus[1].SetLogicalId(0x21); // cluster 2, member 0
        Assert.Equal(LogicalMapMode.Disabled, vm.Router.Map.LogicalMode);
        Assert.True(vm.Router.Map.LogicalIdAliased);

        long slow = vm.Router.SlowPathDeliveries;
        vm.Vcpus[0].SendFixed(0x78, 0x01, logical: true); // flat bit 0: vCPU 0; cluster 0: nobody
        Assert.Equal([0], TestGuest.Receivers(vm, 0x78));
        vm.Vcpus[0].SendFixed(0x79, 0x21, logical: true); // both
        Assert.Equal([0, 1], TestGuest.Receivers(vm, 0x79));
        vm.Vcpus[0].SendFixed(0x7A, 0x22, logical: true); // flat bit 5: vCPU 0; cluster 2 member 1: nobody
        Assert.Equal([0], TestGuest.Receivers(vm, 0x7A));
        Assert.Equal(slow + 3, vm.Router.SlowPathDeliveries);
    }
}
