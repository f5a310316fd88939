// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using VirtualApic.Guest.Boot;
using VirtualApic.Guest.Cpu;

namespace VirtualApic.Guest.Tests.Boot;

/// <summary>The rules <see cref="MultibootImage.Load"/> follows, one per test. RAM is filled with 0xAA
/// first so that every byte the loader must write (or must not) shows.</summary>
public class MultibootLoadRuleTests
{
    private static readonly byte[] Code = [0xFA, 0xF4]; // cli; hlt
    private const int Payload = 14;                     // the 12-byte header and Code

    [Fact]
    public void Null_arguments_are_argument_errors()
    {
        var image = MultibootImage.Parse(TestImages.Elf32(Code), "t.flat");
        Assert.Throws<ArgumentNullException>(() => image.Load(null!, "t.flat", []));
        Assert.Throws<ArgumentNullException>(() => image.Load(Ram(8 << 20), null!, []));
    }

    [Fact]
    public void A_segment_may_end_exactly_at_the_end_of_ram_but_not_a_byte_beyond()
    {
        const long size = (4 << 20) + 4096;
        var fits = MultibootImage.Parse(TestImages.Elf32(Code, bss: 4096 - Payload), "t.flat");
        fits.Load(Ram(size), "t.flat", []);

        var over = MultibootImage.Parse(TestImages.Elf32(Code, bss: 4096 - Payload + 1), "t.flat");
        var e = Assert.Throws<BootImageException>(() => over.Load(Ram(size), "t.flat", []));
        Assert.Equal("t.flat: segment at 0x400000 (0x1001 bytes) does not fit in 4 MiB of RAM", e.Message);
    }

    [Theory]
    [InlineData(MultibootImage.InfoAddress - Payload, true)]      // ends where the information starts
    [InlineData(MultibootImage.InfoAddress - Payload + 1, false)] // its last byte is the information's first
    [InlineData(MultibootImage.ModuleAddress + MultibootImage.MaxModule - 1, false)]
    [InlineData(MultibootImage.ModuleAddress + MultibootImage.MaxModule, true)] // starts right after the module area
    public void A_segment_may_not_overlap_the_boot_data_from_the_information_to_the_module_area_s_end(uint address, bool accepted)
    {
        var image = MultibootImage.Parse(At(TestImages.Elf32(Code), address), "low.flat");
        var ram = Ram(1 << 20);
        if (accepted)
        {
            image.Load(ram, "low.flat", []);
            Assert.Equal(0xF4, ram.Bytes[(int)address + Payload - 1]);
        }
        else
        {
            var e = Assert.Throws<BootImageException>(() => image.Load(ram, "low.flat", []));
            Assert.Equal($"low.flat: segment at 0x{address:x} overlaps the Multiboot information at 0x9000-0x20000", e.Message);
        }
    }

    [Fact]
    public void The_bss_is_zeroed_up_to_the_memory_size_and_not_beyond()
    {
        var image = MultibootImage.Parse(TestImages.Elf32(Code, bss: 0x100), "t.flat");
        var ram = Ram(8 << 20);
        image.Load(ram, "t.flat", []);
        int bss = (int)TestImages.LoadAddress + Payload;
        Assert.True(ram.Bytes.Slice(bss, 0x100).IndexOfAnyExcept((byte)0) < 0, "bss is zeroed");
        Assert.Equal(0xAA, ram.Bytes[bss + 0x100]);
    }

    [Fact]
    public void The_command_line_with_its_nul_may_take_up_to_MaxCommandLine_bytes()
    {
        var image = MultibootImage.Parse(TestImages.Elf32(Code), "t.flat");
        var ram = Ram(8 << 20);
        image.Load(ram, new string('x', MultibootImage.MaxCommandLine - 1), []);
        const int nul = (int)MultibootImage.CommandLineAddress + MultibootImage.MaxCommandLine - 1;
        Assert.Equal((byte)'x', ram.Bytes[nul - 1]);
        Assert.Equal(0, ram.Bytes[nul]);

        var e = Assert.Throws<BootImageException>(() => image.Load(Ram(8 << 20), new string('x', MultibootImage.MaxCommandLine), []));
        Assert.Equal("t.flat: the command line is 3585 bytes, more than 3584", e.Message);
    }

    [Fact]
    public void The_module_may_take_up_to_MaxModule_bytes_with_a_nul_after_it()
    {
        var image = MultibootImage.Parse(TestImages.Elf32(Code), "t.flat");
        var ram = Ram(8 << 20);
        byte[] module = new byte[MultibootImage.MaxModule - 1];
        module.AsSpan().Fill((byte)'m');
        image.Load(ram, "t.flat", module);
        const int end = (int)MultibootImage.ModuleAddress + MultibootImage.MaxModule - 1;
        Assert.Equal((byte)'m', ram.Bytes[end - 1]);
        Assert.Equal(0, ram.Bytes[end]);
        Assert.Equal((uint)end, ram.ReadUInt32(MultibootImage.ModuleListAddress + 4));

        var e = Assert.Throws<BootImageException>(() => image.Load(Ram(8 << 20), "t.flat", new byte[MultibootImage.MaxModule]));
        Assert.Equal("t.flat: the module is 65536 bytes, more than 65535", e.Message);
    }

    [Fact]
    public void The_module_descriptor_names_the_module_an_empty_string_and_a_zero_reserved_word()
    {
        var image = MultibootImage.Parse(TestImages.Elf32(Code), "t.flat");
        var ram = Ram(8 << 20);
        uint mbi = image.Load(ram, "t.flat ipi", "X=1\n"u8);

        uint mods = ram.ReadUInt32(mbi + 24);
        Assert.Equal(MultibootImage.ModuleAddress, ram.ReadUInt32(mods));
        Assert.Equal(MultibootImage.ModuleAddress + 4, ram.ReadUInt32(mods + 4));
        Assert.Equal(0, ram.Bytes[(int)MultibootImage.ModuleAddress + 4]); // the module is NUL-terminated
        uint name = ram.ReadUInt32(mods + 8);
        Assert.True(name < ram.Size, $"the module string 0x{name:x} is in RAM");
        Assert.Equal(0, ram.Bytes[(int)name]);
        Assert.Equal(0u, ram.ReadUInt32(mods + 12));
    }

    private static PhysicalMemory Ram(long size)
    {
        var ram = new PhysicalMemory(size);
        ram.Bytes.Fill(0xAA);
        return ram;
    }

    /// <summary>Moves TestImages' single segment (and its entry, right after the header) to <paramref name="address"/>.</summary>
    private static byte[] At(byte[] image, uint address)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(24), address + 12);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(52 + 8), address);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(52 + 12), address);
        return image;
    }
}
