// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// MSI decode and delivery (SDM vol. 3A 11.11; KVM kvm_set_msi_irq, kvm-reference 4.3 "MSI
/// decode"): destination 19:12, redirection hint 3, logical 2; vector 7:0, delivery mode 10:8,
/// trigger 15; level always asserted; the extended destination ID (address 11:5 = destination
/// 14:8) only when the VM enables it; addresses outside 0xFEExxxxx are not MSIs.
/// </summary>
public class MsiTests
{
    [Theory]
    [InlineData(0xFEE0_0000ul, 0x0000_0030u, 0x30, DeliveryMode.Fixed, DestinationMode.Physical, 0x00u, TriggerMode.Edge, false)]
    [InlineData(0xFEE2_3000ul, 0x0000_01A1u, 0xA1, DeliveryMode.LowestPriority, DestinationMode.Physical, 0x23u, TriggerMode.Edge, false)]
    [InlineData(0xFEEF_F004ul, 0x0000_8042u, 0x42, DeliveryMode.Fixed, DestinationMode.Logical, 0xFFu, TriggerMode.Level, false)]
    [InlineData(0xFEE0_500Cul, 0x0000_C4FEu, 0xFE, DeliveryMode.Nmi, DestinationMode.Logical, 0x05u, TriggerMode.Level, true)]
    [InlineData(0xFEE0_1008ul, 0x0000_0500u, 0x00, DeliveryMode.Init, DestinationMode.Physical, 0x01u, TriggerMode.Edge, true)]
    [InlineData(0xFEE0_2000ul, 0x0000_0777u, 0x77, DeliveryMode.ExtInt, DestinationMode.Physical, 0x02u, TriggerMode.Edge, false)]
    public void Decode_reads_every_field(
        ulong address, uint data, byte vector, DeliveryMode mode, DestinationMode destinationMode, uint destination, TriggerMode trigger, bool hint)
    {
        var m = Msi.Decode(address, data, extendedDestinationId: false);
        Assert.Equal(vector, m.Vector);
        Assert.Equal(mode, m.DeliveryMode);
        Assert.Equal(destinationMode, m.DestinationMode);
        Assert.Equal(destination, m.Destination);
        Assert.Equal(trigger, m.TriggerMode);
        Assert.Equal(hint, m.RedirectionHint);
        Assert.True(m.Level, "KVM sets level = 1 for every MSI");
        Assert.Equal(DestinationShorthand.None, m.Shorthand);
        Assert.Equal(InterruptSource.Msi, m.Source);
        Assert.Equal(-1, m.SourceVcpu);
    }

    [Theory]
    [InlineData(0xFEE2_B020ul, true, 0x12Bu)]   // bits 11:5 = 1, 19:12 = 0x2B -> 0x12B
    [InlineData(0xFEE2_B020ul, false, 0x2Bu)]   // the same address without the extension
    [InlineData(0xFEEF_FFE0ul, true, 0x7FFFu)]  // all 15 bits
    [InlineData(0xFEEF_FFE0ul, false, 0xFFu)]
    [InlineData(0xFEE0_0FE0ul, true, 0x7F00u)]
    public void Extended_destination_id_counts_only_when_enabled(ulong address, bool enabled, uint destination)
    {
        Assert.Equal(destination, Msi.Decode(address, 0x40, enabled).Destination);
    }

    [Theory]
    [InlineData(0u, false, false)]
    [InlineData(0x7FFFu, true, true)]
    [InlineData(299u, false, true)]
    public void Encode_address_round_trips_through_decode(uint destination, bool logical, bool hint)
    {
        var m = Msi.Decode(Msi.EncodeAddress(destination, logical, hint, extendedDestinationId: true), 0x40, extendedDestinationId: true);
        Assert.Equal(destination, m.Destination);
        Assert.Equal(logical ? DestinationMode.Logical : DestinationMode.Physical, m.DestinationMode);
        Assert.Equal(hint, m.RedirectionHint);
    }

    [Theory]
    [InlineData(0xFEE0_0000ul, true)]
    [InlineData(0xFEE0_0FF0ul, true)] // bits 11:4 are not destination bits without the extension
    [InlineData(0xFEDF_F000ul, false)]
    [InlineData(0xFEF0_0000ul, false)]
    [InlineData(0x1_FEE0_0000ul, false)]
    [InlineData(0x0ul, false)]
    public void Only_0xFEExxxxx_is_an_msi_address(ulong address, bool isMsi)
    {
        Assert.Equal(isMsi, Msi.IsMsiAddress(address));
        using var vm = TestGuest.Vm(2, x2Apic: false);
        int accepted = vm.DeliverMsi(address, 0x50);
        Assert.Equal(isMsi ? [0] : [], TestGuest.Receivers(vm, 0x50));
        Assert.Equal(isMsi ? 1 : -1, accepted);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fixed_msi_reaches_its_physical_destination_with_the_trigger_mode_in_tmr(bool x2)
    {
        using var vm = TestGuest.Vm(4, x2);
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(2), 0x61));
        Assert.False(TmrBit(vm.Vcpus[2], 0x61));
        Assert.Equal([2], TestGuest.Receivers(vm, 0x61));

        // Level-triggered (data bit 15), level bit 14 clear: KVM still asserts it (level = 1).
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(3), 0x8000 | 0x62u));
        Assert.True(TmrBit(vm.Vcpus[3], 0x62));
        Assert.Equal([3], TestGuest.Receivers(vm, 0x62));
        TestGuest.AssertQuiet(vm);
    }

    private static bool TmrBit(Vcpu v, byte vector) => (v.Read(0x180 + (vector / 32 * 0x10)) & (1u << (vector % 32))) != 0;

    [Fact]
    public void Logical_msi_is_a_multicast()
    {
        using var vm = TestGuest.Vm(4, x2Apic: false);
        foreach (var v in vm.Vcpus)
        {
            v.SetLogicalId((byte)(1 << v.Index));
        }

        Assert.Equal(3, vm.DeliverMsi(Msi.EncodeAddress(0x0B, logical: true), 0x63));
        Assert.Equal([0, 1, 3], TestGuest.Receivers(vm, 0x63));

        // x2APIC logical: cluster 0 only, an 8-bit destination.
        using var vm2 = TestGuest.Vm(20, x2Apic: true);
        vm2.DeliverMsi(Msi.EncodeAddress(0x81, logical: true), 0x64);
        Assert.Equal([0, 7], TestGuest.Receivers(vm2, 0x64));
    }

    [Fact]
    public void Msi_delivery_modes_reach_the_cpu()
    {
        using var vm = TestGuest.Vm(2, x2Apic: false);
        var target = vm.Vcpus[1];
        vm.DeliverMsi(Msi.EncodeAddress(1), (uint)DeliveryMode.Nmi << 8);
        Assert.Equal(GuestEventKind.Nmi, target.Take().Kind);
        vm.DeliverMsi(Msi.EncodeAddress(1), (uint)DeliveryMode.Smi << 8);
        Assert.Equal(GuestEventKind.Smi, target.Take().Kind);
        vm.DeliverMsi(Msi.EncodeAddress(1), (uint)DeliveryMode.ExtInt << 8 | 0x65); // not a message the APIC takes
        Assert.Equal(GuestEvent.None, target.StiTake());
        vm.DeliverMsi(Msi.EncodeAddress(1), (uint)DeliveryMode.Init << 8);
        Assert.Equal(GuestEventKind.Init, target.Take().Kind);
        Assert.Equal(VcpuRunState.WaitForSipi, target.State);
        vm.DeliverMsi(Msi.EncodeAddress(1), ((uint)DeliveryMode.StartUp << 8) | 0x9F);
        Assert.Equal(new GuestEvent(GuestEventKind.Sipi, 0x9F), target.Take());
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [InlineData(true, new[] { 299 })]
    [InlineData(false, new[] { 43 })]
    public void Extended_destination_id_addresses_vcpus_above_255(bool enabled, int[] expected)
    {
        using var vm = TestGuest.Vm(300, x2Apic: true, extendedDestinationId: enabled);
        ulong address = Msi.EncodeAddress(299, extendedDestinationId: true); // 0x2B in 19:12, 1 in 11:5
        Assert.Equal(0xFEE2_B020ul, address);
        vm.DeliverMsi(address, 0x66);
        Assert.Equal(expected, TestGuest.Receivers(vm, 0x66));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Architectural_redirection_hint_picks_the_lowest_priority_destination()
    {
        using var vm = TestGuest.Vm(4, x2Apic: true, ApicProfile.Architectural);
        uint[] tprs = [0x40, 0x30, 0x10, 0x20];
        foreach (var v in vm.Vcpus)
        {
            v.SetTpr(tprs[v.Index]);
        }

        vm.DeliverMsi(Msi.EncodeAddress(0x0F, logical: true, redirectionHint: true), 0x67);
        Assert.Equal([2], TestGuest.Receivers(vm, 0x67));
        vm.DeliverMsi(Msi.EncodeAddress(0x0B, logical: true, redirectionHint: true), 0x68);
        Assert.Equal([3], TestGuest.Receivers(vm, 0x68));

        // Physical with the hint: the one destination.
        vm.DeliverMsi(Msi.EncodeAddress(0, redirectionHint: true), 0x69);
        Assert.Equal([0], TestGuest.Receivers(vm, 0x69));
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Msi_to_an_absent_apic_reaches_nobody()
    {
        using var vm = TestGuest.Vm(4, x2Apic: true);
        Assert.True(vm.DeliverMsi(Msi.EncodeAddress(9), 0x6A) <= 0);
        Assert.Empty(TestGuest.Receivers(vm, 0x6A));
    }
}
