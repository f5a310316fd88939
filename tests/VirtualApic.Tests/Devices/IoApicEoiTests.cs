// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Devices;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using IoApicDevice = VirtualApic.Devices.IoApic;

namespace VirtualApic.Tests.Devices;

public class IoApicEoiTests
{
    [Fact]
    public void Sequential_level_interrupts_each_need_their_eoi()
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level);

        rig.Device.SetLine(9, true);
        rig.Device.SetLine(9, false);
        rig.Device.SetLine(9, true); // second interrupt before the EOI: held by Remote IRR
        Assert.Single(rig.Messages);

        rig.Device.SetLine(9, false);
        rig.Eoi(0x51);
        Assert.False(rig.Device.GetRemoteIrr(9));
        Assert.Single(rig.Messages); // line low at EOI: nothing to re-deliver

        rig.Device.SetLine(9, true);
        Assert.Equal(2, rig.Messages.Count);
        Assert.True(rig.Device.GetRemoteIrr(9));
    }

    [Fact]
    public void An_eoi_with_the_line_still_asserted_delivers_again()
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Device.SetLine(9, true);
        rig.Eoi(0x51);
        Assert.Equal(2, rig.Messages.Count);
        Assert.True(rig.Device.GetRemoteIrr(9));
        rig.Eoi(0x51);
        Assert.Equal(3, rig.Messages.Count);
    }

    [Fact]
    public void An_eoi_for_a_masked_pin_clears_remote_irr_and_unmasking_delivers()
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Device.SetLine(9, true);
        rig.Route(9, 0x51, TriggerMode.Level, masked: true);
        Assert.True(rig.Device.GetRemoteIrr(9)); // a level write keeps Remote IRR

        rig.Eoi(0x51);
        Assert.False(rig.Device.GetRemoteIrr(9));
        Assert.Single(rig.Messages);

        rig.Route(9, 0x51, TriggerMode.Level);
        Assert.Equal(2, rig.Messages.Count);
    }

    [Theory]
    [InlineData(TriggerMode.Edge, false, 0x51)] // the local APIC's TMR says edge: no IOAPIC EOI
    [InlineData(TriggerMode.Level, true, 0x51)] // SVR bit 12 set: KVM leaves Remote IRR alone
    [InlineData(TriggerMode.Level, false, 0x52)] // another vector
    public void Eois_that_leave_remote_irr_set(TriggerMode trigger, bool directedEoi, byte vector)
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Device.SetLine(9, true);
        rig.Device.OnLocalEoi(1, vector, trigger, directedEoi);
        Assert.True(rig.Device.GetRemoteIrr(9));
        Assert.Single(rig.Messages);
    }

    [Fact]
    public void One_eoi_serves_every_level_pin_with_that_vector()
    {
        var rig = new IoApicRig();
        rig.Route(3, 0x60, TriggerMode.Level, destination: 1);
        rig.Route(4, 0x60, TriggerMode.Level, destination: 2);
        rig.Device.SetLine(3, true);
        rig.Device.SetLine(4, true);
        rig.Device.SetLine(4, false);

        rig.Eoi(0x60);
        Assert.False(rig.Device.GetRemoteIrr(4));
        Assert.True(rig.Device.GetRemoteIrr(3)); // cleared, then set again by the re-delivery
        Assert.Equal([1u, 2u, 1u], rig.Messages.Select(m => m.Destination));
    }

    [Fact]
    public void An_edge_entry_sharing_the_vector_is_redelivered_by_a_level_eoi_as_in_kvm()
    {
        var rig = new IoApicRig();
        rig.Route(3, 0x60, TriggerMode.Level);
        rig.Route(5, 0x60, TriggerMode.Edge);
        rig.Device.SetLine(3, true);
        rig.Device.SetLine(5, true);
        Assert.Equal(2, rig.Messages.Count);

        rig.Eoi(0x60);
        Assert.Equal([TriggerMode.Level, TriggerMode.Edge, TriggerMode.Level, TriggerMode.Edge], rig.Messages.Select(m => m.TriggerMode));

        // Pin 5 was delivered (twice) since its line rose: it stays marked delivered, so KVM's IRR holds
        // only the level pin.
        var state = rig.Device.Save();
        Assert.Equal(1u << 5, state.IrrDelivered);
        Assert.Equal(1u << 3, state.KvmIrr);
    }

    [Fact]
    public void Writing_an_entry_as_edge_clears_remote_irr()
    {
        // Linux's EOI for an IOAPIC without an EOI register: mask, switch to edge, back to level, unmask.
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Device.SetLine(9, true);
        Assert.True(rig.Device.GetRemoteIrr(9));

        rig.GuestWrite(0x10 + (2 * 9), 0x0001_0051); // masked, edge
        Assert.False(rig.Device.GetRemoteIrr(9));
        rig.GuestWrite(0x10 + (2 * 9), 0x0001_8051); // masked, level
        Assert.False(rig.Device.GetRemoteIrr(9));
        Assert.Single(rig.Messages);

        rig.GuestWrite(0x10 + (2 * 9), 0x0000_8051); // unmasked, level, line still high
        Assert.Equal(2, rig.Messages.Count);
        Assert.True(rig.Device.GetRemoteIrr(9));
    }

    [Fact]
    public void Changing_the_vector_while_in_service_strands_remote_irr_until_the_new_vector_is_eoied()
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Device.SetLine(9, true);
        rig.Route(9, 0x61, TriggerMode.Level);
        Assert.True(rig.Device.GetRemoteIrr(9));

        rig.Eoi(0x51); // the vector the CPU is servicing no longer matches the entry
        Assert.True(rig.Device.GetRemoteIrr(9));
        Assert.Single(rig.Messages);

        rig.Eoi(0x61);
        Assert.Equal((byte)0x61, rig.Messages[^1].Vector);
        Assert.Equal(2, rig.Messages.Count);
    }

    [Fact]
    public void Changing_the_destination_while_in_service_redelivers_to_the_new_destination()
    {
        var rig = new IoApicRig();
        rig.Route(9, 0x51, TriggerMode.Level, destination: 1);
        rig.Device.SetLine(9, true);
        rig.Route(9, 0x51, TriggerMode.Level, destination: 3, destinationMode: DestinationMode.Logical);
        Assert.Single(rig.Messages); // Remote IRR still set: no delivery on the write

        rig.Eoi(0x51);
        Assert.Equal(3u, rig.Messages[^1].Destination);
        Assert.Equal(DestinationMode.Logical, rig.Messages[^1].DestinationMode);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void The_eoi_register_of_version_0x20_clears_remote_irr_of_matching_level_entries(int size)
    {
        var rig = new IoApicRig(IoApicVersion.Version20);
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Route(10, 0x51, TriggerMode.Edge);
        rig.Device.SetLine(9, true);
        rig.Device.SetLine(9, false);
        rig.Device.SetLine(10, true);

        rig.Device.MmioWrite(IoApicDevice.EoiOffset, 0xFFFF_FF51, size); // bits 31:8 ignored
        Assert.False(rig.Device.GetRemoteIrr(9));
        Assert.Equal(2, rig.Messages.Count); // the edge entry is not re-delivered
    }

    [Fact]
    public void The_eoi_register_works_for_a_guest_that_suppressed_the_broadcast()
    {
        var rig = new IoApicRig(IoApicVersion.Version20);
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Device.SetLine(9, true);
        rig.Eoi(0x51, directed: true); // the local APIC's EOI carries SVR bit 12: ignored
        Assert.True(rig.Device.GetRemoteIrr(9));

        rig.Device.WriteEoiRegister(0x51);
        Assert.Equal(2, rig.Messages.Count); // cleared and re-delivered: the line is still high
        Assert.True(rig.Device.GetRemoteIrr(9));
    }

    [Theory]
    [InlineData(IoApicVersion.Version11, true)]
    [InlineData(IoApicVersion.Version20, false)]
    public void Only_version_0x20_has_an_eoi_register(IoApicVersion version, bool remoteIrrAfter)
    {
        var rig = new IoApicRig(version);
        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Device.SetLine(9, true);
        rig.Device.SetLine(9, false);
        rig.Device.MmioWrite(IoApicDevice.EoiOffset, 0x51, 4);
        Assert.Equal(remoteIrrAfter, rig.Device.GetRemoteIrr(9));

        rig.Route(9, 0x51, TriggerMode.Level);
        rig.Device.WriteEoiRegister(0x51);
        Assert.Equal(remoteIrrAfter, rig.Device.GetRemoteIrr(9));
    }

    [Fact]
    public void A_negative_vcpu_index_is_rejected()
    {
        var rig = new IoApicRig();
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.OnLocalEoi(-1, 0x51, TriggerMode.Level, false));
    }
}
