// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>
/// The edges of the register access paths (LocalApic.Registers.cs): byte lanes and lengths, the
/// readable range, ESR bit 7 and bit 5, the x2APIC ICR layouts and MSR range, the MMIO hole,
/// IA32_APIC_BASE side effects and the SVR. Each test pins exact values (SDM vol. 3A 11.4.4, 11.5.3,
/// 11.6.1, 11.12; KVM lapic.c).
/// </summary>
public class RegisterEdgeTests
{
    private static readonly ApicConfig Architectural = new() { Profile = ApicProfile.Architectural };

    private static readonly int[] SixLvts =
        [ApicOffset.LvtTimer, ApicOffset.LvtThermal, ApicOffset.LvtPmc, ApicOffset.LvtLint0, ApicOffset.LvtLint1, ApicOffset.LvtError];

    /// <summary>An ESR write through the guest path of the mode, then the ESR read: the errors it latched.</summary>
    private static uint LatchEsr(LocalApic apic)
    {
        Assert.True(apic.Write(ApicOffset.Esr, 0));
        return apic.Read(ApicOffset.Esr);
    }

    private static ulong Base(ApicMode mode) => mode switch
    {
        ApicMode.Disabled => TestApic.DisabledBase,
        ApicMode.Invalid => ApicBase.DefaultAddress | ApicBase.ExtdBit,
        ApicMode.XApic => TestApic.XApicBase,
        _ => TestApic.X2ApicBase,
    };

    // ------------------------------------------------------------------ TryReadRegister / IsReadable

    [Theory]
    [InlineData(0x20, 4, true, 0xA1B2_C3D4u)]
    [InlineData(0x20, 2, true, 0xC3D4u)]
    [InlineData(0x21, 2, true, 0xB2C3u)]
    [InlineData(0x22, 2, true, 0xA1B2u)]
    [InlineData(0x20, 1, true, 0xD4u)]
    [InlineData(0x21, 1, true, 0xC3u)]
    [InlineData(0x22, 1, true, 0xB2u)]
    [InlineData(0x23, 1, true, 0xA1u)]
    [InlineData(0x23, 2, false, 0u)]
    [InlineData(0x21, 4, false, 0u)]
    [InlineData(0x22, 4, false, 0u)]
    [InlineData(0x23, 4, false, 0u)]
    [InlineData(0x24, 1, false, 0u)]
    [InlineData(0x2C, 4, false, 0u)]
    [InlineData(0x20, 0, false, 0u)]
    [InlineData(0x20, 3, false, 0u)]
    [InlineData(0x21, 3, false, 0u)]
    [InlineData(0x20, 8, false, 0u)]
    [InlineData(0x20, -1, false, 0u)]
    public void A_register_read_is_1_2_or_4_bytes_that_stay_inside_the_dword(int offset, int length, bool ok, uint expected)
    {
        // KVM kvm_lapic_reg_read: len 1/2/4 only, and alignment + len must not pass 4; the value is
        // the dword shifted down by the byte alignment and masked to the length.
        var apic = TestApic.Create();
        apic.Page.Write(ApicOffset.Id, 0xA1B2_C3D4); // four distinct byte lanes
        apic.Page.Write(ApicOffset.Id + 4, 0x5566_7788);

        Assert.Equal(ok, apic.TryReadRegister(offset, length, out uint value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData(ApicOffset.Id, false, true)]
    [InlineData(ApicOffset.Apr, false, true)]
    [InlineData(ApicOffset.Apr, true, false)]
    [InlineData(ApicOffset.Tdcr, false, true)]
    [InlineData(ApicOffset.Tdcr, true, true)]
    [InlineData(0x3F0, false, false)]
    [InlineData(0x3F0, true, false)]
    [InlineData(0x3F4, true, false)]
    [InlineData(0x400, false, false)]
    [InlineData(0x420, false, false)] // would alias ID (bit 2) if the range were not checked
    [InlineData(0x420, true, false)]
    [InlineData(0x10E0, false, false)] // would alias DFR
    [InlineData(-0x3E0, false, false)] // would alias ID
    [InlineData(-1, true, false)]
    [InlineData(int.MinValue + 0x20, false, false)]
    public void Only_offsets_0_to_0x3f0_can_be_readable(int offset, bool x2, bool expected)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic);
        Assert.Equal(expected, apic.IsReadable(offset));
    }

    // ------------------------------------------------------------------ ESR: illegal register address

    public static TheoryData<string> ReservedXApicAccesses() => new() { "read 0x10", "write 0x10", "read 0x3A0", "write 0x3D0", "read 0x800", "write 0x400", "read 0x3F0", "write 0x3F0", "read 0x2F0", "write 0x2F0" };

    [Theory]
    [MemberData(nameof(ReservedXApicAccesses))]
    public void An_xapic_access_to_a_reserved_offset_latches_esr_bit_7_under_the_architectural_profile(string access)
    {
        // SDM 11.5.3: bit 7, illegal register address, for an access to a reserved register.
        var apic = TestApic.Create(config: Architectural);
        switch (access)
        {
            case "read 0x10":
                Assert.False(apic.TryReadRegister(0x10, 4, out _));
                break;
            case "write 0x10":
                apic.MmioWrite(0x10, 0x1234, 4);
                break;
            case "read 0x3A0":
                Assert.Equal(0ul, apic.MmioRead(0x3A0, 4));
                break;
            case "write 0x3D0":
                Assert.False(apic.WriteRegister(0x3D0, 0));
                break;
            case "read 0x800":
                Assert.Equal(0ul, apic.MmioRead(0x800, 4));
                break;
            case "read 0x3F0": // SELF_IPI exists only in x2APIC mode (SDM table 11-6)
                Assert.False(apic.TryReadRegister(ApicOffset.SelfIpi, 4, out _));
                break;
            case "write 0x3F0":
                apic.MmioWrite(ApicOffset.SelfIpi, 0x40, 4);
                Assert.Equal(-1, apic.HighestIrr);
                break;
            case "read 0x2F0": // LVT CMCI exists only with CMCI
                Assert.False(apic.TryReadRegister(ApicOffset.LvtCmci, 4, out _));
                break;
            case "write 0x2F0":
                apic.MmioWrite(ApicOffset.LvtCmci, 0x40, 4);
                break;
            default:
                apic.MmioWrite(0x400, 0, 4);
                break;
        }

        Assert.Equal(0u, apic.Read(ApicOffset.Esr)); // detected, not yet latched
        Assert.Equal(0x80u, LatchEsr(apic));
        Assert.Equal(0u, LatchEsr(apic)); // the latch emptied the pending set
    }

    [Fact]
    public void Reading_a_write_only_or_writing_a_read_only_register_is_ignored_without_an_esr_error()
    {
        var apic = TestApic.Create(config: Architectural);
        Assert.False(apic.TryReadRegister(ApicOffset.Eoi, 4, out _));
        Assert.False(apic.TryReadRegister(ApicOffset.Rrd, 4, out _));
        Assert.False(apic.WriteRegister(ApicOffset.Version, 0xFF));
        Assert.False(apic.WriteRegister(ApicOffset.Ppr, 0xFF));
        Assert.False(apic.WriteRegister(ApicOffset.Isr, 0xFF));
        Assert.False(apic.WriteRegister(ApicOffset.Tmcct, 0xFF));
        apic.MmioWrite(ApicOffset.Rrd, 0xFF, 4);

        Assert.Equal(0u, LatchEsr(apic));
    }

    [Fact]
    public void Lvt_cmci_is_a_register_and_no_error_when_the_cpu_has_cmci()
    {
        var apic = TestApic.Create(config: Architectural with { CmciSupported = true });
        apic.MmioWrite(ApicOffset.LvtCmci, 0x40, 4);

        Assert.True(apic.TryReadRegister(ApicOffset.LvtCmci, 4, out uint value));
        Assert.Equal(0x40u, value);
        Assert.Equal(0u, LatchEsr(apic));
    }

    [Fact]
    public void X2apic_accesses_to_reserved_msrs_fault_without_an_esr_error()
    {
        // x2APIC mode #GPs instead (SDM 11.12.1.2); ESR bit 7 is an xAPIC thing.
        var apic = TestApic.Create(ApicMode.X2Apic, Architectural);
        Assert.False(apic.TryReadX2ApicMsr(0x801, out _));
        Assert.False(apic.TryWriteX2ApicMsr(0x801, 0));
        Assert.False(apic.TryReadX2ApicMsr(0x83A, out _));
        Assert.False(apic.WriteRegister(0x3D0, 0));

        Assert.Equal(0u, LatchEsr(apic));
    }

    [Fact]
    public void The_kvm_profile_records_no_illegal_register_address()
    {
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Kvm });
        Assert.False(apic.TryReadRegister(0x10, 4, out _));
        apic.MmioWrite(0x10, 0x1234, 4);

        Assert.Equal(0u, LatchEsr(apic));
    }

    [Fact]
    public void One_esr_write_latches_every_error_detected_since_the_last()
    {
        var apic = TestApic.Create(config: Architectural);
        apic.Host().Loopback = false;
        apic.MmioWrite(0x10, 0, 4);                  // bit 7
        apic.MmioWrite(ApicOffset.Icr, 0x0F, 4);    // bit 5: send illegal vector
        Assert.Empty(apic.Host().Ipis);

        Assert.Equal(0xA0u, LatchEsr(apic));
        Assert.Equal(0u, LatchEsr(apic));
    }

    // ------------------------------------------------------------------ ESR: send illegal vector

    [Theory]
    [InlineData(true, DeliveryMode.Fixed, 15, false)]
    [InlineData(true, DeliveryMode.Fixed, 0, false)]
    [InlineData(true, DeliveryMode.LowestPriority, 15, false)]
    [InlineData(true, DeliveryMode.Fixed, 16, true)]
    [InlineData(true, DeliveryMode.LowestPriority, 16, true)]
    [InlineData(true, DeliveryMode.Nmi, 0, true)]
    [InlineData(true, DeliveryMode.Init, 0, true)]
    [InlineData(false, DeliveryMode.Fixed, 15, true)]
    [InlineData(false, DeliveryMode.Fixed, 0, true)]
    [InlineData(false, DeliveryMode.LowestPriority, 1, true)]
    public void A_fixed_or_lowest_priority_ipi_with_a_vector_below_16_is_not_sent_under_the_architectural_profile(
        bool architectural, DeliveryMode mode, int vector, bool sent)
    {
        // SDM 11.5.3 bit 5, send illegal vector; KVM sends whatever the ICR says.
        var apic = TestApic.Create(config: new ApicConfig { Profile = architectural ? ApicProfile.Architectural : ApicProfile.Kvm });
        apic.Host().Loopback = false;
        uint icr = ((uint)mode << 8) | (uint)vector;
        apic.MmioWrite(ApicOffset.Icr2, 0x0100_0000, 4);

        apic.MmioWrite(ApicOffset.Icr, icr, 4);

        Assert.Equal(sent ? 1 : 0, apic.Host().Ipis.Count);
        if (sent)
        {
            var ipi = apic.Host().Ipis[0];
            Assert.Equal((byte)vector, ipi.Vector);
            Assert.Equal(mode, ipi.DeliveryMode);
            Assert.Equal(1u, ipi.Destination);
        }

        Assert.Equal(icr, apic.Read(ApicOffset.Icr)); // the ICR holds the command either way
        Assert.Equal(architectural && !sent ? 0x20u : 0u, LatchEsr(apic));
    }

    [Fact]
    public void An_x2apic_icr_write_of_an_illegal_vector_completes_but_sends_nothing_under_the_architectural_profile()
    {
        var apic = TestApic.Create(ApicMode.X2Apic, Architectural);
        apic.Host().Loopback = false;

        Assert.True(apic.TryWriteX2ApicMsr(0x830, (1ul << 32) | 0x0F));

        Assert.Empty(apic.Host().Ipis);
        Assert.Equal((1ul << 32) | 0x0F, apic.ReadX2ApicIcr());
        Assert.Equal(0x20u, LatchEsr(apic));
    }

    // ------------------------------------------------------------------ the x2APIC ICR

    [Theory]
    [InlineData(false, 0x0000_0011_0000_4041ul)]
    [InlineData(true, 0x0000_0022_0000_4041ul)]
    public void The_x2apic_icr_reads_the_vendors_page_layout(bool split, ulong expected)
    {
        // AMD: ICR (0x300) + ICR2 (0x310); Intel: one 64-bit value at 0x300 (KVM x2apic_icr_is_split).
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { X2ApicIcrSplit = split });
        apic.Page.Write(ApicOffset.Icr, 0x4041);
        apic.Page.Write(ApicOffset.Icr + 4, 0x11);
        apic.Page.Write(ApicOffset.Icr2, 0x22);

        Assert.Equal(expected, apic.ReadX2ApicIcr());
        Assert.True(apic.TryReadX2ApicMsr(0x830, out ulong msr));
        Assert.Equal(expected, msr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_32_bit_x2apic_icr_write_keeps_the_stored_destination_and_clears_busy(bool split)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { X2ApicIcrSplit = split });
        apic.Host().Loopback = false;
        Assert.True(apic.TryWriteX2ApicMsr(0x830, (7ul << 32) | 0x40));

        Assert.True(apic.WriteRegister(ApicOffset.Icr, Icr.BusyBit | 0x4041));

        Assert.Equal(2, apic.Host().Ipis.Count);
        var ipi = apic.Host().Ipis[1];
        Assert.Equal(7u, ipi.Destination);
        Assert.Equal((byte)0x41, ipi.Vector);
        Assert.Equal((7ul << 32) | 0x4041, apic.ReadX2ApicIcr());
        Assert.Equal(0x4041u, apic.Page.Read(ApicOffset.Icr));
        Assert.Equal(split ? 0u : 7u, apic.Page.Read(ApicOffset.Icr + 4));
        Assert.Equal(7u, apic.Page.Read(ApicOffset.Icr2));

        // The 32-bit path has the same #GP rule as the 64-bit one.
        Assert.False(apic.WriteRegister(ApicOffset.Icr, (1u << 20) | 0x42));
        Assert.False(apic.WriteRegister(ApicOffset.Icr, (1u << 13) | 0x42));
        Assert.Equal(2, apic.Host().Ipis.Count);
        Assert.Equal((7ul << 32) | 0x4041, apic.ReadX2ApicIcr());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_64_bit_x2apic_icr_write_stores_the_value_without_busy_in_the_vendor_layout(bool split)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { X2ApicIcrSplit = split });
        apic.Host().Loopback = false;

        Assert.True(apic.WriteX2ApicIcr(0xFFFF_FFFF_0000_0000ul | Icr.BusyBit | 0x4051));
        Assert.False(apic.WriteX2ApicIcr((1ul << 31) | 0x52));

        var ipi = Assert.Single(apic.Host().Ipis);
        Assert.Equal(0xFFFF_FFFFu, ipi.Destination);
        Assert.Equal(0xFFFF_FFFF_0000_4051ul, apic.ReadX2ApicIcr());
        Assert.Equal(0x4051u, apic.Page.Read(ApicOffset.Icr));
        Assert.Equal(split ? 0u : 0xFFFF_FFFFu, apic.Page.Read(ApicOffset.Icr + 4));
        Assert.Equal(0xFFFF_FFFFu, apic.Page.Read(ApicOffset.Icr2));
    }

    // ------------------------------------------------------------------ the x2APIC MSR range

    [Theory]
    [InlineData(0x7FFu)]
    [InlineData(0x900u)]
    [InlineData(0x1000_0808u)] // would wrap to TPR's offset without the range check
    [InlineData(0x1000_0830u)] // would wrap to the ICR's
    [InlineData(0xF000_0830u)]
    [InlineData(0u)]
    [InlineData(uint.MaxValue)]
    public void Only_msrs_0x800_to_0x8ff_reach_the_x2apic_registers(uint msr)
    {
        var apic = TestApic.Create(ApicMode.X2Apic);
        apic.Host().Loopback = false;
        apic.SetTpr(0x20);

        Assert.False(apic.TryReadX2ApicMsr(msr, out ulong value));
        Assert.Equal(0ul, value);
        Assert.False(apic.TryWriteX2ApicMsr(msr, 0x40));

        Assert.Equal(0x20u, apic.Tpr);
        Assert.Empty(apic.Host().Ipis);
        Assert.Equal(0ul, apic.ReadX2ApicIcr());
    }

    [Theory]
    [InlineData(ApicMode.XApic)]
    [InlineData(ApicMode.Disabled)]
    public void X2apic_msrs_fault_outside_x2apic_mode(ApicMode mode)
    {
        var apic = TestApic.Create(mode);
        apic.Host().Loopback = false;
        apic.SetTpr(0x20);

        Assert.False(apic.TryReadX2ApicMsr(0x808, out ulong value));
        Assert.Equal(0ul, value);
        Assert.False(apic.TryReadX2ApicMsr(0x830, out _));
        Assert.False(apic.TryWriteX2ApicMsr(0x808, 0x40));
        Assert.False(apic.TryWriteX2ApicMsr(0x830, (1ul << 32) | 0x40));

        Assert.Equal(0x20u, apic.Tpr);
        Assert.Empty(apic.Host().Ipis);
    }

    [Theory]
    [InlineData(ApicOffset.Icr, (1ul << 13) | 0x40, true, true)]
    [InlineData(ApicOffset.Icr, (1ul << 16) | 0x40, true, true)]
    [InlineData(ApicOffset.Icr, 0xFFFF_FFFF_0000_0000ul | 0x1040, false, false)] // 64 bits, BUSY tolerated
    [InlineData(ApicOffset.Tpr, 0xFFul, false, false)]
    [InlineData(ApicOffset.Tpr, 0x100ul, false, true)]   // KVM drops bits 31:8; the SDM #GPs
    [InlineData(ApicOffset.Tpr, 1ul << 32, true, true)]  // bits 63:32 always #GP
    [InlineData(ApicOffset.Tpr, 1ul << 63, true, true)]
    [InlineData(ApicOffset.Ppr, 0ul, true, true)]        // read-only
    [InlineData(ApicOffset.Ldr, 0ul, true, true)]        // read-only in x2APIC mode
    [InlineData(ApicOffset.Icr2, 0ul, true, true)]       // absent in x2APIC mode
    [InlineData(0x10, 0ul, true, true)]                  // reserved
    [InlineData(ApicOffset.Esr, 0ul, false, false)]
    [InlineData(ApicOffset.Esr, 1ul, true, true)]        // must be zero everywhere
    [InlineData(ApicOffset.Eoi, 0ul, false, false)]
    [InlineData(ApicOffset.Eoi, 1ul, false, true)]       // KVM accepts a non-zero EOI
    [InlineData(ApicOffset.SelfIpi, 0xFFul, false, false)]
    [InlineData(ApicOffset.SelfIpi, 0x100ul, true, true)]
    [InlineData(ApicOffset.LvtLint0, 0x1_F7FFul, false, false)]
    [InlineData(ApicOffset.LvtLint0, 0x2_0000ul, false, true)]
    public void X2apic_write_faults_follow_the_rows_reserved_bit_rule(int offset, ulong value, bool kvm, bool architectural)
    {
        var k = TestApic.Create(ApicMode.X2Apic);
        var a = TestApic.Create(ApicMode.X2Apic, Architectural);
        Assert.Equal(kvm, k.X2ApicWriteFaults(offset, value));
        Assert.Equal(architectural, a.X2ApicWriteFaults(offset, value));
    }

    // ------------------------------------------------------------------ MMIO

    [Theory]
    [InlineData(ApicMode.X2Apic, 2, 0xFFFFul)]
    [InlineData(ApicMode.X2Apic, 16, ulong.MaxValue)]
    [InlineData(ApicMode.Disabled, 16, ulong.MaxValue)]
    [InlineData(ApicMode.Disabled, 8, ulong.MaxValue)]
    [InlineData(ApicMode.Disabled, 1, 0xFFul)]
    public void The_mmio_hole_reads_all_ones_of_the_access_size(ApicMode mode, int size, ulong expected)
    {
        var apic = TestApic.Create(mode, Architectural);
        Assert.Equal(expected, apic.MmioRead(ApicOffset.Tpr, size));
        Assert.Equal(expected, apic.MmioRead(0x10, size));
    }

    [Fact]
    public void A_dropped_mmio_write_is_not_an_access_and_records_no_error()
    {
        // Only an aligned 4-byte store reaches the register logic (KVM apic_mmio_write).
        var apic = TestApic.Create(config: Architectural);
        apic.MmioWrite(0x14, 0x50, 4);
        apic.MmioWrite(0x10, 0x50, 2);
        apic.MmioWrite(0x10, 0x50, 1);
        apic.MmioWrite(ApicOffset.Tpr + 4, 0x50, 4);
        apic.MmioWrite(ApicOffset.Tpr, 0x50, 2);
        Assert.Equal(0u, apic.Tpr);
        Assert.Equal(0u, LatchEsr(apic));

        apic.MmioWrite(ApicOffset.Tpr, 0x50, 4);
        apic.MmioWrite(0x10, 0x50, 4);
        Assert.Equal(0x50u, apic.Tpr);
        Assert.Equal(0x80u, LatchEsr(apic));
    }

    [Theory]
    [InlineData(0x1080)] // TPR's offset plus a page
    [InlineData(0x7FFF_F080)]
    public void A_store_past_the_page_is_a_reserved_access_not_an_alias(int offset)
    {
        // The same as a load there: MmioRead fails it (IsReadable) and records the error.
        var apic = TestApic.Create(config: Architectural);

        apic.MmioWrite(offset, 0x50, 4);

        Assert.Equal(0u, apic.Tpr);
        Assert.Equal(0x80u, LatchEsr(apic));
        Assert.Equal(0ul, apic.MmioRead(offset, 4));
        Assert.Equal(0x80u, LatchEsr(apic));
    }

    // ------------------------------------------------------------------ IA32_APIC_BASE

    [Theory]
    [InlineData(ApicMode.XApic, ApicMode.X2Apic, false, 1, 1)]
    [InlineData(ApicMode.XApic, ApicMode.Disabled, false, 1, 1)]
    [InlineData(ApicMode.X2Apic, ApicMode.Disabled, false, 1, 1)]
    [InlineData(ApicMode.X2Apic, ApicMode.XApic, true, 2, 1)]   // + the xAPIC ID rewrite
    [InlineData(ApicMode.Disabled, ApicMode.XApic, false, 2, 1)] // + the xAPIC ID rewrite
    [InlineData(ApicMode.Disabled, ApicMode.X2Apic, true, 2, 1)]
    [InlineData(ApicMode.XApic, ApicMode.XApic, false, 0, 0)]    // the current value
    [InlineData(ApicMode.X2Apic, ApicMode.XApic, false, 0, 0)]   // refused
    [InlineData(ApicMode.Disabled, ApicMode.X2Apic, false, 0, 0)]
    [InlineData(ApicMode.XApic, ApicMode.Invalid, true, 0, 0)]
    public void An_apic_base_write_marks_the_map_stale_once_per_change_and_reports_mode_changes(
        ApicMode from, ApicMode to, bool hostInitiated, int mapChanges, int modeChanges)
    {
        var apic = TestApic.Create(from, bsp: false);
        int modes = 0;
        apic.ModeChanged += _ => modes++;
        int maps = apic.Host().MapChanges;

        bool ok = apic.SetApicBase(Base(to), hostInitiated);

        Assert.Equal(mapChanges != 0 || from == to, ok);
        Assert.Equal(maps + mapChanges, apic.Host().MapChanges);
        Assert.Equal(modeChanges, modes);
        Assert.Equal(ok ? to : from, apic.Mode);
    }

    [Fact]
    public void Neither_the_bsp_bit_nor_a_base_move_is_a_mode_change()
    {
        var apic = TestApic.Create(bsp: false);
        int modes = 0;
        apic.ModeChanged += _ => modes++;
        int maps = apic.Host().MapChanges;

        Assert.True(apic.SetApicBase(TestApic.XApicBase | ApicBase.BspBit, hostInitiated: false));
        Assert.True(apic.SetApicBase(0xFEC0_0000ul | ApicBase.EnableBit | ApicBase.BspBit, hostInitiated: false));

        Assert.Equal(0, modes);
        Assert.Equal(maps + 2, apic.Host().MapChanges);
        Assert.Equal(0u, apic.ApicId);
    }

    [Fact]
    public void Reserved_bits_and_en0_extd1_are_refused_without_side_effects()
    {
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { MaxPhysAddr = 36 }, id: 3, bsp: false);
        int modes = 0;
        apic.ModeChanged += _ => modes++;
        int maps = apic.Host().MapChanges;

        Assert.False(apic.SetApicBase(TestApic.X2ApicBase | (1ul << 36), hostInitiated: true));
        Assert.False(apic.SetApicBase(TestApic.X2ApicBase | (1ul << 9), hostInitiated: true));
        Assert.False(apic.SetApicBase(TestApic.X2ApicBase | 1ul, hostInitiated: false));
        Assert.False(apic.SetApicBase(ApicBase.DefaultAddress | ApicBase.ExtdBit, hostInitiated: true));

        Assert.True(apic.SetApicBase(TestApic.X2ApicBase | (1ul << 35), hostInitiated: false));
        Assert.Equal(maps + 1, apic.Host().MapChanges);
        Assert.Equal(0, modes);
        Assert.Equal(3u, apic.Read(ApicOffset.Id));
    }

    [Fact]
    public void A_guest_reaches_x2apic_from_disabled_only_through_xapic()
    {
        var apic = TestApic.Create(ApicMode.Disabled, id: 0x23, bsp: false);
        Assert.False(apic.SetApicBase(TestApic.X2ApicBase, hostInitiated: false));
        Assert.Equal(ApicMode.Disabled, apic.Mode);

        Assert.True(apic.SetApicBase(TestApic.XApicBase, hostInitiated: false));
        Assert.Equal(0x2300_0000u, apic.Read(ApicOffset.Id));
        Assert.True(apic.SetApicBase(TestApic.X2ApicBase, hostInitiated: false));

        Assert.Equal(ApicMode.X2Apic, apic.Mode);
        Assert.Equal(0x23u, apic.Read(ApicOffset.Id));
        Assert.Equal(0x0002_0008u, apic.Read(ApicOffset.Ldr)); // cluster 2, bit 3
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Entering_x2apic_carries_icr2_into_the_high_half_of_the_64_bit_icr(bool split)
    {
        var apic = TestApic.Create(config: new ApicConfig { X2ApicIcrSplit = split }, id: 0x23, bsp: false);
        apic.Host().Loopback = false;
        apic.MmioWrite(ApicOffset.Icr2, 0x0500_0000, 4);
        apic.MmioWrite(ApicOffset.Icr, 0x4041, 4);
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Icr + 4));

        Assert.True(apic.SetApicBase(TestApic.X2ApicBase, hostInitiated: false));

        Assert.Equal(0x0500_0000_0000_4041ul, apic.ReadX2ApicIcr());
        Assert.Equal(split ? 0u : 0x0500_0000u, apic.Page.Read(ApicOffset.Icr + 4));
        Assert.Equal(0x0500_0000u, apic.Page.Read(ApicOffset.Icr2));
        Assert.Equal(0x23u, apic.Page.Read(ApicOffset.Id));
        Assert.Equal(0x0002_0008u, apic.Page.Read(ApicOffset.Ldr));
    }

    [Theory]
    [InlineData(false, 5u, 0x0000_0020u)]
    [InlineData(true, 5u, 0u)]
    public void Leaving_x2apic_for_disabled_keeps_the_x2apic_id_and_resets_only_under_the_architectural_profile(
        bool architectural, uint id, uint ldr)
    {
        var config = new ApicConfig { Profile = architectural ? ApicProfile.Architectural : ApicProfile.Kvm };
        var apic = TestApic.Create(ApicMode.X2Apic, config, id: (int)id, bsp: false);
        int maps = apic.Host().MapChanges;

        Assert.True(apic.SetApicBase(TestApic.DisabledBase, hostInitiated: false));

        Assert.Equal(id, apic.Page.Read(ApicOffset.Id)); // no xAPIC ID rewrite while disabled
        Assert.Equal(ldr, apic.Page.Read(ApicOffset.Ldr));
        Assert.Equal(maps + 1, apic.Host().MapChanges);

        Assert.True(apic.SetApicBase(TestApic.XApicBase, hostInitiated: false));
        Assert.Equal(id << 24, apic.Read(ApicOffset.Id));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_hardware_disable_resets_the_registers_only_under_the_architectural_profile(bool architectural)
    {
        // SDM 11.4.3: clearing IA32_APIC_BASE.EN puts the APIC in its power-up state; KVM keeps the page.
        var config = new ApicConfig { Profile = architectural ? ApicProfile.Architectural : ApicProfile.Kvm };
        var apic = TestApic.Create(config: config, id: 7, bsp: false);
        apic.Host().Loopback = false;
        apic.MmioWrite(ApicOffset.LvtLint1, 0x42, 4);
        apic.MmioWrite(ApicOffset.LvtError, 0x43, 4);
        apic.MmioWrite(ApicOffset.Ldr, 0x0800_0000, 4);
        apic.MmioWrite(ApicOffset.Dfr, 0x0FFF_FFFF, 4);
        apic.MmioWrite(ApicOffset.Tpr, 0x30, 4);
        apic.MmioWrite(ApicOffset.Icr2, 0x0300_0000, 4);

        Assert.True(apic.SetApicBase(TestApic.DisabledBase, hostInitiated: false));

        Assert.Equal(architectural ? 0x1_0000u : 0x42u, apic.Page.Read(ApicOffset.LvtLint1));
        Assert.Equal(architectural ? 0x1_0000u : 0x43u, apic.Page.Read(ApicOffset.LvtError));
        Assert.Equal(architectural ? 0xFFu : TestApic.SvrEnabled, apic.Page.Read(ApicOffset.Svr));
        Assert.Equal(architectural ? 0u : 0x0800_0000u, apic.Page.Read(ApicOffset.Ldr));
        Assert.Equal(architectural ? 0xFFFF_FFFFu : 0x0FFF_FFFFu, apic.Page.Read(ApicOffset.Dfr));
        Assert.Equal(architectural ? 0u : 0x30u, apic.Tpr);
        Assert.Equal(architectural ? 0u : 0x0300_0000u, apic.Page.Read(ApicOffset.Icr2));
        Assert.Equal(!architectural, apic.IsSoftwareEnabled);

        Assert.True(apic.SetApicBase(TestApic.XApicBase, hostInitiated: false));
        Assert.Equal(0x0700_0000u, apic.Read(ApicOffset.Id));
    }

    [Theory]
    [InlineData(0u, 0x0000_0001u)]
    [InlineData(15u, 0x0000_8000u)]
    [InlineData(16u, 0x0001_0001u)]
    [InlineData(0x23u, 0x0002_0008u)]
    [InlineData(0xFFFFFu, 0xFFFF_8000u)]
    [InlineData(0xFFFF_FFFFu, 0xFFFF_8000u)]
    public void The_x2apic_ldr_is_the_cluster_in_31_16_and_one_bit_of_16_in_15_0(uint x2ApicId, uint ldr)
    {
        // SDM 11.12.10.2: LDR = (ID[19:4] << 16) | (1 << ID[3:0]).
        Assert.Equal(ldr, LocalApic.X2ApicLdr(x2ApicId));
    }

    // ------------------------------------------------------------------ SVR and the LVT

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_software_disable_masks_exactly_the_lvt_entries_that_exist(bool cmci)
    {
        // SDM 11.4.7.2; LVT CMCI (0x2F0) is an LVT entry only with CPUID's CMCI.
        var apic = TestApic.Create(config: new ApicConfig { CmciSupported = cmci });
        foreach (int lvt in SixLvts)
        {
            apic.Page.Write(lvt, 0x42);
        }

        apic.Page.Write(ApicOffset.LvtCmci, 0x42);
        int maps = apic.Host().MapChanges;

        Assert.True(apic.WriteRegister(ApicOffset.Svr, 0xFF));

        foreach (int lvt in SixLvts)
        {
            Assert.Equal(0x1_0042u, apic.Page.Read(lvt));
        }

        Assert.Equal(cmci ? 0x1_0042u : 0x42u, apic.Page.Read(ApicOffset.LvtCmci));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tmict));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tmcct)); // the slot after the last LVT is untouched
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Esr));
        Assert.Equal(maps + 1, apic.Host().MapChanges);
    }

    [Theory]
    [InlineData(true, 0x1FFu, 0)]
    [InlineData(true, 0x1EFu, 0)]  // another spurious vector, still enabled
    [InlineData(true, 0xFFu, 1)]
    [InlineData(false, 0xEFu, 0)]
    [InlineData(false, 0x1FFu, 1)]
    public void An_svr_write_marks_the_map_stale_only_when_the_enable_bit_changes(bool enabled, uint svr, int mapChanges)
    {
        var apic = TestApic.Create(softwareEnabled: enabled);
        int maps = apic.Host().MapChanges;

        Assert.True(apic.WriteRegister(ApicOffset.Svr, svr));

        Assert.Equal(maps + mapChanges, apic.Host().MapChanges);
        Assert.Equal(svr, apic.Read(ApicOffset.Svr));
        Assert.Equal((svr & 0x100) != 0, apic.IsSoftwareEnabled);
    }

    [Fact]
    public void A_lint_lvt_write_keeps_the_remote_irr_the_apic_owns_under_the_architectural_profile()
    {
        // SDM 11.5.1: remote IRR is read-only to software; the APIC keeps it until the EOI.
        var apic = TestApic.Create(config: Architectural);
        Assert.True(apic.WriteRegister(ApicOffset.LvtLint0, 0x8040)); // fixed, level, vector 0x40
        Assert.True(apic.DeliverLocal(ApicOffset.LvtLint0));
        Assert.Equal(0xC040u, apic.Read(ApicOffset.LvtLint0));

        Assert.True(apic.WriteRegister(ApicOffset.LvtLint0, 0x8041));
        Assert.True(apic.WriteRegister(ApicOffset.LvtLint1, 0xC042));
        Assert.True(apic.WriteRegister(ApicOffset.LvtError, 0x4043));

        Assert.Equal(0xC041u, apic.Read(ApicOffset.LvtLint0));
        Assert.Equal(0x8042u, apic.Read(ApicOffset.LvtLint1));
        Assert.Equal(0x43u, apic.Read(ApicOffset.LvtError));

        apic.LintRemoteIrrBits = 2; // now LINT1's, not LINT0's
        Assert.True(apic.WriteRegister(ApicOffset.LvtLint0, 0x8041));
        Assert.True(apic.WriteRegister(ApicOffset.LvtLint1, 0x8042));
        Assert.Equal(0x8041u, apic.Read(ApicOffset.LvtLint0));
        Assert.Equal(0xC042u, apic.Read(ApicOffset.LvtLint1));
    }
}
