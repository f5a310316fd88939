// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Registers;

namespace VirtualApic.Tests.IoApic;

public class RedirectionEntryTests
{
    [Theory]
    // raw, vector, mode, logical, deliveryStatus, activeLow, remoteIrr, level, masked, extDest, dest
    [InlineData(0x0000_0000_0001_0000ul, 0x00, DeliveryMode.Fixed, false, false, false, false, false, true, 0x00, 0x00)]
    [InlineData(0x0300_0000_0001_A951ul, 0x51, DeliveryMode.LowestPriority, true, false, true, false, true, true, 0x00, 0x03)]
    [InlineData(0x0000_0000_0000_A051ul, 0x51, DeliveryMode.Fixed, false, false, true, false, true, false, 0x00, 0x00)]
    [InlineData(0xFFFE_0000_0000_5731ul, 0x31, DeliveryMode.ExtInt, false, true, false, true, false, false, 0xFE, 0xFF)]
    [InlineData(0x0100_0000_0000_0402ul, 0x02, DeliveryMode.Nmi, false, false, false, false, false, false, 0x00, 0x01)]
    public void Fields_decode_from_the_raw_value(
        ulong raw, byte vector, DeliveryMode mode, bool logical, bool deliveryStatus, bool activeLow,
        bool remoteIrr, bool level, bool masked, byte extendedDestination, byte destination)
    {
        var e = new RedirectionEntry(raw);
        Assert.Equal(vector, e.Vector);
        Assert.Equal(mode, e.DeliveryMode);
        Assert.Equal(logical ? DestinationMode.Logical : DestinationMode.Physical, e.DestinationMode);
        Assert.Equal(deliveryStatus, e.DeliveryStatus);
        Assert.Equal(activeLow, e.ActiveLow);
        Assert.Equal(remoteIrr, e.RemoteIrr);
        Assert.Equal(level ? TriggerMode.Level : TriggerMode.Edge, e.TriggerMode);
        Assert.Equal(masked, e.Masked);
        Assert.Equal(extendedDestination, e.ExtendedDestination);
        Assert.Equal(destination, e.Destination);
        Assert.Equal((uint)raw, e.Low);
        Assert.Equal((uint)(raw >> 32), e.High);
    }

    [Fact]
    public void Create_sets_exactly_the_fields_it_is_given() =>
        Gen.Select(Gen.Byte, Gen.Int[0, 7], Gen.Bool, Gen.Bool, Gen.Bool, Gen.Bool, Gen.Byte)
            .Sample((vector, mode, logical, level, activeLow, masked, destination) =>
            {
                var e = RedirectionEntry.Create(
                    vector, (DeliveryMode)mode, logical ? DestinationMode.Logical : DestinationMode.Physical,
                    level ? TriggerMode.Level : TriggerMode.Edge, activeLow, masked, destination);
                Assert.Equal(vector, e.Vector);
                Assert.Equal((DeliveryMode)mode, e.DeliveryMode);
                Assert.Equal(logical, e.DestinationMode == DestinationMode.Logical);
                Assert.Equal(level, e.TriggerMode == TriggerMode.Level);
                Assert.Equal(activeLow, e.ActiveLow);
                Assert.Equal(masked, e.Masked);
                Assert.Equal(destination, e.Destination);
                Assert.False(e.DeliveryStatus);
                Assert.False(e.RemoteIrr);
                Assert.Equal(0ul, e.Raw & 0x00FF_FFFF_FFFE_0000ul & ~RedirectionEntry.MaskedBit); // reserved bits 55:17 stay 0
            });

    [Fact]
    public void Reset_value_is_masked_and_otherwise_zero()
    {
        var e = new RedirectionEntry(RedirectionEntry.ResetValue);
        Assert.True(e.Masked);
        Assert.Equal(RedirectionEntry.MaskedBit, e.Raw);
        Assert.Equal(RedirectionEntry.DeliveryStatusBit | RedirectionEntry.RemoteIrrBit, RedirectionEntry.ReadOnlyBits);
    }
}
