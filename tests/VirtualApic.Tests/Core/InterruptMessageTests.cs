// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="InterruptMessage"/>'s builders, field by field: an ICR read in the sender's mode, a
/// SELF_IPI, the broadcast destinations, and a device's fixed message.
/// </summary>
public class InterruptMessageTests
{
    [Theory]
    [InlineData(ApicMode.XApic, 3, 0xA5u)]              // ICR bits 63:56
    [InlineData(ApicMode.X2Apic, 5, 0xA512_3456u)]      // ICR bits 63:32
    public void FromIcr_takes_the_destination_in_the_senders_mode(ApicMode mode, int id, uint destination)
    {
        var sender = TestApic.Create(mode, id: id);
        var icr = Icr.Create(
            0x42, DeliveryMode.LowestPriority, DestinationMode.Logical, DestinationShorthand.None,
            level: false, TriggerMode.Level, destinationHigh: 0xA512_3456);

        var message = InterruptMessage.FromIcr(icr, sender);

        Assert.Equal(
            new InterruptMessage(
                0x42, DeliveryMode.LowestPriority, DestinationMode.Logical, destination, TriggerMode.Level, false,
                DestinationShorthand.None, InterruptSource.Ipi, id),
            message);
    }

    [Theory]
    [InlineData(ApicMode.XApic, 0x0000_0000_0000_04FFul, 0xFF, DeliveryMode.Nmi, DestinationMode.Physical, 0x00u, TriggerMode.Edge, false, DestinationShorthand.None)]
    [InlineData(ApicMode.X2Apic, 0x0000_0000_0000_04FFul, 0xFF, DeliveryMode.Nmi, DestinationMode.Physical, 0x00u, TriggerMode.Edge, false, DestinationShorthand.None)]
    [InlineData(ApicMode.XApic, 0x0100_0002_000C_4D31ul, 0x31, DeliveryMode.Init, DestinationMode.Logical, 0x01u, TriggerMode.Edge, true, DestinationShorthand.AllExcludingSelf)]
    [InlineData(ApicMode.X2Apic, 0x0100_0002_000C_4D31ul, 0x31, DeliveryMode.Init, DestinationMode.Logical, 0x0100_0002u, TriggerMode.Edge, true, DestinationShorthand.AllExcludingSelf)]
    [InlineData(ApicMode.XApic, 0xFF00_0000_0008_C600ul, 0x00, DeliveryMode.StartUp, DestinationMode.Physical, 0xFFu, TriggerMode.Level, true, DestinationShorthand.AllIncludingSelf)]
    [InlineData(ApicMode.X2Apic, 0x00FF_FFFF_0004_0000ul, 0x00, DeliveryMode.Fixed, DestinationMode.Physical, 0x00FF_FFFFu, TriggerMode.Edge, false, DestinationShorthand.Self)]
    public void FromIcr_copies_every_field_of_a_raw_icr(
        ApicMode mode,
        ulong raw,
        int vector,
        DeliveryMode delivery,
        DestinationMode destinationMode,
        uint destination,
        TriggerMode trigger,
        bool level,
        DestinationShorthand shorthand)
    {
        var sender = TestApic.Create(mode, id: 2);

        var message = InterruptMessage.FromIcr(new Icr(raw), sender);

        Assert.Equal(
            new InterruptMessage((byte)vector, delivery, destinationMode, destination, trigger, level, shorthand, InterruptSource.Ipi, 2),
            message);
        Assert.False(message.RedirectionHint);
    }

    [Fact]
    public void FromIcr_reads_the_mode_the_sender_is_in_now()
    {
        var sender = TestApic.Create(ApicMode.XApic, id: 1);
        var icr = new Icr(0x1234_5678ul << 32);
        Assert.Equal(0x12u, InterruptMessage.FromIcr(icr, sender).Destination);

        Assert.True(sender.SetApicBase(TestApic.X2ApicBase | ApicBase.BspBit, hostInitiated: false));

        Assert.Equal(0x1234_5678u, InterruptMessage.FromIcr(icr, sender).Destination);
    }

    [Fact]
    public void FromIcr_with_no_sender_is_an_argument_error()
    {
        var e = Assert.Throws<ArgumentNullException>(() => InterruptMessage.FromIcr(Icr.Create(0x30), null!));

        Assert.Equal("sender", e.ParamName);
    }

    [Theory]
    [InlineData(ApicMode.X2Apic, 5)]
    [InlineData(ApicMode.X2Apic, 0)]
    [InlineData(ApicMode.XApic, 7)]
    public void SelfIpi_is_fixed_physical_edge_assert_to_the_sender_from_the_sender(ApicMode mode, int id)
    {
        var sender = TestApic.Create(mode, id: id);

        var message = InterruptMessage.SelfIpi(0x9C, sender);

        Assert.Equal(
            new InterruptMessage(
                0x9C, DeliveryMode.Fixed, DestinationMode.Physical, (uint)id, TriggerMode.Edge, true,
                DestinationShorthand.Self, InterruptSource.Ipi, id, RedirectionHint: false),
            message);
    }

    [Fact]
    public void SelfIpi_with_no_sender_is_an_argument_error()
    {
        var e = Assert.Throws<ArgumentNullException>(() => InterruptMessage.SelfIpi(0x30, null!));

        Assert.Equal("sender", e.ParamName);
    }

    [Fact]
    public void The_broadcast_destination_is_all_ones_in_the_mode_width()
    {
        Assert.Equal(0xFFFF_FFFFu, InterruptMessage.BroadcastDestination(x2Apic: true));
        Assert.Equal(0xFFu, InterruptMessage.BroadcastDestination(x2Apic: false));
    }

    [Fact]
    public void Fixed_defaults_to_an_edge_assert_from_an_msi_to_physical_id_0()
    {
        var message = InterruptMessage.Fixed(0x31);

        Assert.Equal(
            new InterruptMessage(
                0x31, DeliveryMode.Fixed, DestinationMode.Physical, 0, TriggerMode.Edge, true,
                DestinationShorthand.None, InterruptSource.Msi, -1, RedirectionHint: false),
            message);
        Assert.Equal(InterruptSource.Msi, message.Source);
        Assert.Equal(-1, message.SourceVcpu);
        Assert.True(message.Level);
        Assert.False(message.RedirectionHint);
    }

    [Fact]
    public void Fixed_takes_a_destination_and_a_trigger()
    {
        var message = InterruptMessage.Fixed(0xEE, destination: 0x1_0007, trigger: TriggerMode.Level);

        Assert.Equal(
            new InterruptMessage(
                0xEE, DeliveryMode.Fixed, DestinationMode.Physical, 0x1_0007, TriggerMode.Level, true,
                DestinationShorthand.None, InterruptSource.Msi, -1),
            message);
    }
}
