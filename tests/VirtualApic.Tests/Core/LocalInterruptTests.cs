// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>
/// The APIC's own interrupt sources and bookkeeping: LVT deliveries and the LINT Remote IRR
/// (SDM 11.5.1), the error interrupt (SDM 11.5.3), a hardware assist's IRR writes and accelerated
/// EOIs, the IOAPIC-handled set and physical destination matching (KVM <c>kvm_apic_local_deliver</c>,
/// <c>kvm_apic_set_eoi_accelerated</c>, <c>kvm_apic_match_physical_addr</c>).
/// </summary>
public class LocalInterruptTests
{
    private static LocalApic Architectural(ApicMode mode = ApicMode.XApic)
    {
        var apic = TestApic.Create(mode, new ApicConfig { Profile = ApicProfile.Architectural });
        apic.Host().Loopback = false;
        return apic;
    }

    [Theory]
    [InlineData(ApicOffset.LvtLint0, 1)]
    [InlineData(ApicOffset.LvtLint1, 2)]
    public void A_level_fixed_lint_sets_only_its_own_remote_irr_until_the_eoi_of_its_vector(int lint, int bit)
    {
        var apic = Architectural();
        Assert.True(apic.Write(lint, Lvt.LevelBit | 0x41));

        Assert.True(apic.DeliverLocal(lint));

        Assert.Equal(bit, apic.LintRemoteIrrBits);
        Assert.Equal(Lvt.LevelBit | Lvt.RemoteIrrBit | 0x41u, apic.Page.Read(lint));
        int other = lint == ApicOffset.LvtLint0 ? ApicOffset.LvtLint1 : ApicOffset.LvtLint0;
        Assert.Equal(0u, apic.Page.Read(other) & Lvt.RemoteIrrBit);

        Assert.Equal(0x41, apic.Acknowledge());
        var eoi = apic.EndOfInterrupt();

        Assert.True(eoi.LintRemoteIrrCleared);
        Assert.Equal(0, apic.LintRemoteIrrBits);
        Assert.Equal(Lvt.LevelBit | 0x41u, apic.Page.Read(lint));
    }

    [Fact]
    public void An_eoi_of_another_vector_leaves_the_lint_remote_irr()
    {
        var apic = Architectural();
        Assert.True(apic.Write(ApicOffset.LvtLint0, Lvt.LevelBit | 0x41));
        Assert.True(apic.DeliverLocal(ApicOffset.LvtLint0));
        apic.PutInService(0x51);

        var eoi = apic.EndOfInterrupt();

        Assert.Equal(0x51, eoi.Vector);
        Assert.False(eoi.LintRemoteIrrCleared);
        Assert.Equal(1, apic.LintRemoteIrrBits);
        Assert.Equal(Lvt.RemoteIrrBit, apic.Page.Read(ApicOffset.LvtLint0) & Lvt.RemoteIrrBit);
    }

    [Theory]
    [InlineData(ApicOffset.LvtTimer)]
    [InlineData(ApicOffset.LvtError)]
    public void A_level_entry_other_than_lint_sets_no_remote_irr(int lvt)
    {
        var apic = Architectural();
        apic.Page.Write(lvt, Lvt.LevelBit | 0x41);

        Assert.True(apic.DeliverLocal(lvt));

        Assert.Equal(0, apic.LintRemoteIrrBits);
        Assert.Equal(Lvt.LevelBit | 0x41u, apic.Page.Read(lvt));
    }

    [Fact]
    public void An_edge_or_nmi_lint_sets_no_remote_irr()
    {
        var apic = Architectural();
        Assert.True(apic.Write(ApicOffset.LvtLint0, 0x41));
        Assert.True(apic.Write(ApicOffset.LvtLint1, Lvt.LevelBit | ((uint)DeliveryMode.Nmi << 8)));

        Assert.True(apic.DeliverLocal(ApicOffset.LvtLint0));
        Assert.True(apic.DeliverLocal(ApicOffset.LvtLint1));

        Assert.Equal(0, apic.LintRemoteIrrBits);
        Assert.Equal(1, apic.RecordingCpu().Nmis);
    }

    [Fact]
    public void Kvm_delivers_a_level_lint_without_a_remote_irr()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Write(ApicOffset.LvtLint0, Lvt.LevelBit | 0x41));

        Assert.True(apic.DeliverLocal(ApicOffset.LvtLint0));

        Assert.Equal(0, apic.LintRemoteIrrBits);
        Assert.Equal(Lvt.LevelBit | 0x41u, apic.Page.Read(ApicOffset.LvtLint0));
    }

    [Fact]
    public void An_extint_lint_is_left_to_the_pic_path()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Write(ApicOffset.LvtLint0, (uint)DeliveryMode.ExtInt << 8));

        Assert.False(apic.DeliverLocal(ApicOffset.LvtLint0));
        Assert.Equal(-1, apic.HighestIrr);
    }

    [Fact]
    public void A_hardware_disabled_apic_delivers_no_local_interrupt()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Write(ApicOffset.LvtLint1, 0x41));
        Assert.True(apic.SetApicBase(TestApic.DisabledBase | ApicBase.BspBit, hostInitiated: false));

        Assert.False(apic.DeliverLocal(ApicOffset.LvtLint1));
        Assert.Equal(-1, apic.Page.HighestVector(ApicOffset.Irr));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Restoring_the_lint_remote_irr_sets_and_clears_the_page_bits_architecturally(int bits)
    {
        var apic = Architectural();
        apic.Page.Write(ApicOffset.LvtLint0, Lvt.RemoteIrrBit | Lvt.LevelBit | 0x41);
        apic.Page.Write(ApicOffset.LvtLint1, Lvt.LevelBit | 0x42);

        apic.LintRemoteIrrBits = bits;

        Assert.Equal(bits & 3, apic.LintRemoteIrrBits);
        Assert.Equal((bits & 1) != 0 ? Lvt.RemoteIrrBit : 0, apic.Page.Read(ApicOffset.LvtLint0) & Lvt.RemoteIrrBit);
        Assert.Equal((bits & 2) != 0 ? Lvt.RemoteIrrBit : 0, apic.Page.Read(ApicOffset.LvtLint1) & Lvt.RemoteIrrBit);
        Assert.Equal(Lvt.LevelBit | 0x41u, apic.Page.Read(ApicOffset.LvtLint0) & ~Lvt.RemoteIrrBit);
    }

    [Fact]
    public void Under_kvm_restoring_the_lint_remote_irr_leaves_the_page_alone()
    {
        var apic = TestApic.Create();
        apic.Page.Write(ApicOffset.LvtLint1, Lvt.RemoteIrrBit | 0x42);

        apic.LintRemoteIrrBits = 1;

        Assert.Equal(1, apic.LintRemoteIrrBits);
        Assert.Equal(0u, apic.Page.Read(ApicOffset.LvtLint0) & Lvt.RemoteIrrBit);
        Assert.Equal(Lvt.RemoteIrrBit | 0x42u, apic.Page.Read(ApicOffset.LvtLint1));
    }

    [Fact]
    public void The_error_interrupt_fires_once_per_new_error_until_esr_is_written()
    {
        // SDM 11.5.3: the interrupt follows the detection of an error; an error already pending is
        // not detected anew.
        var apic = Architectural();
        Assert.True(apic.Write(ApicOffset.LvtError, 0xE3));
        var illegal = InterruptMessage.Fixed(0x05);

        Assert.False(apic.AcceptInterrupt(illegal));
        Assert.Equal(0xE3, apic.Acknowledge());
        apic.EndOfInterrupt();
        Assert.False(apic.AcceptInterrupt(illegal));
        Assert.Equal(-1, apic.HighestIrr);

        Assert.True(apic.Write(ApicOffset.Esr, 0));
        Assert.Equal(LocalApic.EsrReceiveIllegalVector, apic.Read(ApicOffset.Esr));
        Assert.False(apic.AcceptInterrupt(illegal));
        Assert.Equal(0xE3, apic.HighestIrr);
    }

    [Fact]
    public void Kvm_records_no_error_and_raises_no_error_interrupt()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Write(ApicOffset.LvtError, 0xE3));
        apic.Host().Loopback = false;

        Assert.True(apic.Write(ApicOffset.Icr, 0x05)); // fixed vector 5 to the destination 0

        Assert.Single(apic.Host().Ipis);
        Assert.Equal(0u, apic.EsrPending);
        Assert.Equal(-1, apic.HighestIrr);
    }

    [Fact]
    public void A_hardware_ipi_sets_the_irr_and_clears_a_stale_tmr_bit()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Raise(0x61, TriggerMode.Level));
        Assert.Equal(0x61, apic.Acknowledge());
        apic.EndOfInterrupt();
        Assert.True(apic.TmrHas(0x61));

        Assert.True(apic.AcceptFromHardware(0x61));

        Assert.True(apic.IrrHas(0x61));
        Assert.False(apic.TmrHas(0x61));
    }

    [Fact]
    public void A_hardware_ipi_does_not_kick_and_a_disabled_apic_drops_it()
    {
        var apic = TestApic.Create();
        int kicks = apic.Host().Kicks;

        Assert.True(apic.AcceptFromHardware(0x62));
        Assert.Equal(kicks, apic.Host().Kicks);

        Assert.True(apic.Write(ApicOffset.Svr, 0xFF));
        Assert.False(apic.AcceptFromHardware(0x63));
        Assert.False(apic.IrrHas(0x63));
    }

    [Theory]
    [InlineData(TriggerMode.Edge, false)]
    [InlineData(TriggerMode.Level, true)]
    public void An_accelerated_eoi_tells_the_ioapic_of_a_handled_vector_with_its_tmr_trigger(TriggerMode trigger, bool handled)
    {
        var apic = TestApic.Create();
        apic.SetIoApicHandled(0x71, handled);
        Assert.True(apic.Raise(0x71, trigger));

        var eoi = apic.EndOfInterruptAccelerated(0x71);

        Assert.Equal(0x71, eoi.Vector);
        Assert.Equal(trigger, eoi.Trigger);
        Assert.Equal(handled, eoi.IoApicHandled);
        List<(byte, TriggerMode)> told = handled ? [(0x71, trigger)] : [];
        Assert.Equal(told, apic.Host().Eois);
    }

    [Fact]
    public void An_accelerated_eoi_clears_the_lint_remote_irr_architecturally()
    {
        var apic = Architectural();
        Assert.True(apic.Write(ApicOffset.LvtLint1, Lvt.LevelBit | 0x43));
        Assert.True(apic.DeliverLocal(ApicOffset.LvtLint1));

        var eoi = apic.EndOfInterruptAccelerated(0x43);

        Assert.True(eoi.LintRemoteIrrCleared);
        Assert.Equal(0, apic.LintRemoteIrrBits);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(200)]
    [InlineData(255)]
    public void The_ioapic_handled_set_keeps_each_vector_in_its_own_word(int vector)
    {
        var apic = TestApic.Create();

        apic.SetIoApicHandled(vector, true);
        apic.SetIoApicHandled(vector, true); // marking twice keeps it marked

        for (int v = 0; v < 256; v++)
        {
            Assert.Equal(v == vector, apic.IsIoApicHandled(v));
        }

        apic.SetIoApicHandled(vector, false);
        apic.SetIoApicHandled(vector, false);
        Assert.False(apic.IsIoApicHandled(vector));
        Assert.All(apic.IoApicHandledVectors.ToArray(), word => Assert.Equal(0ul, word));
    }

    [Theory]
    [InlineData(256)]
    [InlineData(-1)]
    public void The_ioapic_handled_set_refuses_a_vector_outside_0_to_255(int vector)
    {
        var apic = TestApic.Create();

        Assert.Throws<ArgumentOutOfRangeException>(() => apic.SetIoApicHandled(vector, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => apic.IsIoApicHandled(vector));
    }

    [Theory]
    [InlineData(ApicMode.XApic, 5u, true)]
    [InlineData(ApicMode.XApic, 6u, false)]
    [InlineData(ApicMode.XApic, 0x105u, false)] // above 8 bits: compared with the x2APIC ID
    [InlineData(ApicMode.X2Apic, 5u, true)]
    [InlineData(ApicMode.X2Apic, 0x105u, false)]
    public void Physical_destinations_match_the_id_of_the_mode(ApicMode mode, uint destination, bool matches)
    {
        var apic = TestApic.Create(mode, id: 5, bsp: false);

        Assert.Equal(matches, apic.MatchesPhysical(destination));
    }

    [Fact]
    public void An_xapic_above_255_matches_its_x2apic_id_and_its_truncated_xapic_id()
    {
        // KVM kvm_apic_match_physical_addr: a destination above 0xFF (an x2APIC-format message, as
        // the IOAPIC's extended destination gives) names the x2APIC ID whatever the mode; an 8-bit
        // one names the xAPIC ID field, which holds the low 8 bits of the vCPU index.
        var apic = TestApic.Create(id: 0x123, bsp: false);

        Assert.True(apic.MatchesPhysical(0x123));
        Assert.True(apic.MatchesPhysical(0x23));
        Assert.False(apic.MatchesPhysical(0x223));
        Assert.Equal(0x23, apic.XApicId);
    }

    [Fact]
    public void A_cr8_style_tpr_write_keeps_8_bits_and_recomputes_ppr()
    {
        var apic = TestApic.Create();
        apic.PutInService(0x61);

        apic.SetTpr(0x1_75);

        Assert.Equal(0x75u, apic.Tpr);
        Assert.Equal(0x75u, apic.Ppr);
        apic.SetTpr(0x10);
        Assert.Equal(0x60u, apic.Ppr);
    }
}
