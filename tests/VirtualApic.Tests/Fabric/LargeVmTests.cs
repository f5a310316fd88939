// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// A 4096-vCPU VM in x2APIC mode: unicast to the last ID, a full cluster, broadcast; and the
/// constant-work property of the map: a physical unicast or a cluster multicast is resolved by
/// the map, never by a scan of every APIC (SlowPathDeliveries), and sending does
/// not rebuild the map.
/// </summary>
public class LargeVmTests
{
    private const int Cpus = 4096;

    [Fact]
    public void Physical_unicast_to_id_4095_reaches_only_vcpu_4095_on_the_fast_path()
    {
        using var vm = TestGuest.Vm(Cpus, x2Apic: true);
        Assert.Equal(4095, vm.Router.Map.MaxId);
        long rebuilds = vm.Router.MapRebuilds;
        long slow = vm.Router.SlowPathDeliveries;

        vm.Vcpus[0].SendFixed(0x41, 4095);
        Assert.Equal([4095], TestGuest.Receivers(vm, 0x41));
        Assert.Equal(slow, vm.Router.SlowPathDeliveries);

        // Every ID, from every corner, costs one map lookup.
        for (int id = 0; id < Cpus; id += 97)
        {
            vm.Vcpus[Cpus - 1 - id].SendFixed(0x42, (uint)id);
            Assert.Equal(0x42, vm.Vcpus[id].TakeAndEoi());
        }

        // Without VmOptions.ExtendedDestinationId, address bits 11:5 are ignored: 4000 is 0xA0.
        vm.DeliverMsi(Msi.EncodeAddress(4000, extendedDestinationId: true), 0x43);
        Assert.Equal([4000 & 0xFF], TestGuest.Receivers(vm, 0x43));

        Assert.Equal(slow, vm.Router.SlowPathDeliveries);
        Assert.Equal(rebuilds, vm.Router.MapRebuilds);
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void X2apic_cluster_multicast_reaches_the_16_vcpus_of_the_last_cluster()
    {
        using var vm = TestGuest.Vm(Cpus, x2Apic: true);
        long slow = vm.Router.SlowPathDeliveries;
        vm.Vcpus[0].SendFixed(0x51, (255u << 16) | 0xFFFF, logical: true);
        Assert.Equal(Enumerable.Range(4080, 16).ToArray(), TestGuest.Receivers(vm, 0x51));
        vm.Vcpus[4095].SendIpi(TestGuest.IcrLow(0, DeliveryMode.Nmi, logical: true), (128u << 16) | 0x8001);
        Assert.Equal(GuestEventKind.Nmi, vm.Vcpus[2048].Take().Kind);
        Assert.Equal(GuestEventKind.Nmi, vm.Vcpus[2063].Take().Kind);
        Assert.Equal(slow, vm.Router.SlowPathDeliveries);
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Broadcast_reaches_all_4096()
    {
        using var vm = TestGuest.Vm(Cpus, x2Apic: true);
        vm.Vcpus[1234].SendFixed(0x61, 0xFFFF_FFFF);
        Assert.Equal(Enumerable.Range(0, Cpus).ToArray(), TestGuest.Receivers(vm, 0x61));
        vm.Vcpus[1234].SendIpi(TestGuest.IcrLow(0x62, shorthand: DestinationShorthand.AllExcludingSelf), 0);
        Assert.Equal(Enumerable.Range(0, Cpus).Where(i => i != 1234).ToArray(), TestGuest.Receivers(vm, 0x62));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Extended_destination_id_msi_reaches_vcpu_4095()
    {
        using var vm = TestGuest.Vm(Cpus, x2Apic: true, extendedDestinationId: true);
        vm.DeliverMsi(Msi.EncodeAddress(4095, extendedDestinationId: true), 0x71);
        Assert.Equal([4095], TestGuest.Receivers(vm, 0x71));
    }
}
