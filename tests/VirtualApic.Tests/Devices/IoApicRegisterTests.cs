// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Devices;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;
using IoApicDevice = VirtualApic.Devices.IoApic;

namespace VirtualApic.Tests.Devices;

public class IoApicRegisterTests
{
    [Theory]
    [InlineData(IoApicVersion.Version11, 0x0017_0011u)]
    [InlineData(IoApicVersion.Version20, 0x0017_0020u)]
    public void Version_register_reports_the_version_and_23_as_the_highest_entry_and_is_read_only(IoApicVersion version, uint expected)
    {
        var rig = new IoApicRig(version);
        Assert.Equal(expected, rig.GuestRead(IoApicDevice.VersionIndex));
        rig.GuestWrite(IoApicDevice.VersionIndex, 0xFFFF_FFFF);
        Assert.Equal(expected, rig.Device.ReadRegister(IoApicDevice.VersionIndex));
        Assert.Equal(version, rig.Device.Version);
    }

    [Theory]
    [InlineData(0xFFFF_FFFFu, 0x0F00_0000u)]
    [InlineData(0x0500_0000u, 0x0500_0000u)]
    [InlineData(0xF0FF_FFFFu, 0x0000_0000u)]
    [InlineData(0x1A00_0000u, 0x0A00_0000u)]
    public void Id_register_keeps_bits_27_to_24_only(uint written, uint expected)
    {
        var rig = new IoApicRig();
        rig.GuestWrite(IoApicDevice.IdIndex, written);
        Assert.Equal(expected, rig.GuestRead(IoApicDevice.IdIndex));
    }

    [Fact]
    public void Arbitration_register_reads_as_the_id_and_ignores_writes()
    {
        var rig = new IoApicRig();
        Assert.Equal(0u, rig.GuestRead(IoApicDevice.ArbitrationIndex));
        rig.GuestWrite(IoApicDevice.IdIndex, 0x0700_0000);
        rig.GuestWrite(IoApicDevice.ArbitrationIndex, 0x0300_0000);
        Assert.Equal(0x0700_0000u, rig.GuestRead(IoApicDevice.ArbitrationIndex));
        Assert.Equal(0x0700_0000u, rig.GuestRead(IoApicDevice.IdIndex));
    }

    [Theory]
    [InlineData(0x03u)]
    [InlineData(0x0Fu)]
    [InlineData(0x40u)] // one past entry 23's high half
    [InlineData(0x41u)]
    [InlineData(0xFFu)]
    [InlineData(0x100u)]
    [InlineData(0xFFFF_FFFFu)]
    public void Indexes_that_name_no_register_read_all_ones_and_ignore_writes(uint index)
    {
        var rig = new IoApicRig();
        var before = rig.Device.Save();
        Assert.Equal(IoApicDevice.UnimplementedRegisterValue, rig.Device.ReadRegister(index));
        rig.Device.WriteRegister(index, 0x1234_5678);
        Assert.Equal(before, rig.Device.Save());
        Assert.Empty(rig.Sink.TableChanges);
    }

    [Fact]
    public void Entry_halves_store_every_bit_except_delivery_status_and_remote_irr()
    {
        var rig = new IoApicRig();
        rig.GuestWrite(0x10 + (2 * 5), 0xFFFF_FFFF);
        rig.GuestWrite(0x11 + (2 * 5), 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_AFFFu, rig.GuestRead(0x10 + (2 * 5)));
        Assert.Equal(0xFFFF_FFFFu, rig.GuestRead(0x11 + (2 * 5)));
        Assert.Equal(0xFFFF_FFFF_FFFF_AFFFul, rig.Device.GetEntry(5).Raw);
        Assert.Equal(0x0001_0000u, rig.GuestRead(0x10 + (2 * 4))); // neighbours untouched: still the reset value
        Assert.Equal(0x0001_0000u, rig.GuestRead(0x10 + (2 * 6)));
    }

    [Fact]
    public void Entries_start_masked_with_every_other_bit_clear()
    {
        var rig = new IoApicRig();
        for (int pin = 0; pin < IoApicDevice.PinCount; pin++)
        {
            Assert.Equal(RedirectionEntry.ResetValue, rig.Device.GetEntry(pin).Raw);
            Assert.False(rig.Device.GetLine(pin));
        }
    }

    [Fact]
    public void Remote_irr_and_delivery_status_cannot_be_written()
    {
        var rig = new IoApicRig();
        rig.Route(3, 0x40, TriggerMode.Level);
        rig.Device.SetLine(3, true);
        Assert.True(rig.Device.GetRemoteIrr(3));

        // Rewrite the low half as level with bit 14 clear and bit 12 set: neither sticks.
        rig.GuestWrite(0x10 + (2 * 3), 0x0000_9040);
        var entry = rig.Device.GetEntry(3);
        Assert.True(entry.RemoteIrr);
        Assert.False(entry.DeliveryStatus);
        Assert.Equal(0x0000_C040u, rig.GuestRead(0x10 + (2 * 3)));
    }

    [Fact]
    public void Bits_55_to_48_are_stored_as_written_and_not_used_for_the_destination()
    {
        var rig = new IoApicRig();
        rig.GuestWrite(0x11, 0x05AB_0000); // destination 5, bits 55:48 = 0xAB
        rig.GuestWrite(0x10, 0x0000_0031);
        Assert.Equal(0x05AB_0000u, rig.GuestRead(0x11));
        Assert.Equal(0xAB, rig.Device.GetEntry(0).ExtendedDestination);
        rig.Device.SetLine(0, true);
        Assert.Equal(5u, Assert.Single(rig.Messages).Destination);
    }

    [Fact]
    public void Register_select_is_eight_bits_and_direct_access_leaves_it_alone()
    {
        var rig = new IoApicRig();
        rig.Device.MmioWrite(IoApicDevice.RegisterSelectOffset, 0x1_2311, 4);
        Assert.Equal(0x11u, rig.Device.MmioRead(IoApicDevice.RegisterSelectOffset, 4));
        rig.Device.WriteRegister(0x10, 0x31);
        Assert.Equal(0x31u, rig.Device.ReadRegister(0x10));
        Assert.Equal(0x11u, rig.Device.MmioRead(IoApicDevice.RegisterSelectOffset, 4));
    }

    [Theory]
    [InlineData(1, 0x78u)]
    [InlineData(2, 0x5678u)]
    [InlineData(4, 0x1234_5678u)]
    [InlineData(8, 0x1234_5678u)]
    [InlineData(3, 0u)]
    [InlineData(16, 0u)]
    public void Window_reads_return_the_low_bytes_of_the_register(int size, uint expected)
    {
        var rig = new IoApicRig();
        rig.Device.WriteRegister(0x11, 0x1234_5678);
        rig.Device.MmioWrite(IoApicDevice.RegisterSelectOffset, 0x11, 4);
        Assert.Equal(expected, rig.Device.MmioRead(IoApicDevice.WindowOffset, size));
    }

    [Theory]
    [InlineData(1, 0x0000_0044u)]
    [InlineData(2, 0x0000_3344u)]
    [InlineData(4, 0x1122_3344u)]
    [InlineData(8, 0x1122_3344u)]
    [InlineData(3, 0xFFFF_FFFFu)]
    [InlineData(0, 0xFFFF_FFFFu)]
    public void Window_writes_zero_extend_their_low_bytes_to_the_whole_register(int size, uint expected)
    {
        var rig = new IoApicRig();
        rig.Device.WriteRegister(0x11, 0xFFFF_FFFF);
        rig.Device.MmioWrite(IoApicDevice.RegisterSelectOffset, 0x11, 4);
        rig.Device.MmioWrite(IoApicDevice.WindowOffset, 0xAABB_CCDD_1122_3344, size);
        Assert.Equal(expected, rig.Device.ReadRegister(0x11));
    }

    [Theory]
    [InlineData(1, 0x44u)]
    [InlineData(2, 0x44u)] // IOREGSEL keeps 8 bits whatever the size
    [InlineData(8, 0x44u)]
    [InlineData(5, 0x00u)] // odd size: ignored
    public void Register_select_writes_keep_the_low_byte(int size, uint expected)
    {
        var rig = new IoApicRig();
        rig.Device.MmioWrite(IoApicDevice.RegisterSelectOffset, 0x1122_3344, size);
        Assert.Equal(expected, rig.Device.MmioRead(IoApicDevice.RegisterSelectOffset, 4));
    }

    [Theory]
    [InlineData(0x01ul)]
    [InlineData(0x04ul)]
    [InlineData(0x11ul)]
    [InlineData(0x14ul)]
    [InlineData(0x20ul)]
    [InlineData(0x30ul)]
    [InlineData(0x44ul)]
    [InlineData(0xFFul)]
    public void Other_offsets_read_zero_and_ignore_writes(ulong offset)
    {
        var rig = new IoApicRig(IoApicVersion.Version20);
        rig.Device.MmioWrite(IoApicDevice.RegisterSelectOffset, 0x01, 4); // VER, non-zero if the decode slipped
        var before = rig.Device.Save();
        Assert.Equal(0u, rig.Device.MmioRead(offset, 4));
        Assert.Equal(0u, rig.Device.MmioRead(offset, 1));
        rig.Device.MmioWrite(offset, 0xFFFF_FFFF, 4);
        Assert.Equal(before, rig.Device.Save());
    }

    [Fact]
    public void The_eoi_register_reads_zero()
    {
        var rig = new IoApicRig(IoApicVersion.Version20);
        rig.Device.MmioWrite(IoApicDevice.RegisterSelectOffset, 0x01, 4);
        Assert.Equal(0u, rig.Device.MmioRead(IoApicDevice.EoiOffset, 4));
    }

    [Theory]
    [InlineData(0x100ul)]
    [InlineData(0x1000ul)]
    [InlineData(ulong.MaxValue)]
    public void Offsets_outside_the_window_are_a_caller_error(ulong offset)
    {
        var rig = new IoApicRig();
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.MmioRead(offset, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.MmioWrite(offset, 0, 4));
    }

    [Theory]
    [InlineData(0xFEC0_0000ul, true)]
    [InlineData(0xFEC0_00FFul, true)]
    [InlineData(0xFEC0_0100ul, false)]
    [InlineData(0xFEBF_FFFFul, false)]
    [InlineData(0ul, false)]
    public void ContainsAddress_covers_the_256_byte_window(ulong address, bool expected)
    {
        var rig = new IoApicRig();
        Assert.Equal(IoApicDevice.DefaultBaseAddress, rig.Device.BaseAddress);
        Assert.Equal(expected, rig.Device.ContainsAddress(address));
    }

    [Fact]
    public void Every_entry_write_notifies_the_fabric_and_other_writes_do_not()
    {
        var rig = new IoApicRig();
        rig.GuestWrite(IoApicDevice.IdIndex, 0x0100_0000);
        rig.GuestWrite(0x10 + (2 * 7), 0x0001_0031);
        rig.GuestWrite(0x11 + (2 * 7), 0x0001_0031); // same value again still notifies, as KVM rescans
        rig.GuestWrite(0x11 + (2 * 7), 0x0001_0031);
        rig.Route(9, 0x41);
        Assert.Equal([7, 7, 7, 9], rig.Sink.TableChanges);
    }

    [Fact]
    public void Constructor_rejects_bad_options()
    {
        var clock = new VirtualClock();
        var sink = new RecordingSink();
        var e1 = Assert.Throws<ArgumentException>(() => new IoApicDevice(sink, clock, new IoApicOptions { Version = (IoApicVersion)0x21 }));
        Assert.Contains("Version", e1.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<ArgumentException>(() => new IoApicDevice(sink, clock, new IoApicOptions { BaseAddress = 0xFEC0_0010 }));
        Assert.Contains("BaseAddress", e2.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => new IoApicDevice(null!, clock));
        Assert.Equal("clock", Assert.Throws<ArgumentNullException>(() => new IoApicDevice(sink, null!)).ParamName);

        // A missing argument is reported before the options are looked at.
        var bad = new IoApicOptions { Version = (IoApicVersion)0x21 };
        Assert.Equal("sink", Assert.Throws<ArgumentNullException>(() => new IoApicDevice(null!, clock, bad)).ParamName);
        Assert.Equal("clock", Assert.Throws<ArgumentNullException>(() => new IoApicDevice(sink, null!, bad)).ParamName);
        var moved = new IoApicDevice(sink, clock, new IoApicOptions { BaseAddress = 0xFEC0_1000 });
        Assert.True(moved.ContainsAddress(0xFEC0_1010));
        Assert.False(moved.ContainsAddress(0xFEC0_0010));
    }
}
