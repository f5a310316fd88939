// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>IA32_APIC_BASE: modes, transitions, reserved bits and their effects (kvm-reference.md 2; SDM 11.4.4, 11.12.5).</summary>
public class ApicBaseTests
{
    private static ulong Base(ApicMode mode) => mode switch
    {
        ApicMode.Disabled => TestApic.DisabledBase,
        ApicMode.Invalid => ApicBase.DefaultAddress | ApicBase.ExtdBit,
        ApicMode.XApic => TestApic.XApicBase,
        _ => TestApic.X2ApicBase,
    };

    /// <summary>
    /// The transition matrix: INVALID is refused to everyone; a guest may not go x2APIC to xAPIC nor
    /// disabled to x2APIC; the host may make any transition between valid modes.
    /// </summary>
    public static TheoryData<ApicMode, ApicMode, bool, bool> Transitions()
    {
        var data = new TheoryData<ApicMode, ApicMode, bool, bool>();
        ApicMode[] from = [ApicMode.Disabled, ApicMode.XApic, ApicMode.X2Apic];
        ApicMode[] to = [ApicMode.Disabled, ApicMode.Invalid, ApicMode.XApic, ApicMode.X2Apic];
        foreach (var f in from)
        {
            foreach (var t in to)
            {
                foreach (bool host in new[] { false, true })
                {
                    bool ok = t != ApicMode.Invalid
                        && (host || !((f == ApicMode.X2Apic && t == ApicMode.XApic) || (f == ApicMode.Disabled && t == ApicMode.X2Apic)));
                    data.Add(f, t, host, ok);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Transitions))]
    public void Every_mode_transition_follows_the_reference_matrix(ApicMode from, ApicMode to, bool hostInitiated, bool ok)
    {
        var apic = TestApic.Create(from, bsp: false);
        Assert.Equal(from, apic.Mode);

        Assert.Equal(ok, apic.SetApicBase(Base(to), hostInitiated));

        Assert.Equal(ok ? to : from, apic.Mode);
        Assert.Equal(ok ? Base(to) : Base(from), apic.ApicBaseMsr);
    }

    [Theory]
    [InlineData(ApicMode.Disabled)]
    [InlineData(ApicMode.XApic)]
    [InlineData(ApicMode.X2Apic)]
    public void Writing_the_current_value_succeeds_and_changes_nothing(ApicMode mode)
    {
        var apic = TestApic.Create(mode, bsp: false);
        apic.SetTpr(0x30);
        int mapChanges = apic.Host().MapChanges;
        Assert.True(apic.SetApicBase(apic.ApicBaseMsr, hostInitiated: false));
        Assert.Equal(0x30u, apic.Tpr);
        Assert.Equal(mapChanges, apic.Host().MapChanges);
    }

    public static TheoryData<int> AlwaysReservedBits() => new() { 0, 1, 2, 3, 4, 5, 6, 7, 9 };

    [Theory]
    [MemberData(nameof(AlwaysReservedBits))]
    public void Bits_0_to_7_and_9_are_reserved_for_guest_and_host(int bit)
    {
        var apic = TestApic.Create();
        ulong before = apic.ApicBaseMsr;
        Assert.False(apic.SetApicBase(before | (1ul << bit), hostInitiated: false));
        Assert.False(apic.SetApicBase(before | (1ul << bit), hostInitiated: true));
        Assert.Equal(before, apic.ApicBaseMsr);
    }

    [Theory]
    [InlineData(36, 35, true)]
    [InlineData(36, 36, false)]
    [InlineData(36, 51, false)]
    [InlineData(36, 63, false)]
    [InlineData(46, 45, true)]
    [InlineData(46, 46, false)]
    [InlineData(52, 51, true)]
    [InlineData(52, 52, false)]
    public void Address_bits_at_or_above_maxphyaddr_are_reserved(int maxPhysAddr, int bit, bool ok)
    {
        var apic = TestApic.Create(config: new ApicConfig { MaxPhysAddr = maxPhysAddr });
        ulong value = TestApic.XApicBase | ApicBase.BspBit | (1ul << bit);
        Assert.Equal(ok, apic.SetApicBase(value, hostInitiated: false));
        Assert.Equal(ok, apic.SetApicBase(value, hostInitiated: true));
        Assert.Equal(ok ? value : TestApic.XApicBase | ApicBase.BspBit, apic.ApicBaseMsr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Extd_is_reserved_without_x2apic_in_cpuid(bool hostInitiated)
    {
        var apic = TestApic.Create(config: new ApicConfig { X2ApicSupported = false }, bsp: false);
        Assert.False(apic.SetApicBase(TestApic.X2ApicBase, hostInitiated));
        Assert.Equal(ApicMode.XApic, apic.Mode);
    }

    [Fact]
    public void The_bsp_bit_is_writable_and_decides_who_runs_after_init()
    {
        var vcpu = new Vcpu(1, new ApicConfig(), new VirtualClock());
        Assert.Equal(TestApic.XApicBase, vcpu.Apic.ApicBaseMsr); // vCPU 1 is not the reset BSP

        Assert.True(vcpu.TryWriteMsr(ApicBase.Msr, TestApic.XApicBase | ApicBase.BspBit));
        Assert.True(vcpu.TryReadMsr(ApicBase.Msr, out ulong value));
        Assert.Equal(TestApic.XApicBase | ApicBase.BspBit, value);

        vcpu.OnInit();
        Assert.Equal(GuestEventKind.Init, vcpu.Take().Kind);
        Assert.Equal(VcpuRunState.Running, vcpu.State); // BSP by the bit it now has

        Assert.True(vcpu.TryWriteMsr(ApicBase.Msr, TestApic.XApicBase));
        vcpu.OnInit();
        Assert.Equal(GuestEventKind.Init, vcpu.Take().Kind);
        Assert.Equal(VcpuRunState.WaitForSipi, vcpu.State);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(255)]
    [InlineData(300)] // the 8-bit xAPIC ID is the vCPU index truncated (KVM kvm_apic_set_xapic_id takes a u8)
    public void Enabling_rewrites_the_xapic_id_from_the_vcpu_id(int vcpuId)
    {
        var apic = TestApic.Create(id: vcpuId, bsp: false);
        apic.MmioWrite(ApicOffset.Id, 0x4200_0000, 4);
        Assert.Equal(0x42u, apic.ApicId);
        Assert.True(apic.SetApicBase(TestApic.DisabledBase, hostInitiated: false));
        Assert.Equal(0x4200_0000u, apic.Page.Read(ApicOffset.Id)); // kvm: disabling keeps every register

        Assert.True(apic.SetApicBase(TestApic.XApicBase, hostInitiated: false));

        Assert.Equal((uint)(vcpuId & 0xFF) << 24, apic.Read(ApicOffset.Id));
        Assert.Equal((byte)vcpuId, apic.XApicId);
    }

    [Theory]
    [InlineData(0, 0x0000_0001u)]
    [InlineData(1, 0x0000_0002u)]
    [InlineData(15, 0x0000_8000u)]
    [InlineData(16, 0x0001_0001u)]
    [InlineData(17, 0x0001_0002u)]
    [InlineData(0x35, 0x0003_0020u)]
    [InlineData(300, 0x0012_1000u)]
    public void Entering_x2apic_sets_the_32_bit_id_and_the_derived_ldr(int vcpuId, uint ldr)
    {
        var apic = TestApic.Create(id: vcpuId, bsp: false);
        apic.MmioWrite(ApicOffset.Ldr, 0x8000_0000, 4);
        apic.MmioWrite(ApicOffset.Id, 0x7700_0000, 4);

        Assert.True(apic.SetApicBase(TestApic.X2ApicBase, hostInitiated: false));

        Assert.Equal((uint)vcpuId, apic.Read(ApicOffset.Id));
        Assert.Equal(ldr, apic.Read(ApicOffset.Ldr));
        Assert.Equal(((uint)vcpuId >> 4 << 16) | (1u << (vcpuId & 0xF)), ldr); // the formula itself
        Assert.Equal((uint)vcpuId, apic.ApicId);
    }

    [Fact]
    public void Host_return_from_x2apic_to_xapic_restores_the_xapic_id_form()
    {
        var apic = TestApic.Create(ApicMode.X2Apic, id: 5, bsp: false);
        Assert.Equal(5u, apic.Page.Read(ApicOffset.Id));

        Assert.True(apic.SetApicBase(TestApic.XApicBase, hostInitiated: true));

        Assert.Equal(0x0500_0000u, apic.Read(ApicOffset.Id));
        Assert.Equal(5u, apic.ApicId);
    }

    [Fact]
    public void Host_move_from_disabled_straight_to_x2apic_sets_the_x2apic_id_and_ldr()
    {
        var apic = TestApic.Create(ApicMode.Disabled, id: 18, bsp: false);
        Assert.True(apic.SetApicBase(TestApic.X2ApicBase, hostInitiated: true));
        Assert.Equal(18u, apic.Read(ApicOffset.Id));
        Assert.Equal(0x0001_0004u, apic.Read(ApicOffset.Ldr));
    }

    [Fact]
    public void X2apic_to_disabled_to_xapic_comes_back_with_the_xapic_id()
    {
        var apic = TestApic.Create(ApicMode.X2Apic, id: 9, bsp: false);
        Assert.True(apic.SetApicBase(TestApic.DisabledBase, hostInitiated: false));
        Assert.True(apic.SetApicBase(TestApic.XApicBase, hostInitiated: false));
        Assert.Equal(0x0900_0000u, apic.Read(ApicOffset.Id));
    }

    [Fact]
    public void Every_mode_change_marks_the_destination_map_stale_and_raises_mode_changed()
    {
        var apic = TestApic.Create(bsp: false);
        var modes = new List<ApicMode>();
        apic.ModeChanged += a => modes.Add(a.Mode);
        int maps = apic.Host().MapChanges;

        Assert.True(apic.SetApicBase(TestApic.X2ApicBase, false));
        Assert.True(apic.SetApicBase(TestApic.DisabledBase, false));
        Assert.True(apic.SetApicBase(TestApic.XApicBase, false));
        Assert.True(apic.SetApicBase(TestApic.XApicBase | 0x1000_0000, false)); // base move only: no mode change

        Assert.Equal([ApicMode.X2Apic, ApicMode.Disabled, ApicMode.XApic], modes);
        Assert.True(apic.Host().MapChanges >= maps + 4);
    }

    [Fact]
    public void Relocating_the_base_moves_the_mmio_window()
    {
        var vcpu = new Vcpu(0, new ApicConfig { MaxPhysAddr = 36 }, new VirtualClock());
        Assert.True(vcpu.IsApicWindow(0xFEE0_0000));
        Assert.True(vcpu.IsApicWindow(0xFEE0_0FFF));
        Assert.False(vcpu.IsApicWindow(0xFEE0_1000));

        Assert.True(vcpu.TryWriteMsr(ApicBase.Msr, 0x8_FEC0_0000ul | ApicBase.EnableBit | ApicBase.BspBit));

        Assert.Equal(0x8_FEC0_0000ul, vcpu.Apic.BaseAddress);
        Assert.True(vcpu.IsApicWindow(0x8_FEC0_0000));
        Assert.True(vcpu.IsApicWindow(0x8_FEC0_0FFC));
        Assert.False(vcpu.IsApicWindow(0xFEE0_0000));
        Assert.False(vcpu.IsApicWindow(0x8_FEBF_FFFF));
        Assert.Equal(ApicMode.XApic, vcpu.Apic.Mode);
    }

    [Theory]
    [InlineData(ApicMode.Disabled, 0u)]
    [InlineData(ApicMode.XApic, 1u << 9)]
    [InlineData(ApicMode.X2Apic, 1u << 9)]
    public void Cpuid_1_edx_apic_bit_follows_the_enable_bit(ApicMode mode, uint expected)
    {
        var vcpu = new Vcpu(0, new ApicConfig(), new VirtualClock());
        ulong value = mode switch
        {
            ApicMode.Disabled => TestApic.DisabledBase,
            ApicMode.XApic => TestApic.XApicBase,
            _ => TestApic.X2ApicBase,
        };
        Assert.True(vcpu.HostWriteMsr(ApicBase.Msr, value | ApicBase.BspBit));
        Assert.Equal(expected, vcpu.Cpuid(1, 0, CpuidRegister.Edx));
    }
}
