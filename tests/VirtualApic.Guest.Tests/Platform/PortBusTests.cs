// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Platform;
using VirtualApic.Guest.Platform.Devices;

namespace VirtualApic.Guest.Tests.Platform;

/// <summary>The port space's registration rules: ranges inside 0-0xFFFF, no port claimed twice, and a
/// refused registration claims nothing.</summary>
public class PortBusTests
{
    [Fact]
    public void A_range_claims_exactly_its_ports()
    {
        var bus = new PortBus();
        var pic = new Pic8259Stub();

        bus.Register(0x20, 2, pic);

        Assert.Null(bus.DeviceAt(0x1F));
        Assert.Same(pic, bus.DeviceAt(0x20));
        Assert.Same(pic, bus.DeviceAt(0x21));
        Assert.Null(bus.DeviceAt(0x22));
    }

    [Fact]
    public void The_last_port_may_be_claimed_but_not_beyond_it()
    {
        var bus = new PortBus();
        var dev = new DebugExit();

        bus.Register(0xFFFF, 1, dev);
        Assert.Same(dev, bus.DeviceAt(0xFFFF));

        var empty = new PortBus();
        var e = Assert.Throws<ArgumentException>(() => empty.Register(0xFFFE, 3, new DebugExit()));
        Assert.Equal("count", e.ParamName);
        Assert.Contains("port range 0xfffe+3 is outside the port space", e.Message, StringComparison.Ordinal);
        Assert.Null(empty.DeviceAt(0xFFFE));
        Assert.Null(empty.DeviceAt(0xFFFF));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void An_empty_or_negative_range_is_refused(int count)
    {
        var e = Assert.Throws<ArgumentException>(() => new PortBus().Register(0x80, count, new DebugExit()));
        Assert.Equal("count", e.ParamName);
    }

    [Fact]
    public void A_refused_registration_claims_nothing_and_names_the_owner()
    {
        var bus = new PortBus();
        var pic = new Pic8259Stub();
        bus.Register(0x20, 2, pic);
        var late = new DebugExit();

        // 0x1E and 0x1F are free; 0x20 is taken: none of the three may end up with the late device.
        var e = Assert.Throws<ArgumentException>(() => bus.Register(0x1E, 3, late));

        Assert.Equal("first", e.ParamName);
        Assert.Contains("port 0x20 is already claimed by Pic8259Stub", e.Message, StringComparison.Ordinal);
        Assert.Null(bus.DeviceAt(0x1E));
        Assert.Null(bus.DeviceAt(0x1F));
        Assert.Same(pic, bus.DeviceAt(0x20));
        bus.Register(0x1E, 2, late); // and the free part is still free
        Assert.Same(late, bus.DeviceAt(0x1F));
    }

    [Fact]
    public void Reads_and_writes_are_cut_to_their_size()
    {
        var bus = new PortBus();
        var pic = new Pic8259Stub();
        bus.Register(0x21, 1, pic);

        bus.Write(0x21, 0x1234_56AB, 1);

        Assert.Equal(0xABu, bus.Read(0x21, 1));
        Assert.Equal("device", Assert.Throws<ArgumentNullException>(() => bus.Register(0x80, 1, null!)).ParamName);
    }
}
