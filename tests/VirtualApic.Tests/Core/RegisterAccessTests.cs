// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>
/// The register map in both modes: who can read what, which writes fault, what every write keeps
/// (kvm-reference.md 1.1-1.3; SDM vol. 3A tables 11-1 and 11-6).
/// </summary>
public class RegisterAccessTests
{
    public static TheoryData<int, bool, bool> EverySlotBothModes()
    {
        var data = new TheoryData<int, bool, bool>();
        for (int offset = 0; offset <= 0x3F0; offset += 0x10)
        {
            foreach (bool x2 in new[] { false, true })
            {
                data.Add(offset, x2, false);
                data.Add(offset, x2, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EverySlotBothModes))]
    public void Readability_of_every_slot_matches_the_reference(int offset, bool x2, bool cmci)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic, new ApicConfig { CmciSupported = cmci });
        bool expected = RegisterSpec.Readable(offset, x2, cmci);
        if (!expected)
        {
            // Give the slot content, so that a read that "succeeds" would be noticed.
            apic.Page.Write(offset, 0xDEAD_BEEF);
        }

        if (x2)
        {
            Assert.Equal(expected, apic.TryReadX2ApicMsr(ApicOffset.ToMsr(offset), out ulong value));
            if (!expected)
            {
                Assert.Equal(0ul, value);
            }
        }
        else
        {
            Assert.Equal(expected, apic.TryReadRegister(offset, 4, out _));
            ulong mmio = apic.MmioRead(offset, 4);
            Assert.Equal(expected ? apic.ReadRegisterRaw(offset) : 0ul, mmio);
        }
    }

    [Fact]
    public void The_register_table_agrees_with_the_reference_on_who_may_read_and_write()
    {
        for (int offset = 0; offset <= 0x3F0; offset += 0x10)
        {
            var rule = ApicRegisterTable.Find(offset);
            var x = rule?.XApic ?? RegisterAccess.None;
            var x2 = rule?.X2Apic ?? RegisterAccess.None;
            string name = RegisterSpec.Name(offset);
            Assert.True(RegisterSpec.Readable(offset, x2Apic: false, cmci: true) == ((x & RegisterAccess.Read) != 0), $"{name} xAPIC read");
            Assert.True(RegisterSpec.Readable(offset, x2Apic: true, cmci: true) == ((x2 & RegisterAccess.Read) != 0), $"{name} x2APIC read");
            Assert.True(RegisterSpec.XApicWritable(offset, cmci: true) == ((x & RegisterAccess.Write) != 0), $"{name} xAPIC write");
            Assert.True(RegisterSpec.X2ApicWritable(offset, cmci: true) == ((x2 & RegisterAccess.Write) != 0), $"{name} x2APIC write");
            if (rule is { } r)
            {
                Assert.Equal(offset, r.Offset);
                Assert.Equal(ApicRegisterNames.NameOf(offset), r.Name);
            }
        }
    }

    public static TheoryData<uint> MsrsAbove0x83F()
    {
        var data = new TheoryData<uint>();
        for (uint msr = 0x840; msr <= 0x8FF; msr++)
        {
            data.Add(msr);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(MsrsAbove0x83F))]
    public void Msrs_0x840_to_0x8FF_fault_on_read_and_write(uint msr)
    {
        var vcpu = new Vcpu(0, new ApicConfig { CmciSupported = true }, new VirtualClock());
        Assert.True(vcpu.TryWriteMsr(ApicBase.Msr, TestApic.X2ApicBase | ApicBase.BspBit));
        Assert.False(vcpu.TryReadMsr(msr, out _));
        Assert.False(vcpu.TryWriteMsr(msr, 0));
    }

    [Theory]
    [InlineData(0x802u)]
    [InlineData(0x808u)]
    [InlineData(0x80Bu)]
    [InlineData(0x830u)]
    [InlineData(0x83Fu)]
    public void X2apic_msrs_fault_in_xapic_mode(uint msr)
    {
        var vcpu = new Vcpu(0, new ApicConfig(), new VirtualClock());
        Assert.Equal(ApicMode.XApic, vcpu.Apic.Mode);
        Assert.False(vcpu.TryReadMsr(msr, out _));
        Assert.False(vcpu.TryWriteMsr(msr, 0));
    }

    public static TheoryData<int, bool> EverySlotWithCmci()
    {
        var data = new TheoryData<int, bool>();
        for (int offset = 0; offset <= 0x3F0; offset += 0x10)
        {
            data.Add(offset, false);
            data.Add(offset, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EverySlotWithCmci))]
    public void X2apic_wrmsr_of_zero_faults_exactly_where_the_reference_says(int offset, bool cmci)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { CmciSupported = cmci });
        Assert.Equal(RegisterSpec.X2ApicWritable(offset, cmci), apic.TryWriteX2ApicMsr(ApicOffset.ToMsr(offset), 0));
    }

    [Theory]
    [MemberData(nameof(EverySlotWithCmci))]
    public void Xapic_register_writes_succeed_exactly_where_the_reference_says(int offset, bool cmci)
    {
        var apic = TestApic.Create(ApicMode.XApic, new ApicConfig { CmciSupported = cmci });
        Assert.Equal(RegisterSpec.XApicWritable(offset, cmci), apic.WriteRegister(offset, 0));
    }

    public static TheoryData<int, bool> ReadOnlyRegistersBothModes()
    {
        var data = new TheoryData<int, bool>();
        foreach (int offset in RegisterSpec.ReadOnly)
        {
            data.Add(offset, false);
            if (offset != ApicOffset.Apr)
            {
                data.Add(offset, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ReadOnlyRegistersBothModes))]
    public void Writes_to_read_only_registers_are_dropped_or_fault(int offset, bool x2)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic);
        apic.SetTpr(0x20);
        apic.PutInService(0x41);
        Assert.True(apic.Raise(0x91, TriggerMode.Level));
        Assert.True(apic.Write(ApicOffset.Tmict, 1000));
        uint before = apic.Read(offset);

        bool ok = apic.Write(offset, 0xFFFF_FFFF);

        Assert.Equal(!x2, ok); // MMIO drops silently; WRMSR #GPs
        Assert.Equal(before, apic.Read(offset));
    }

    public static TheoryData<int, uint, bool> WriteMaskRows()
    {
        var data = new TheoryData<int, uint, bool>();
        foreach (var row in RegisterSpec.WriteMasks)
        {
            foreach (uint pattern in RegisterSpec.Patterns)
            {
                data.Add(row.Offset, pattern, false);
                if (row.X2Apic)
                {
                    data.Add(row.Offset, pattern, true);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(WriteMaskRows))]
    public void A_write_keeps_exactly_the_bits_of_the_reference_mask(int offset, uint value, bool x2)
    {
        var row = Array.Find(RegisterSpec.WriteMasks, r => r.Offset == offset);
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic);
        apic.Host().Loopback = false;

        Assert.True(apic.Write(offset, value));

        Assert.Equal((value & row.And) | row.Or, apic.Read(offset));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Id_ldr_dfr_and_icr2_fault_in_x2apic_mode(bool cmci)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { CmciSupported = cmci }, id: 3, bsp: false);
        foreach (int offset in new[] { ApicOffset.Id, ApicOffset.Ldr, ApicOffset.Dfr, ApicOffset.Icr2 })
        {
            Assert.False(apic.TryWriteX2ApicMsr(ApicOffset.ToMsr(offset), 0x0300_0000), RegisterSpec.Name(offset));
        }

        Assert.Equal(3u, apic.Read(ApicOffset.Id));
        Assert.Equal(LocalApic.X2ApicLdr(3), apic.Read(ApicOffset.Ldr));
    }

    [Theory]
    [InlineData(false, 0x0000_0000u)]
    [InlineData(false, 0xFFFF_FFFFu)]
    [InlineData(false, 0x5A5A_5A5Au)]
    [InlineData(true, 0xFFFF_FFFFu)]
    [InlineData(true, 0x0000_1234u)]
    public void Lvt_cmci_exists_only_with_cmci_and_keeps_0x117FF(bool x2, uint value)
    {
        var with = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic, new ApicConfig { CmciSupported = true });
        Assert.True(with.Write(ApicOffset.LvtCmci, value));
        Assert.Equal(value & 0x117FFu, with.Read(ApicOffset.LvtCmci));

        var without = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic, new ApicConfig { CmciSupported = false });
        uint slot = without.Page.Read(ApicOffset.LvtCmci);
        Assert.Equal(!x2, without.Write(ApicOffset.LvtCmci, value));
        Assert.Equal(slot, without.Page.Read(ApicOffset.LvtCmci));
        Assert.False(without.TryReadRegister(ApicOffset.LvtCmci, 4, out _));
    }

    [Theory]
    [InlineData(0xFFFF_FFFFu, 0x0003_10FFu)]
    [InlineData(0x0004_0030u, 0x0000_0030u)]
    [InlineData(0x0006_0030u, 0x0002_0030u)]
    [InlineData(0x0002_0030u, 0x0002_0030u)]
    public void Without_tsc_deadline_the_timer_mode_field_is_one_bit(uint value, uint expected)
    {
        var apic = TestApic.Create(config: new ApicConfig { TscDeadlineSupported = false });
        apic.MmioWrite(ApicOffset.LvtTimer, value, 4);
        Assert.Equal(expected, apic.Read(ApicOffset.LvtTimer));
        Assert.NotEqual(TimerMode.TscDeadline, apic.Timer.Mode);
    }

    [Theory]
    [InlineData(false, false, 0x0005_0014u)]
    [InlineData(true, false, 0x0006_0014u)]
    [InlineData(false, true, 0x0105_0014u)]
    [InlineData(true, true, 0x0106_0014u)]
    public void Lvr_reports_version_0x14_the_lvt_count_and_directed_eoi(bool cmci, bool directedEoi, uint expected)
    {
        var config = new ApicConfig { CmciSupported = cmci, DirectedEoiSupported = directedEoi };
        Assert.Equal(expected, TestApic.Create(config: config).Read(ApicOffset.Version));
        Assert.Equal(expected, TestApic.Create(ApicMode.X2Apic, config).Read(ApicOffset.Version));
    }

    [Theory]
    [InlineData(false, false, 0x11FFu, 0x01FFu)]
    [InlineData(false, true, 0x11FFu, 0x11FFu)]
    [InlineData(true, false, 0xFFFF_FFFFu, 0x03FFu)]
    [InlineData(true, true, 0xFFFF_FFFFu, 0x13FFu)]
    public void Svr_bit_12_is_writable_only_with_directed_eoi(bool x2, bool directedEoi, uint value, uint expected)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic, new ApicConfig { DirectedEoiSupported = directedEoi });
        Assert.True(apic.Write(ApicOffset.Svr, value));
        Assert.Equal(expected, apic.Read(ApicOffset.Svr));
        Assert.Equal(directedEoi && (value & 0x1000) != 0, apic.SuppressEoiBroadcast);
    }

    // ------------------------------------------------------------------ side effects

    [Theory]
    [InlineData(false, 0x35u, -1, 0x35u)]
    [InlineData(false, 0x35u, 0x51, 0x50u)]
    [InlineData(false, 0x55u, 0x51, 0x55u)]
    [InlineData(true, 0x5Fu, 0x51, 0x5Fu)]
    [InlineData(true, 0x4Fu, 0x51, 0x50u)]
    [InlineData(true, 0x1FFu, -1, 0xFFu)]
    public void A_tpr_write_recomputes_ppr(bool x2, uint tpr, int inService, uint expectedPpr)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic);
        if (inService >= 0)
        {
            apic.PutInService((byte)inService);
        }

        Assert.True(apic.Write(ApicOffset.Tpr, tpr));

        Assert.Equal(tpr & 0xFF, apic.Read(ApicOffset.Tpr));
        Assert.Equal(expectedPpr, apic.Ppr);
        Assert.Equal(expectedPpr, apic.Read(ApicOffset.Ppr));
    }

    private static readonly int[] Lvts =
        [ApicOffset.LvtTimer, ApicOffset.LvtThermal, ApicOffset.LvtPmc, ApicOffset.LvtLint0, ApicOffset.LvtLint1, ApicOffset.LvtError, ApicOffset.LvtCmci];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Software_disable_masks_every_lvt_and_keeps_them_masked(bool x2)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic, new ApicConfig { CmciSupported = true });
        for (int i = 0; i < Lvts.Length; i++)
        {
            Assert.True(apic.Write(Lvts[i], 0x40u + (uint)i));
            Assert.Equal(0x40u + (uint)i, apic.Read(Lvts[i]));
        }

        Assert.True(apic.Write(ApicOffset.Svr, 0xFF));

        for (int i = 0; i < Lvts.Length; i++)
        {
            Assert.Equal(Lvt.MaskedBit | (0x40u + (uint)i), apic.Read(Lvts[i]));
            Assert.True(apic.Write(Lvts[i], 0x50u + (uint)i)); // mask stays forced while SW-disabled
            Assert.Equal(Lvt.MaskedBit | (0x50u + (uint)i), apic.Read(Lvts[i]));
        }

        Assert.True(apic.Write(ApicOffset.Svr, TestApic.SvrEnabled));
        Assert.True(Lvts.All(o => (apic.Read(o) & Lvt.MaskedBit) != 0)); // re-enabling unmasks nothing
        Assert.True(apic.Write(ApicOffset.LvtLint1, 0x66));
        Assert.Equal(0x66u, apic.Read(ApicOffset.LvtLint1));
    }

    [Theory]
    [InlineData(false, 0u)]
    [InlineData(false, 0xFFFF_FFFFu)]
    [InlineData(true, 0u)]
    public void An_eoi_write_retires_the_highest_in_service_vector(bool x2, uint value)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic);
        apic.PutInService(0x51);
        apic.PutInService(0x61);

        Assert.True(apic.Write(ApicOffset.Eoi, value));

        Assert.False(apic.IsrHas(0x61));
        Assert.True(apic.IsrHas(0x51));
        Assert.Equal(0x50u, apic.Read(ApicOffset.Ppr));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Self_ipi_delivers_to_self_and_leaves_the_icr_alone(bool splitIcr)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { X2ApicIcrSplit = splitIcr });
        ulong icr = (5ul << 32) | 0x33; // fixed, physical, to APIC 5: not us
        Assert.True(apic.TryWriteX2ApicMsr(0x830, icr));
        Assert.False(apic.IrrHas(0x33));

        Assert.True(apic.TryWriteX2ApicMsr(0x83F, 0x47));

        Assert.True(apic.IrrHas(0x47));
        Assert.True(apic.TryReadX2ApicMsr(0x830, out ulong after));
        Assert.Equal(icr, after);
        var sent = apic.Host().Ipis[^1];
        Assert.Equal((byte)0x47, sent.Vector);
        Assert.Equal(DestinationShorthand.Self, sent.Shorthand);
        Assert.Equal(DeliveryMode.Fixed, sent.DeliveryMode);
    }

    [Theory]
    [InlineData(0x100ul)]
    [InlineData(0x8000_0047ul)]
    [InlineData(0x1_0000_0047ul)]
    public void Self_ipi_with_bits_above_7_faults_and_sends_nothing(ulong value)
    {
        var apic = TestApic.Create(ApicMode.X2Apic);
        Assert.False(apic.TryWriteX2ApicMsr(0x83F, value));
        Assert.Empty(apic.Host().Ipis);
        Assert.Equal(-1, apic.HighestIrr);
    }

    [Fact]
    public void Self_ipi_is_absent_in_xapic_mode()
    {
        var apic = TestApic.Create();
        apic.MmioWrite(ApicOffset.SelfIpi, 0x47, 4);
        Assert.Empty(apic.Host().Ipis);
        Assert.False(apic.IrrHas(0x47));
        Assert.False(apic.WriteRegister(ApicOffset.SelfIpi, 0x47));
    }

    [Theory]
    [InlineData(false, 0u, true)]
    [InlineData(false, 0xFFu, true)]
    [InlineData(true, 0u, true)]
    [InlineData(true, 1u, false)]
    [InlineData(true, 0x8000_0000u, false)]
    public void Esr_writes_are_no_ops_except_non_zero_x2apic_writes_fault(bool x2, uint value, bool ok)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic);
        Assert.Equal(ok, x2 ? apic.TryWriteX2ApicMsr(0x828, value) : apic.WriteRegister(ApicOffset.Esr, value));
        Assert.Equal(0u, apic.Read(ApicOffset.Esr));
    }

    public static TheoryData<int> X2ApicIcrReservedBits()
    {
        var data = new TheoryData<int> { 13, 16, 17 };
        for (int bit = 20; bit <= 31; bit++)
        {
            data.Add(bit);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(X2ApicIcrReservedBits))]
    public void X2apic_icr_reserved_bits_fault_and_send_nothing(int bit)
    {
        var apic = TestApic.Create(ApicMode.X2Apic);
        Assert.True(apic.TryWriteX2ApicMsr(0x830, (7ul << 32) | 0x40));
        int sent = apic.Host().Ipis.Count;

        Assert.False(apic.TryWriteX2ApicMsr(0x830, (1ul << bit) | 0x41));

        Assert.Equal(sent, apic.Host().Ipis.Count);
        Assert.True(apic.TryReadX2ApicMsr(0x830, out ulong icr));
        Assert.Equal((7ul << 32) | 0x40, icr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void X2apic_icr_busy_is_tolerated_cleared_and_sent_once(bool splitIcr)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { X2ApicIcrSplit = splitIcr });
        ulong value = (0x1234ul << 32) | Icr.BusyBit | (1u << 14) | 0x40;

        Assert.True(apic.TryWriteX2ApicMsr(0x830, value));

        var sent = Assert.Single(apic.Host().Ipis);
        Assert.Equal(0x1234u, sent.Destination);
        Assert.Equal((byte)0x40, sent.Vector);
        Assert.True(apic.TryReadX2ApicMsr(0x830, out ulong icr));
        Assert.Equal(value & ~(ulong)Icr.BusyBit, icr);
        if (splitIcr)
        {
            Assert.Equal(0x1234u, apic.Page.Read(ApicOffset.Icr2));
            Assert.Equal(0u, apic.Page.Read(ApicOffset.Icr + 4));
        }
        else
        {
            Assert.Equal(0x1234u, apic.Page.Read(ApicOffset.Icr + 4));
            Assert.Equal(0x1234u, apic.Page.Read(ApicOffset.Icr2)); // mirrored: ICR2 is layout-independent
        }
    }

    [Fact]
    public void Xapic_icr_write_sends_to_the_icr2_destination_and_reads_back_not_busy()
    {
        var apic = TestApic.Create();
        apic.MmioWrite(ApicOffset.Icr2, 0x0312_3456, 4);
        apic.MmioWrite(ApicOffset.Icr, Icr.BusyBit | (1u << 11) | 0x4000 | 0x55, 4);

        var sent = Assert.Single(apic.Host().Ipis);
        Assert.Equal(3u, sent.Destination);
        Assert.Equal(DestinationMode.Logical, sent.DestinationMode);
        Assert.Equal((byte)0x55, sent.Vector);
        Assert.Equal(0x0300_0000u, apic.Read(ApicOffset.Icr2));
        Assert.Equal((1u << 11) | 0x4000 | 0x55u, apic.Read(ApicOffset.Icr));
    }

    public static TheoryData<int> X2ApicWritableExceptIcr()
    {
        var data = new TheoryData<int>();
        for (int offset = 0; offset <= 0x3F0; offset += 0x10)
        {
            if (offset != ApicOffset.Icr && RegisterSpec.X2ApicWritable(offset, cmci: true))
            {
                data.Add(offset);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(X2ApicWritableExceptIcr))]
    public void X2apic_writes_with_bits_63_32_set_fault_except_the_icr(int offset)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { CmciSupported = true });
        apic.PutInService(0x51);
        uint before = apic.ReadRegisterRaw(offset);

        Assert.False(apic.TryWriteX2ApicMsr(ApicOffset.ToMsr(offset), (1ul << 32) | 0x30));

        Assert.Equal(before, apic.ReadRegisterRaw(offset));
        Assert.True(apic.IsrHas(0x51)); // in particular, no EOI happened
        Assert.Empty(apic.Host().Ipis);
    }

    // ------------------------------------------------------------------ MMIO rules

    [Theory]
    [InlineData(ApicOffset.Tpr, 1)]
    [InlineData(ApicOffset.Tpr, 2)]
    [InlineData(ApicOffset.Tpr, 8)]
    [InlineData(ApicOffset.Tpr + 1, 1)]
    [InlineData(ApicOffset.Tpr + 4, 4)]
    [InlineData(ApicOffset.Tpr + 8, 4)]
    [InlineData(ApicOffset.Tpr + 0xC, 4)]
    [InlineData(ApicOffset.Tpr + 2, 4)]
    public void Mmio_writes_other_than_aligned_dwords_are_dropped(int offset, int size)
    {
        var apic = TestApic.Create();
        apic.MmioWrite(offset, 0x5050_5050, size);
        Assert.Equal(0u, apic.Read(ApicOffset.Tpr));
        Assert.Equal(0u, apic.Ppr);
    }

    [Theory]
    [InlineData(0x380, 4, 0x1234_5678u)]
    [InlineData(0x380, 1, 0x78u)]
    [InlineData(0x381, 1, 0x56u)]
    [InlineData(0x382, 1, 0x34u)]
    [InlineData(0x383, 1, 0x12u)]
    [InlineData(0x380, 2, 0x5678u)]
    [InlineData(0x381, 2, 0x3456u)]
    [InlineData(0x382, 2, 0x1234u)]
    public void Mmio_reads_of_one_two_or_four_bytes_inside_a_dword_see_those_bytes(int offset, int size, uint expected)
    {
        var apic = TestApic.Create();
        apic.MmioWrite(ApicOffset.Tmict, 0x1234_5678, 4);
        Assert.Equal(expected, apic.MmioRead(offset, size));
    }

    [Theory]
    [InlineData(0x383, 2)]
    [InlineData(0x382, 4)]
    [InlineData(0x381, 4)]
    [InlineData(0x384, 1)]
    [InlineData(0x384, 4)]
    [InlineData(0x38C, 4)]
    [InlineData(0x380, 8)]
    [InlineData(0x380, 3)]
    public void Mmio_reads_that_straddle_or_miss_the_dword_fail_and_read_zero(int offset, int size)
    {
        var apic = TestApic.Create();
        apic.MmioWrite(ApicOffset.Tmict, 0xFFFF_FFFF, 4);
        apic.Page.Write((offset & 0xFF0) + 4, 0xFFFF_FFFF);
        Assert.Equal(0ul, apic.MmioRead(offset, size));
    }

    [Theory]
    [InlineData(ApicMode.Disabled, 1, 0xFFul)]
    [InlineData(ApicMode.Disabled, 2, 0xFFFFul)]
    [InlineData(ApicMode.Disabled, 4, 0xFFFF_FFFFul)]
    [InlineData(ApicMode.Disabled, 8, ulong.MaxValue)]
    [InlineData(ApicMode.X2Apic, 1, 0xFFul)]
    [InlineData(ApicMode.X2Apic, 4, 0xFFFF_FFFFul)]
    [InlineData(ApicMode.X2Apic, 8, ulong.MaxValue)]
    public void The_mmio_window_is_a_hole_of_all_ones_when_disabled_or_in_x2apic_mode(ApicMode mode, int size, ulong expected)
    {
        var apic = TestApic.Create(mode);
        foreach (int offset in new[] { ApicOffset.Id, ApicOffset.Version, ApicOffset.Eoi, 0x10, ApicOffset.Tpr, 0xFF8 })
        {
            Assert.Equal(expected, apic.MmioRead(offset, size));
        }
    }

    [Theory]
    [InlineData(ApicMode.Disabled)]
    [InlineData(ApicMode.X2Apic)]
    public void Mmio_writes_into_the_hole_are_dropped(ApicMode mode)
    {
        var apic = TestApic.Create(mode);
        apic.MmioWrite(ApicOffset.Tpr, 0x50, 4);
        apic.MmioWrite(ApicOffset.LvtLint1, 0x42, 4);
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tpr));
        Assert.NotEqual(0x42u, apic.Page.Read(ApicOffset.LvtLint1));
    }
}
