// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;

namespace VirtualApic.Tests.RegisterLayout;

/// <summary>
/// The register layouts decode every field from the bits the SDM gives it, and nothing else:
/// each value below sets one field to a distinct pattern among others, so a field read from a
/// neighbouring bit or with a wrong width reads a different value.
/// </summary>
public class RegisterLayoutTests
{
    // SDM Figure 11-12: vector 7:0, delivery mode 10:8, destination mode 11, delivery status 12,
    // level 14, trigger mode 15, shorthand 19:18; destination 63:56 (xAPIC) or 63:32 (x2APIC).
    [Theory]
    [InlineData(0x0000_0000_0000_00F1ul, 0xF1, DeliveryMode.Fixed, DestinationMode.Physical, false, false, TriggerMode.Edge, DestinationShorthand.None)]
    [InlineData(0x0000_0000_0000_0500ul, 0x00, DeliveryMode.Init, DestinationMode.Physical, false, false, TriggerMode.Edge, DestinationShorthand.None)]
    [InlineData(0x0000_0000_0000_0630ul, 0x30, DeliveryMode.StartUp, DestinationMode.Physical, false, false, TriggerMode.Edge, DestinationShorthand.None)]
    [InlineData(0x0000_0000_0000_0800ul, 0x00, DeliveryMode.Fixed, DestinationMode.Logical, false, false, TriggerMode.Edge, DestinationShorthand.None)]
    [InlineData(0x0000_0000_0000_1000ul, 0x00, DeliveryMode.Fixed, DestinationMode.Physical, true, false, TriggerMode.Edge, DestinationShorthand.None)]
    [InlineData(0x0000_0000_0000_4000ul, 0x00, DeliveryMode.Fixed, DestinationMode.Physical, false, true, TriggerMode.Edge, DestinationShorthand.None)]
    [InlineData(0x0000_0000_0000_8000ul, 0x00, DeliveryMode.Fixed, DestinationMode.Physical, false, false, TriggerMode.Level, DestinationShorthand.None)]
    [InlineData(0x0000_0000_0004_0000ul, 0x00, DeliveryMode.Fixed, DestinationMode.Physical, false, false, TriggerMode.Edge, DestinationShorthand.Self)]
    [InlineData(0x0000_0000_000C_0000ul, 0x00, DeliveryMode.Fixed, DestinationMode.Physical, false, false, TriggerMode.Edge, DestinationShorthand.AllExcludingSelf)]
    [InlineData(0x0000_0000_000B_C7FFul, 0xFF, DeliveryMode.ExtInt, DestinationMode.Physical, false, true, TriggerMode.Level, DestinationShorthand.AllIncludingSelf)]
    public void ICR_fields_decode_from_their_bits(ulong raw, int vector, DeliveryMode mode, DestinationMode destinationMode, bool busy, bool level, TriggerMode trigger, DestinationShorthand shorthand)
    {
        var icr = new Icr(raw);

        Assert.Equal(vector, icr.Vector);
        Assert.Equal(mode, icr.DeliveryMode);
        Assert.Equal(destinationMode, icr.DestinationMode);
        Assert.Equal(busy, icr.Busy);
        Assert.Equal(level, icr.Level);
        Assert.Equal(trigger, icr.TriggerMode);
        Assert.Equal(shorthand, icr.Shorthand);
    }

    [Fact]
    public void ICR_destination_is_bits_63_56_in_xAPIC_and_the_whole_high_dword_in_x2APIC()
    {
        var icr = new Icr(0xA5C3_0102_0000_0041ul);

        Assert.Equal(0xA5u, icr.XApicDestination);
        Assert.Equal(0xA5C3_0102u, icr.X2ApicDestination);
        Assert.Equal(0xA5C3_0102u, icr.High);
        Assert.Equal(0x41u, icr.Low);
    }

    [Fact]
    public void ICR_create_places_every_field_at_its_bits()
    {
        var icr = Icr.Create(0x5A, DeliveryMode.Nmi, DestinationMode.Logical, DestinationShorthand.AllExcludingSelf, level: true, TriggerMode.Level, destinationHigh: 0x8000_0001);

        Assert.Equal(0x8000_0001_000C_CC5Aul, icr.Raw);
        Assert.Equal(0x5Aul, Icr.Create(0x5A, level: false).Raw); // a de-assert: bit 14 clear
        Assert.Equal(0x405Aul, Icr.Create(0x5A).Raw);              // the default is an assert
    }

    [Fact]
    public void x2APIC_ICR_reserved_bits_are_31_20_17_16_and_13_and_BUSY_is_bit_12()
    {
        // SDM 11.12.9: in x2APIC mode bits 31:20, 17:16 and 13 of the ICR are reserved; BUSY (12)
        // no longer exists but is not reserved either.
        Assert.Equal(0xFFF3_2000ul, Icr.X2ApicReservedBits);
        Assert.Equal(0x1000u, Icr.BusyBit);
    }

    // SDM Figure 11-8: vector 7:0, delivery mode 10:8, level 15, mask 16, timer mode 18:17.
    [Theory]
    [InlineData(0x0000_00EFu, 0xEF, DeliveryMode.Fixed, false, TriggerMode.Edge, TimerMode.OneShot)]
    [InlineData(0x0000_0400u, 0x00, DeliveryMode.Nmi, false, TriggerMode.Edge, TimerMode.OneShot)]
    [InlineData(0x0000_8700u, 0x00, DeliveryMode.ExtInt, false, TriggerMode.Level, TimerMode.OneShot)]
    [InlineData(0x0001_0000u, 0x00, DeliveryMode.Fixed, true, TriggerMode.Edge, TimerMode.OneShot)]
    [InlineData(0x0002_0000u, 0x00, DeliveryMode.Fixed, false, TriggerMode.Edge, TimerMode.Periodic)]
    [InlineData(0x0004_0000u, 0x00, DeliveryMode.Fixed, false, TriggerMode.Edge, TimerMode.TscDeadline)]
    [InlineData(0x000F_7FFFu, 0xFF, DeliveryMode.ExtInt, true, TriggerMode.Edge, TimerMode.Reserved)]
    public void LVT_fields_decode_from_their_bits(uint raw, int vector, DeliveryMode mode, bool masked, TriggerMode trigger, TimerMode timerMode)
    {
        var lvt = new Lvt(raw);

        Assert.Equal(vector, lvt.Vector);
        Assert.Equal(mode, lvt.DeliveryMode);
        Assert.Equal(masked, lvt.Masked);
        Assert.Equal(trigger, lvt.TriggerMode);
        Assert.Equal(timerMode, lvt.TimerMode);
    }

    // SDM 11.4.4 / 11.12.1: BSP is bit 8, EXTD bit 10, EN bit 11; EN=0 with EXTD=1 is invalid.
    [Theory]
    [InlineData(0x0000_0000ul, ApicMode.Disabled, false)]
    [InlineData(0x0000_0400ul, ApicMode.Invalid, false)]
    [InlineData(0x0000_0800ul, ApicMode.XApic, false)]
    [InlineData(0x0000_0C00ul, ApicMode.X2Apic, false)]
    [InlineData(0xFEE0_0900ul, ApicMode.XApic, true)]
    public void IA32_APIC_BASE_mode_and_BSP_decode_from_their_bits(ulong raw, ApicMode mode, bool bsp)
    {
        var apicBase = new ApicBase(raw);

        Assert.Equal(mode, apicBase.Mode);
        Assert.Equal(bsp, apicBase.IsBsp);
    }

    [Fact]
    public void IA32_APIC_BASE_address_is_the_value_without_its_low_12_bits()
    {
        Assert.Equal(0xFEC0_1000ul, new ApicBase(0xFEC0_1D00ul).Address);
        Assert.Equal(0xFEE0_0000ul, ApicBase.DefaultAddress);
    }

    [Fact]
    public void IA32_APIC_BASE_reserves_bits_above_MAXPHYADDR_bits_7_0_and_9_and_EXTD_without_x2APIC()
    {
        Assert.Equal(0x2FFul, ApicBase.AlwaysReservedBits); // 7:0 and 9 (BSP 8, EXTD 10, EN 11 are not)
        Assert.Equal(0xFFFF_FFF0_0000_02FFul, ApicBase.ReservedBits(36, x2ApicSupported: true));
        Assert.Equal(0xFFFF_FFF0_0000_06FFul, ApicBase.ReservedBits(36, x2ApicSupported: false));
        Assert.Equal(0xFFFF_0000_0000_02FFul, ApicBase.ReservedBits(48, x2ApicSupported: true));
        Assert.Equal(0x2FFul, ApicBase.ReservedBits(64, x2ApicSupported: true)); // no address bit is reserved
    }

    [Theory]
    [InlineData(ApicOffset.Id, 0x802u)]
    [InlineData(ApicOffset.Tpr, 0x808u)]
    [InlineData(ApicOffset.Eoi, 0x80Bu)]
    [InlineData(ApicOffset.Icr, 0x830u)]
    [InlineData(ApicOffset.LvtTimer, 0x832u)]
    [InlineData(ApicOffset.SelfIpi, 0x83Fu)]
    public void The_x2APIC_MSR_of_a_register_is_0x800_plus_its_offset_divided_by_16(int offset, uint msr)
    {
        // SDM Table 11-6.
        Assert.Equal(msr, ApicOffset.ToMsr(offset));
        Assert.Equal(offset, ApicOffset.FromMsr(msr));
    }

    [Fact]
    public void Register_names_map_both_ways_ignoring_case_and_the_byte_within_the_register()
    {
        Assert.True(ApicRegisterNames.TryGetOffset("lvt_timer", out int timer));
        Assert.Equal(ApicOffset.LvtTimer, timer);
        Assert.True(ApicRegisterNames.TryGetOffset("IRR7", out int irr7));
        Assert.Equal(0x270, irr7);
        Assert.True(ApicRegisterNames.TryGetOffset("TMR1", out int tmr1));
        Assert.Equal(0x190, tmr1);
        Assert.True(ApicRegisterNames.TryGetOffset("ISR0", out int isr0));
        Assert.Equal(0x100, isr0);
        Assert.False(ApicRegisterNames.TryGetOffset("IRR8", out _));
        Assert.Equal("LVT_TIMER", ApicRegisterNames.NameOf(0x32C));
        Assert.Equal("SELF_IPI", ApicRegisterNames.NameOf(0x3F0));
        Assert.Null(ApicRegisterNames.NameOf(0x10));
        Assert.Equal(48, ApicRegisterNames.All.Count); // 10 + 3 x 8 vector banks + 14
        foreach (var (name, offset) in ApicRegisterNames.All)
        {
            Assert.Equal(name, ApicRegisterNames.NameOf(offset));
        }
    }

    [Fact]
    public void The_register_table_finds_a_row_by_any_offset_in_its_slot_and_none_outside_the_page()
    {
        Assert.Equal("LVT_TIMER", ApicRegisterTable.Find(0x32C)?.Name);
        Assert.Equal("SELF_IPI", ApicRegisterTable.Find(0x3F0)?.Name);
        Assert.Equal("IRR7", ApicRegisterTable.Find(0x270)?.Name);
        Assert.Null(ApicRegisterTable.Find(0x10));  // reserved
        Assert.Null(ApicRegisterTable.Find(0x400)); // outside the architectural registers
        Assert.Null(ApicRegisterTable.Find(-0x10));
        foreach (var row in ApicRegisterTable.Rows)
        {
            Assert.Equal(row, ApicRegisterTable.Find(row.Offset));
            Assert.Equal(row.Name, ApicRegisterNames.NameOf(row.Offset));
        }
    }

    // SDM Figure 11-8: every LVT entry has a read-only delivery status bit (12); only LINT0 and LINT1
    // also have the read-only remote IRR flag (14). These are the bits a guest write leaves alone
    // unless a profile makes them writable (RegisterRule.WritableBitsFor).
    [Fact]
    public void Only_LVT_rows_carry_status_bits_and_only_the_LINT_rows_carry_remote_IRR()
    {
        const uint deliveryStatus = 1u << 12, remoteIrr = 1u << 14;
        int lvtRows = 0;
        foreach (var row in ApicRegisterTable.Rows)
        {
            bool lint = row.Offset is ApicOffset.LvtLint0 or ApicOffset.LvtLint1;
            bool lvt = row.Name.StartsWith("LVT_", StringComparison.Ordinal);
            uint expected = lint ? deliveryStatus | remoteIrr : lvt ? deliveryStatus : 0;
            Assert.True(expected == row.StatusBits, $"{row.Name}: status bits 0x{row.StatusBits:x}, expected 0x{expected:x}");
            lvtRows += lvt ? 1 : 0;
        }

        Assert.Equal(7, lvtRows); // CMCI, timer, thermal, performance, LINT0, LINT1, error
    }

    // Linux virt_destid_8_14 (the extended destination ID): redirection-entry bits 55:49 carry
    // destination bits 14:8; bit 48 is not part of it, and without the extension only 63:56 count.
    [Theory]
    [InlineData(0xAB00_0000_0000_0000ul, false, 0xABu)]
    [InlineData(0xAB00_0000_0000_0000ul, true, 0xABu)]
    [InlineData(0xABFE_0000_0000_0000ul, false, 0xABu)]
    [InlineData(0xABFE_0000_0000_0000ul, true, 0x7FABu)]
    [InlineData(0x0002_0000_0000_0000ul, true, 0x100u)]
    [InlineData(0x0001_0000_0000_0000ul, true, 0u)]
    public void The_IOAPIC_destination_takes_bits_55_49_as_bits_14_8_only_with_the_extended_destination_ID(ulong raw, bool extended, uint expected) =>
        Assert.Equal(expected, new RedirectionEntry(raw).DestinationId(extended));
}
