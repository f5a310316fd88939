// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>PPR, deliverability, acknowledge and EOI ordering (kvm-reference.md 3.2, 3.3; SDM 11.8.3-11.8.5).</summary>
public class PriorityAndEoiTests
{
    [Theory]
    [InlineData(0x00u, -1, 0x00u)]
    [InlineData(0x35u, -1, 0x35u)]
    [InlineData(0x35u, 0x51, 0x50u)]
    [InlineData(0x55u, 0x51, 0x55u)]
    [InlineData(0x5Fu, 0x51, 0x5Fu)]
    [InlineData(0x50u, 0x5F, 0x50u)]
    [InlineData(0x4Fu, 0x51, 0x50u)]
    [InlineData(0x00u, 0xFE, 0xF0u)]
    [InlineData(0xFFu, 0x20, 0xFFu)]
    public void Ppr_is_the_tpr_when_its_class_is_at_least_the_isr_class_else_the_isr_class(uint tpr, int inService, uint ppr)
    {
        var apic = TestApic.Create();
        if (inService >= 0)
        {
            apic.PutInService((byte)inService);
        }

        apic.SetTpr(tpr);

        Assert.Equal(ppr, apic.Ppr);
        Assert.Equal(TestApic.ExpectedPpr(tpr, inService), ppr);
    }

    [Theory]
    [InlineData(0x4Au, -1, -1, 0x4Au)]    // nothing pending or in service: TPR
    [InlineData(0x4Au, 0x45, -1, 0x4Au)]  // TPR's class equal to the IRR's: still TPR (>=)
    [InlineData(0x3Au, 0x45, -1, 0x40u)]  // IRR class above: the IRR class
    [InlineData(0x4Au, -1, 0x41, 0x40u)]  // TPR's class equal to the ISR's: not above it, so the class
    [InlineData(0x5Au, -1, 0x41, 0x5Au)]  // TPR's class above the ISR's: TPR
    [InlineData(0x2Fu, 0x45, 0x61, 0x60u)] // the highest of the three classes
    [InlineData(0x7Fu, 0x45, 0x61, 0x7Fu)] // TPR outranks both
    public void Apr_is_the_tpr_when_it_outranks_irr_and_isr_else_the_highest_class(uint tpr, int pending, int inService, uint apr)
    {
        // SDM 11.8.3 (P6 and Pentium APR), read under the architectural profile; KVM reads 0.
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Architectural });
        if (inService >= 0)
        {
            apic.PutInService((byte)inService);
        }

        if (pending >= 0)
        {
            Assert.True(apic.Raise((byte)pending));
        }

        apic.SetTpr(tpr);

        Assert.Equal(apr, apic.Read(ApicOffset.Apr));
    }

    [Fact]
    public void Apr_reads_zero_under_the_kvm_profile()
    {
        var apic = TestApic.Create();
        apic.SetTpr(0x4A);
        Assert.True(apic.Raise(0x65));

        Assert.Equal(0u, apic.Read(ApicOffset.Apr));
    }

    [Fact]
    public void A_ppr_read_recomputes_it_from_a_tpr_written_into_the_page()
    {
        // A hardware assist's TPR virtualization writes the page's TPR without computing PPR; a read
        // of PPR computes it first (KVM apic_read: APIC_PROCPRI calls apic_update_ppr).
        var apic = TestApic.Create();
        apic.Page.Write(ApicOffset.Tpr, 0x50);

        Assert.Equal(0x50u, apic.Read(ApicOffset.Ppr));
    }

    [Theory]
    [InlineData(0x00u, 0x20, true)]
    [InlineData(0x3Fu, 0x40, true)]
    [InlineData(0x30u, 0x41, true)]
    [InlineData(0x40u, 0x40, false)]
    [InlineData(0x40u, 0x4F, false)]
    [InlineData(0x45u, 0x45, false)]
    [InlineData(0x41u, 0x4F, false)] // whole-PPR compare: class 0x40 is not above PPR 0x41
    [InlineData(0xF0u, 0xFF, false)]
    public void A_vector_is_deliverable_only_when_its_class_is_above_the_whole_ppr(uint tpr, int vector, bool deliverable)
    {
        var apic = TestApic.Create();
        apic.SetTpr(tpr);
        Assert.True(apic.Raise((byte)vector));

        Assert.Equal(deliverable ? vector : -1, apic.PendingVector());
        Assert.Equal(deliverable ? vector : -1, apic.Acknowledge());
        Assert.Equal(!deliverable, apic.IrrHas(vector));
        Assert.Equal(deliverable, apic.IsrHas(vector));
    }

    [Fact]
    public void Only_the_highest_irr_vector_is_offered()
    {
        var apic = TestApic.Create();
        apic.Raise(0x31);
        apic.Raise(0x95);
        apic.Raise(0x62);
        Assert.Equal(0x95, apic.Acknowledge());
        Assert.Equal(-1, apic.Acknowledge()); // 0x62 and 0x31 are below PPR 0x90 now
        Assert.Equal(0x95, apic.EndOfInterrupt().Vector);
        Assert.Equal(0x62, apic.Acknowledge());
    }

    [Fact]
    public void Nested_interrupts_are_taken_by_class_and_retired_in_reverse_order()
    {
        var apic = TestApic.Create();
        apic.PutInService(0x51);
        Assert.Equal(0x50u, apic.Ppr);

        Assert.True(apic.Raise(0x61));
        Assert.Equal(0x61, apic.Acknowledge()); // higher class nests
        Assert.Equal(0x60u, apic.Ppr);
        Assert.True(apic.Raise(0x55));
        Assert.Equal(-1, apic.PendingVector()); // class 0x50 waits

        Assert.Equal(0x61, apic.EndOfInterrupt().Vector);
        Assert.Equal(0x50u, apic.Ppr);
        Assert.Equal(-1, apic.PendingVector()); // same class as the one still in service

        Assert.Equal(0x51, apic.EndOfInterrupt().Vector);
        Assert.Equal(0x00u, apic.Ppr);
        Assert.Equal(0x55, apic.Acknowledge());
        Assert.Equal(0x55, apic.EndOfInterrupt().Vector);
        Assert.Equal(-1, apic.EndOfInterrupt().Vector);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tpr_write_that_lowers_ppr_exposes_a_pending_interrupt(bool x2)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic);
        Assert.True(apic.Write(ApicOffset.Tpr, 0xF0));
        Assert.True(apic.Raise(0x80));
        Assert.Equal(-1, apic.PendingVector());

        Assert.True(apic.Write(ApicOffset.Tpr, 0x70));

        Assert.Equal(0x80, apic.PendingVector());
    }

    [Theory]
    [InlineData(0x0ul, 0x00u)]
    [InlineData(0x5ul, 0x50u)]
    [InlineData(0xFul, 0xF0u)]
    public void Cr8_writes_tpr_bits_7_4_and_reads_them_back(ulong cr8, uint tpr)
    {
        var vcpu = new Vcpu(0, new ApicConfig(), new VirtualClock());
        vcpu.Apic.SetTpr(0x0A); // low nibble is cleared by a CR8 write

        Assert.True(vcpu.WriteCr8(cr8));

        Assert.Equal(tpr, vcpu.Apic.Tpr);
        Assert.Equal(cr8, vcpu.ReadCr8());
        Assert.Equal(tpr, vcpu.Apic.Ppr);
    }

    [Fact]
    public void Cr8_reads_tpr_bits_7_4_whatever_the_low_nibble()
    {
        var vcpu = new Vcpu(0, new ApicConfig(), new VirtualClock());
        vcpu.Apic.MmioWrite(ApicOffset.Tpr, 0x5A, 4);
        Assert.Equal(5ul, vcpu.ReadCr8());
    }

    [Theory]
    [InlineData(0x10ul)]
    [InlineData(0x1Ful)]
    [InlineData(1ul << 63)]
    [InlineData(ulong.MaxValue)]
    public void Cr8_writes_with_reserved_bits_fault_and_change_nothing(ulong cr8)
    {
        var vcpu = new Vcpu(0, new ApicConfig(), new VirtualClock());
        Assert.True(vcpu.WriteCr8(3));
        Assert.False(vcpu.WriteCr8(cr8));
        Assert.Equal(0x30u, vcpu.Apic.Tpr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Eoi_with_nothing_in_service_is_a_harmless_no_op(bool x2)
    {
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic);
        apic.SetIoApicHandled(0x40, true);
        apic.SetTpr(0x20);
        Assert.True(apic.Raise(0x40));

        Assert.Equal(-1, apic.EndOfInterrupt().Vector);
        Assert.True(apic.Write(ApicOffset.Eoi, 0));

        Assert.Empty(apic.Host().Eois);
        Assert.True(apic.IrrHas(0x40));
        Assert.Equal(0x20u, apic.Ppr);
    }

    [Theory]
    [InlineData(TriggerMode.Level)]
    [InlineData(TriggerMode.Edge)]
    public void Eoi_reaches_the_ioapic_only_for_handled_vectors_with_the_tmr_trigger(TriggerMode trigger)
    {
        var apic = TestApic.Create();
        apic.SetIoApicHandled(0x71, true);
        apic.PutInService(0x71, trigger);
        apic.PutInService(0x81, trigger); // not handled by the IOAPIC

        Assert.True(apic.Write(ApicOffset.Eoi, 0));
        Assert.Empty(apic.Host().Eois);

        Assert.True(apic.Write(ApicOffset.Eoi, 0));
        Assert.Equal([((byte)0x71, trigger)], apic.Host().Eois);
    }

    [Fact]
    public void Unmarking_a_vector_stops_its_eoi_forwarding()
    {
        var apic = TestApic.Create();
        apic.SetIoApicHandled(0xC3, true);
        apic.SetIoApicHandled(0xC3, false);
        apic.PutInService(0xC3, TriggerMode.Level);
        Assert.Equal(0xC3, apic.EndOfInterrupt().Vector);
        Assert.Empty(apic.Host().Eois);
        Assert.Equal(0ul, apic.IoApicHandledVectors[3]);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x3F)]
    [InlineData(0x40)]
    [InlineData(0xFF)]
    public void Ioapic_handled_vectors_live_in_the_bitmap_words(int vector)
    {
        var apic = TestApic.Create();
        apic.SetIoApicHandled(vector, true);
        Assert.Equal(1ul << (vector & 63), apic.IoApicHandledVectors[vector >> 6]);
    }

    [Fact]
    public void The_isr_cache_survives_an_outside_isr_change_after_refresh()
    {
        var apic = TestApic.Create();
        apic.PutInService(0x41);
        apic.Page.SetVector(ApicOffset.Isr, 0x91); // as a hardware assist would
        apic.RefreshIsrCache();

        Assert.Equal(0x90u, apic.Ppr);
        Assert.Equal(0x91, apic.EndOfInterrupt().Vector);
        Assert.Equal(0x41, apic.EndOfInterrupt().Vector);
        Assert.Equal(-1, apic.EndOfInterrupt().Vector);
    }
}
