// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Devices;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using IoApicDevice = VirtualApic.Devices.IoApic;

namespace VirtualApic.Tests.Devices;

public class IoApicStormTests
{
    private static IoApicRig StormingPin(int pin = 9, byte vector = 0x51, IoApicVersion version = IoApicVersion.Version11)
    {
        var rig = new IoApicRig(version);
        rig.Route(pin, vector, TriggerMode.Level);
        rig.Device.SetLine(pin, true); // held forever: the guest never silences the device
        return rig;
    }

    [Fact]
    public void After_9999_immediate_redeliveries_the_next_is_delayed_10_ms()
    {
        var rig = StormingPin();
        for (int i = 1; i < IoApicDevice.StormThreshold; i++)
        {
            rig.Eoi(0x51);
        }

        Assert.Equal(IoApicDevice.StormThreshold, rig.Messages.Count); // the first delivery + 9 999
        Assert.False(rig.Device.IsDelayedInjectionPending);

        rig.Eoi(0x51); // the 10 000th EOI in a row
        Assert.Equal(IoApicDevice.StormThreshold, rig.Messages.Count);
        Assert.False(rig.Device.GetRemoteIrr(9));
        Assert.True(rig.Device.IsDelayedInjectionPending);

        rig.Clock.Advance(IoApicDevice.StormDelayNs - 1);
        Assert.Equal(IoApicDevice.StormThreshold, rig.Messages.Count);
        rig.Clock.Advance(1);
        Assert.Equal(IoApicDevice.StormThreshold + 1, rig.Messages.Count);
        Assert.True(rig.Device.GetRemoteIrr(9));
        Assert.False(rig.Device.IsDelayedInjectionPending);

        // The counter restarted: the next EOI re-delivers at once again.
        rig.Eoi(0x51);
        Assert.Equal(IoApicDevice.StormThreshold + 2, rig.Messages.Count);
    }

    [Fact]
    public void An_eoi_that_finds_the_line_low_restarts_the_count()
    {
        var rig = StormingPin();
        for (int i = 0; i < 5000; i++)
        {
            rig.Eoi(0x51);
        }

        rig.Device.SetLine(9, false);
        rig.Eoi(0x51); // line low: counter back to 0
        rig.Device.SetLine(9, true);
        int before = rig.Messages.Count;
        for (int i = 1; i < IoApicDevice.StormThreshold; i++)
        {
            rig.Eoi(0x51);
        }

        Assert.Equal(before + IoApicDevice.StormThreshold - 1, rig.Messages.Count);
        Assert.False(rig.Device.IsDelayedInjectionPending);
        rig.Eoi(0x51);
        Assert.True(rig.Device.IsDelayedInjectionPending);
    }

    [Fact]
    public void A_masked_eoi_also_restarts_the_count_but_an_entry_write_does_not()
    {
        var rig = StormingPin();
        for (int i = 0; i < 100; i++)
        {
            rig.Eoi(0x51);
        }

        // KVM (unlike QEMU) keeps the counter across entry writes.
        rig.Route(9, 0x51, TriggerMode.Level);
        for (int i = 0; i < IoApicDevice.StormThreshold - 101; i++)
        {
            rig.Eoi(0x51);
        }

        Assert.False(rig.Device.IsDelayedInjectionPending);
        rig.Eoi(0x51);
        Assert.True(rig.Device.IsDelayedInjectionPending);

        var masked = StormingPin();
        for (int i = 0; i < IoApicDevice.StormThreshold - 1; i++)
        {
            masked.Eoi(0x51);
        }

        masked.Route(9, 0x51, TriggerMode.Level, masked: true);
        masked.Eoi(0x51); // masked: counter back to 0
        masked.Route(9, 0x51, TriggerMode.Level); // unmask: delivers
        masked.Eoi(0x51);
        Assert.False(masked.Device.IsDelayedInjectionPending);
    }

    [Fact]
    public void A_pending_delayed_injection_is_not_pushed_back_and_serves_every_waiting_pin()
    {
        var rig = new IoApicRig();
        rig.Route(3, 0x51, TriggerMode.Level);
        rig.Route(4, 0x52, TriggerMode.Level);
        rig.Device.SetLine(3, true);
        rig.Device.SetLine(4, true);
        for (int i = 0; i < IoApicDevice.StormThreshold; i++)
        {
            rig.Eoi(0x51);
        }

        Assert.True(rig.Device.IsDelayedInjectionPending);
        long? deadline = rig.Device.Save().DelayedInjectionDeadlineNs;
        Assert.Equal(IoApicDevice.StormDelayNs, deadline);

        rig.Clock.Advance(5_000_000);
        for (int i = 0; i < IoApicDevice.StormThreshold; i++)
        {
            rig.Eoi(0x52);
        }

        Assert.Equal(deadline, rig.Device.Save().DelayedInjectionDeadlineNs);
        int before = rig.Messages.Count;
        rig.Clock.Advance(5_000_000);
        Assert.Equal([(byte)0x51, (byte)0x52], rig.Messages.Skip(before).Select(m => m.Vector));
    }

    [Fact]
    public void The_delayed_injection_skips_a_pin_whose_line_dropped_meanwhile()
    {
        var rig = StormingPin();
        rig.Route(10, 0x52, TriggerMode.Level); // unmasked, Remote IRR clear, line never raised
        for (int i = 0; i < IoApicDevice.StormThreshold; i++)
        {
            rig.Eoi(0x51);
        }

        rig.Device.SetLine(9, false); // the guest finally silenced the device
        int before = rig.Messages.Count;
        rig.Clock.Advance(IoApicDevice.StormDelayNs);
        Assert.False(rig.Device.IsDelayedInjectionPending);
        Assert.Equal(before, rig.Messages.Count);
        Assert.False(rig.Device.GetRemoteIrr(9));
        Assert.False(rig.Device.GetRemoteIrr(10));
    }

    [Fact]
    public void The_delayed_injection_skips_a_pin_masked_meanwhile()
    {
        var rig = StormingPin();
        for (int i = 0; i < IoApicDevice.StormThreshold; i++)
        {
            rig.Eoi(0x51);
        }

        // Mask through the low half alone: a high-half write first would deliver (the entry is still
        // unmasked, level, asserted, Remote IRR clear).
        rig.GuestWrite(0x10 + (2 * 9), 0x0001_8051);
        int before = rig.Messages.Count;
        rig.Clock.Advance(IoApicDevice.StormDelayNs);
        Assert.Equal(before, rig.Messages.Count);
        Assert.False(rig.Device.GetRemoteIrr(9));
    }

    [Fact]
    public void The_eoi_register_is_throttled_the_same_way()
    {
        var rig = StormingPin(version: IoApicVersion.Version20);
        for (int i = 0; i < IoApicDevice.StormThreshold; i++)
        {
            rig.Device.WriteEoiRegister(0x51);
        }

        Assert.Equal(IoApicDevice.StormThreshold, rig.Messages.Count);
        Assert.True(rig.Device.IsDelayedInjectionPending);
    }
}
