// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Devices;

public class IoApicDeliveryTests
{
    [Fact]
    public void An_edge_entry_delivers_one_message_on_a_rising_edge()
    {
        var rig = new IoApicRig();
        rig.Route(4, 0x31, destination: 2);
        rig.Sink.Result = 1;

        Assert.Equal(1, rig.Device.SetLine(4, true));

        var expected = new InterruptMessage(
            0x31, DeliveryMode.Fixed, DestinationMode.Physical, 2, TriggerMode.Edge, true,
            DestinationShorthand.None, InterruptSource.IoApic, -1);
        Assert.Equal(expected, Assert.Single(rig.Messages));
        Assert.True(rig.Device.GetLine(4));
        Assert.False(rig.Device.GetRemoteIrr(4)); // never set for edge
    }

    [Fact]
    public void A_second_assert_of_a_high_edge_line_is_coalesced()
    {
        var rig = new IoApicRig();
        rig.Route(4, 0x31);
        rig.Device.SetLine(4, true);
        Assert.Equal(0, rig.Device.SetLine(4, true));
        Assert.Single(rig.Messages);

        Assert.Equal(1, rig.Device.SetLine(4, false));
        Assert.Equal(1, rig.Device.SetLine(4, true));
        Assert.Equal(2, rig.Messages.Count);
    }

    [Fact]
    public void Pulses_deliver_once_each_and_leave_the_line_low()
    {
        var rig = new IoApicRig();
        rig.Route(1, 0x31);
        Assert.Equal(1, rig.Device.Pulse(1));
        Assert.Equal(1, rig.Device.Pulse(1));
        Assert.Equal(2, rig.Messages.Count);
        Assert.False(rig.Device.GetLine(1));
    }

    [Fact]
    public void A_pulse_on_a_held_edge_line_is_coalesced_and_drops_the_line()
    {
        var rig = new IoApicRig();
        rig.Route(1, 0x31);
        rig.Device.SetLine(1, true);
        Assert.Equal(0, rig.Device.Pulse(1));
        Assert.Single(rig.Messages);
        Assert.False(rig.Device.GetLine(1));
    }

    [Fact]
    public void An_edge_on_a_masked_pin_is_lost()
    {
        var rig = new IoApicRig();
        rig.Route(2, 0x31, masked: true);
        Assert.Equal(-1, rig.Device.SetLine(2, true));
        Assert.True(rig.Device.GetLine(2));

        rig.Route(2, 0x31); // unmask while the line is still high: an edge entry needs a new edge
        Assert.Empty(rig.Messages);

        rig.Device.SetLine(2, false);
        rig.Device.SetLine(2, true);
        Assert.Single(rig.Messages);
    }

    [Fact]
    public void A_level_entry_delivers_once_and_sets_remote_irr()
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level, destination: 1);

        Assert.Equal(1, rig.Device.SetLine(9, true));
        var message = Assert.Single(rig.Messages);
        Assert.Equal(TriggerMode.Level, message.TriggerMode);
        Assert.True(message.Level);
        Assert.Equal((byte)0x51, message.Vector);
        Assert.True(rig.Device.GetRemoteIrr(9));

        // Re-asserting the held line is blocked by Remote IRR.
        Assert.Equal(-1, rig.Device.SetLine(9, true));
        Assert.Single(rig.Messages);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(3, true)]
    [InlineData(0, false)] // destinations matched but none accepted (for example software-disabled)
    [InlineData(-1, true)] // no destination at all: KVM still sets Remote IRR
    public void Remote_irr_is_set_when_the_delivery_result_is_non_zero(int result, bool remoteIrr)
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Sink.Result = result;
        Assert.Equal(result, rig.Device.SetLine(9, true));
        Assert.Equal(remoteIrr, rig.Device.GetRemoteIrr(9));
    }

    [Fact]
    public void A_level_delivery_nobody_accepted_is_retried_by_the_next_assert()
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Sink.Result = 0;
        rig.Device.SetLine(9, true);
        rig.Sink.Result = 1;
        Assert.Equal(1, rig.Device.SetLine(9, true));
        Assert.Equal(2, rig.Messages.Count);
        Assert.True(rig.Device.GetRemoteIrr(9));
    }

    [Fact]
    public void Deasserting_a_level_line_leaves_remote_irr_for_the_eoi()
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Device.SetLine(9, true);
        rig.Device.SetLine(9, false);
        Assert.True(rig.Device.GetRemoteIrr(9));
        Assert.False(rig.Device.GetLine(9));
    }

    [Fact]
    public void A_masked_level_interrupt_is_held_and_delivered_when_unmasked()
    {
        var rig = new IoApicRig();
        rig.Route(10, 0x52, TriggerMode.Level, masked: true);
        Assert.Equal(-1, rig.Device.SetLine(10, true));
        Assert.Empty(rig.Messages);
        Assert.False(rig.Device.GetRemoteIrr(10));

        rig.Route(10, 0x52, TriggerMode.Level);
        Assert.Equal((byte)0x52, Assert.Single(rig.Messages).Vector);
        Assert.True(rig.Device.GetRemoteIrr(10));
    }

    [Fact]
    public void Unmasking_after_the_level_line_dropped_delivers_nothing()
    {
        var rig = new IoApicRig();
        rig.Route(10, 0x52, TriggerMode.Level, masked: true);
        rig.Device.SetLine(10, true);
        rig.Device.SetLine(10, false);
        rig.Route(10, 0x52, TriggerMode.Level);
        Assert.Empty(rig.Messages);
    }

    [Fact]
    public void Any_write_to_an_asserted_deliverable_level_entry_delivers_it()
    {
        var rig = new IoApicRig();
        rig.Route(11, 0x53, TriggerMode.Level, destination: 1);
        rig.Sink.Result = 0; // nobody accepts: Remote IRR stays clear
        rig.Device.SetLine(11, true);
        Assert.False(rig.Device.GetRemoteIrr(11));

        rig.Sink.Result = 1;
        rig.GuestWrite(0x11 + (2 * 11), 0x0500_0000); // only the high half: new destination 5
        Assert.Equal(2, rig.Messages.Count);
        Assert.Equal(5u, rig.Messages[1].Destination);
        Assert.True(rig.Device.GetRemoteIrr(11));

        rig.GuestWrite(0x11 + (2 * 11), 0x0600_0000); // Remote IRR set now: no delivery
        Assert.Equal(2, rig.Messages.Count);
    }

    [Fact]
    public void Writing_an_edge_entry_with_its_line_high_does_not_deliver()
    {
        var rig = new IoApicRig();
        rig.Route(12, 0x54, masked: true);
        rig.Device.SetLine(12, true);
        rig.Route(12, 0x55);
        rig.Route(12, 0x56);
        Assert.Empty(rig.Messages);
    }

    public static TheoryData<DeliveryMode, DestinationMode, byte, TriggerMode> DestinationCases => new()
    {
        { DeliveryMode.Fixed, DestinationMode.Physical, 0x00, TriggerMode.Edge },
        { DeliveryMode.Fixed, DestinationMode.Physical, 0x0F, TriggerMode.Level },
        { DeliveryMode.Fixed, DestinationMode.Physical, 0xFF, TriggerMode.Edge },
        { DeliveryMode.Fixed, DestinationMode.Logical, 0x01, TriggerMode.Level },
        { DeliveryMode.LowestPriority, DestinationMode.Logical, 0xF0, TriggerMode.Edge },
        { DeliveryMode.LowestPriority, DestinationMode.Physical, 0x03, TriggerMode.Level },
        { DeliveryMode.Nmi, DestinationMode.Physical, 0x02, TriggerMode.Edge },
        { DeliveryMode.Smi, DestinationMode.Logical, 0x81, TriggerMode.Edge },
        { DeliveryMode.Init, DestinationMode.Physical, 0x07, TriggerMode.Edge },
        { DeliveryMode.ExtInt, DestinationMode.Physical, 0x00, TriggerMode.Edge },
    };

    [Theory]
    [MemberData(nameof(DestinationCases))]
    public void The_message_carries_the_entry_fields(DeliveryMode mode, DestinationMode destinationMode, byte destination, TriggerMode trigger)
    {
        var rig = new IoApicRig();
        rig.Route(6, 0x9C, trigger, destination: destination, destinationMode: destinationMode, mode: mode);
        rig.Device.SetLine(6, true);

        var expected = new InterruptMessage(
            0x9C, mode, destinationMode, destination, trigger, true,
            DestinationShorthand.None, InterruptSource.IoApic, -1);
        Assert.Equal(expected, Assert.Single(rig.Messages));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Polarity_is_stored_but_the_line_is_the_logical_level(bool activeLow)
    {
        var rig = new IoApicRig();
        rig.Route(13, 0x61, TriggerMode.Level, activeLow: activeLow);
        Assert.Equal(activeLow, rig.Device.GetEntry(13).ActiveLow);
        Assert.Equal(activeLow ? 0x0000_A061u : 0x0000_8061u, rig.GuestRead(0x10 + (2 * 13)));

        // Asserting delivers and deasserting does not, whichever polarity the entry has.
        rig.Device.SetLine(13, false);
        Assert.Empty(rig.Messages);
        rig.Device.SetLine(13, true);
        Assert.True(rig.Device.GetLine(13));
        Assert.Equal((byte)0x61, Assert.Single(rig.Messages).Vector);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(24)]
    [InlineData(int.MaxValue)]
    public void Pins_outside_0_to_23_are_rejected(int pin)
    {
        var rig = new IoApicRig();
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.SetLine(pin, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.Pulse(pin));
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.GetEntry(pin));
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.GetLine(pin));
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.GetRemoteIrr(pin));
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.WriteEntry(pin, default));
    }

    [Fact]
    public void The_sink_may_read_but_not_change_the_ioapic_while_delivering()
    {
        var rig = new IoApicRig();
        rig.Route(0, 0x31, TriggerMode.Level);
        bool seenRemoteIrr = true;
        rig.Sink.OnDeliver = _ => seenRemoteIrr = rig.Device.GetRemoteIrr(0);
        rig.Device.SetLine(0, true);
        Assert.False(seenRemoteIrr); // read inside Deliver: set only once Deliver returns
        Assert.True(rig.Device.GetRemoteIrr(0));

        rig.Route(1, 0x32);
        rig.Sink.OnDeliver = _ => rig.Device.OnLocalEoi(0, 0x31, TriggerMode.Level, false);
        Assert.Throws<InvalidOperationException>(() => rig.Device.SetLine(1, true));
        Assert.True(rig.Device.GetRemoteIrr(0)); // the re-entrant EOI did nothing

        rig.Sink.OnDeliver = null;
        rig.Device.SetLine(1, false);
        Assert.Equal(1, rig.Device.SetLine(1, true)); // and the IOAPIC still works
    }

    [Fact]
    public void The_table_change_notification_comes_after_the_delivery_and_may_change_the_ioapic()
    {
        var rig = new IoApicRig();
        rig.Route(2, 0x33);
        rig.Device.SetLine(3, true);
        var log = new List<string>();
        rig.Sink.OnDeliver = m => log.Add($"deliver {m.Vector:x}");
        rig.Sink.OnTableChanged = pin =>
        {
            log.Add($"changed {pin}");
            if (pin == 3)
            {
                rig.Device.Pulse(2); // allowed here: the lock is released
            }
        };
        rig.Route(3, 0x34, TriggerMode.Level);
        Assert.Equal(["deliver 34", "changed 3", "deliver 33"], log);
        Assert.Equal(2, rig.Messages.Count);
    }

    [Fact]
    public void WriteEntry_writes_the_high_half_before_the_low_half()
    {
        var rig = new IoApicRig();
        rig.Device.SetLine(5, true);
        rig.Sink.Result = 1;
        var device = rig.Device;
        device.WriteEntry(5, RedirectionEntry.Create(0x71, trigger: TriggerMode.Level, destination: 9));

        // Had the low half gone first, the unmask would have delivered to the old destination 0.
        Assert.Equal(9u, Assert.Single(rig.Messages).Destination);
    }
}
