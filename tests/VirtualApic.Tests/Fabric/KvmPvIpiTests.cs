// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>KVM_HC_SEND_IPI (KVM lapic.c kvm_pv_send_ipi / __pv_send_ipi).</summary>
public class KvmPvIpiTests
{
    [Fact]
    public void Each_bit_above_min_names_a_physical_apic_id()
    {
        using var vm = TestGuest.Vm(4, x2Apic: true);
        long count = KvmPvIpi.Send(vm.Router, 0, bitmapLow: 0b101, bitmapHigh: 0, min: 1, icr: 0x45, longMode: true);
        Assert.Equal(2, count);
        Assert.False(vm.Vcpus[0].Apic.IrrHas(0x45));
        Assert.True(vm.Vcpus[1].Apic.IrrHas(0x45));
        Assert.False(vm.Vcpus[2].Apic.IrrHas(0x45));
        Assert.True(vm.Vcpus[3].Apic.IrrHas(0x45));
    }

    [Fact]
    public void The_high_bitmap_starts_one_cluster_above_min()
    {
        using var vm = TestGuest.Vm(4, x2Apic: true);

        // 32-bit caller: clusters of 32, so bit 0 of the high map is ID min + 32; with min = -30
        // (as u32) that wraps to ID 2, as KVM's u32 arithmetic does.
        long count = KvmPvIpi.Send(vm.Router, 0, bitmapLow: 0, bitmapHigh: 1, min: unchecked((uint)-30), icr: 0x46, longMode: false);
        Assert.Equal(1, count);
        Assert.True(vm.Vcpus[2].Apic.IrrHas(0x46));
    }

    [Fact]
    public void The_kvm_unit_tests_call_targets_nobody_and_returns_zero()
    {
        // apic.flat test_pv_ipi: a0 = 0xFFFFFFFF, a1 = 0, min = 0xFFFFFFFF, icr = 0; KVM returns 0.
        using var vm = TestGuest.Vm(2, x2Apic: true);
        Assert.Equal(0, KvmPvIpi.Send(vm.Router, 0, 0xFFFF_FFFF, 0, 0xFFFF_FFFF, 0, longMode: true));
        Assert.False(vm.Vcpus[0].Apic.IrrHas(0) || vm.Vcpus[1].Apic.IrrHas(0));
    }

    [Theory]
    [InlineData(1ul << 11)]     // logical destination mode
    [InlineData(1ul << 18)]     // shorthand self
    [InlineData(3ul << 18)]     // shorthand all-but-self
    public void A_logical_or_shorthand_icr_is_refused_with_einval(ulong bits)
    {
        using var vm = TestGuest.Vm(2, x2Apic: true);
        Assert.Equal(KvmPvIpi.InvalidArgument, KvmPvIpi.Send(vm.Router, 0, 0b11, 0, 0, 0x50 | bits, longMode: true));
        Assert.False(vm.Vcpus[0].Apic.IrrHas(0x50) || vm.Vcpus[1].Apic.IrrHas(0x50));
    }

    [Fact]
    public void Ids_beyond_the_map_are_ignored_and_nmi_delivery_mode_is_honoured()
    {
        using var vm = TestGuest.Vm(2, x2Apic: true);
        long count = KvmPvIpi.Send(vm.Router, 0, ulong.MaxValue, ulong.MaxValue, 0, 0x400, longMode: true); // NMI
        Assert.Equal(2, count);
        Assert.Equal(1, vm.Vcpus[0].NmiQueued);
        Assert.Equal(1, vm.Vcpus[1].NmiQueued);
    }
}
