// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Registers;
using VirtualApic.Snapshot;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>RESET, stale IRR after a software disable, posted delivery, and the trap-like ICR replay.</summary>
public class ResetAndDeliveryTests
{
    [Theory]
    [InlineData(0, true)]
    [InlineData(7, false)]
    public void Reset_returns_to_the_power_up_state_from_x2apic_mode(int id, bool bsp)
    {
        var clock = new VirtualClock();
        var apic = TestApic.Create(ApicMode.X2Apic, id: id, bsp: bsp, clock: clock);
        Assert.True(apic.Write(ApicOffset.Tpr, 0x40));
        Assert.True(apic.Write(ApicOffset.LvtTimer, 0x2_0031));
        Assert.True(apic.Write(ApicOffset.Tmict, 300_000));
        apic.PutInService(0x71);
        apic.Raise(0x81, TriggerMode.Level);

        apic.Reset();

        Assert.Equal(TestApic.XApicBase | (bsp ? ApicBase.BspBit : 0), apic.ApicBaseMsr);
        Assert.Equal((uint)id << 24, apic.Read(ApicOffset.Id));
        Assert.Equal(0u, apic.Read(ApicOffset.Ldr));
        Assert.Equal(0xFFFF_FFFFu, apic.Read(ApicOffset.Dfr));
        Assert.Equal(0xFFu, apic.Read(ApicOffset.Svr));
        Assert.Equal(0u, apic.Read(ApicOffset.Tpr));
        Assert.Equal(0u, apic.Read(ApicOffset.Icr));
        Assert.Equal(0x1_0000u, apic.Read(ApicOffset.LvtTimer));
        Assert.Equal(bsp ? 0x700u : 0x1_0000u, apic.Read(ApicOffset.LvtLint0));
        Assert.Equal(-1, apic.HighestIrr);
        Assert.Equal(-1, apic.HighestIsr);
        Assert.Equal(0, TestApic.ScanCount(apic.Page, ApicOffset.Tmr));
        Assert.Equal(2, apic.Timer.DivideCount);
        clock.Advance(1_000_000);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Fact]
    public void Reset_rewrites_a_guest_written_xapic_id()
    {
        var apic = TestApic.Create(id: 2, bsp: false);
        apic.MmioWrite(ApicOffset.Id, 0x5500_0000, 4);
        apic.Reset();
        Assert.Equal(2u, apic.ApicId);
    }

    [Fact]
    public void A_stale_irr_survives_a_software_disable_and_is_still_offered()
    {
        var vcpu = new Vcpu(0, new ApicConfig(), new VirtualClock());
        var apic = vcpu.Apic;
        Assert.True(apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled));
        Assert.True(apic.Raise(0x40));

        apic.MmioWrite(ApicOffset.Svr, 0xFF, 4);

        Assert.False(apic.Raise(0x50)); // new fixed interrupts are dropped...
        vcpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x40), vcpu.Take()); // ...but the stale one is injected (KVM)
    }

    [Fact]
    public void A_hardware_disabled_apic_offers_nothing()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Raise(0x40));
        Assert.True(apic.SetApicBase(TestApic.DisabledBase | ApicBase.BspBit, false));
        Assert.Equal(-1, apic.PendingVector());
        Assert.Equal(-1, apic.Acknowledge());
    }

    [Fact]
    public void Posted_vectors_are_folded_in_before_the_irr_is_read_or_evaluated()
    {
        var apic = TestApic.Create();
        var posted = new PostedDelivery();
        apic.Delivery = posted;

        Assert.True(apic.Raise(0x93));
        Assert.True(posted.IsPosted(0x93));
        Assert.False(apic.IrrHas(0x93));

        Assert.Equal(1u << 0x13, apic.Read(ApicOffset.Irr + 0x40)); // a register read syncs first
        Assert.False(posted.IsPosted(0x93));
        Assert.True(apic.Raise(0xA1));
        Assert.Equal(0xA1, apic.PendingVector());
    }

    [Fact]
    public void Capture_folds_posted_vectors_into_the_image()
    {
        var apic = TestApic.Create();
        apic.Delivery = new PostedDelivery();
        Assert.True(apic.Raise(0x93));
        byte[] image = KvmLapicState.Capture(apic);
        Assert.Equal(1u << 0x13, BitConverter.ToUInt32(image, ApicOffset.Irr + 0x40));
    }

    [Fact]
    public void Apply_drops_whatever_is_still_posted_before_loading_the_image()
    {
        var apic = TestApic.Create();
        var posted = new PostedDelivery();
        apic.Delivery = posted;
        byte[] image = KvmLapicState.Capture(apic);
        Assert.True(apic.Raise(0x93));

        KvmLapicState.Apply(apic, image);

        Assert.Contains("reset", posted.Calls);
        Assert.False(posted.IsPosted(0x93));
        Assert.Equal(-1, apic.HighestIrr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_trap_like_icr_write_replays_the_page_value_once_with_busy_cleared(bool splitIcr)
    {
        // The seed fix's path (KVM 0a19807b464f, 629d3698f695): hardware already stored the ICR
        // with BUSY set; the handler replays what is in the page through the ICR write.
        var apic = TestApic.Create(ApicMode.X2Apic, new ApicConfig { X2ApicIcrSplit = splitIcr });
        apic.Host().Loopback = false;
        Assert.True(apic.TryWriteX2ApicMsr(0x830, 9ul << 32));
        apic.Host().Ipis.Clear();
        apic.Page.Write(ApicOffset.Icr, Icr.BusyBit | 0x4051);

        Assert.True(apic.WriteRegister(ApicOffset.Icr, apic.Page.Read(ApicOffset.Icr)));

        var sent = Assert.Single(apic.Host().Ipis);
        Assert.Equal(9u, sent.Destination);
        Assert.Equal((byte)0x51, sent.Vector);
        Assert.Equal((9ul << 32) | 0x4051, apic.ReadX2ApicIcr());
    }
}
