// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using System.Text;
using VirtualApic.Guest.Boot;
using VirtualApic.Guest.Cpu;
using VirtualApic.Guest.Tests.Kut;

namespace VirtualApic.Guest.Tests.Boot;

public class MultibootImageTests
{
    private static readonly byte[] Code = [0xFA, 0xF4]; // cli; hlt

    [Fact]
    public void Loads_segments_zeroes_bss_and_writes_the_multiboot_information()
    {
        var image = MultibootImage.Parse(TestImages.Elf32(Code, bss: 0x2000), "t.flat");
        Assert.Equal(TestImages.LoadAddress + 12, image.Entry);
        var ram = new PhysicalMemory(128 << 20);
        ram.Bytes.Slice((int)TestImages.LoadAddress + 14, 0x2000).Fill(0xAA);

        uint mbi = image.Load(ram, "t.flat ipi", "NR_CPUS=2\n"u8);

        Assert.Equal(MultibootImage.InfoAddress, mbi);
        Assert.Equal(0xFA, ram.Bytes[(int)TestImages.LoadAddress + 12]);
        Assert.Equal(0xF4, ram.Bytes[(int)TestImages.LoadAddress + 13]);
        Assert.True(ram.Bytes.Slice((int)TestImages.LoadAddress + 14, 0x2000).IndexOfAnyExcept((byte)0) < 0, "bss is zeroed");

        Assert.Equal(0b1101u, ram.ReadUInt32(mbi));            // MEM | CMDLINE | MODS
        Assert.Equal(640u, ram.ReadUInt32(mbi + 4));
        Assert.Equal(130048u, ram.ReadUInt32(mbi + 8));        // QEMU's mem_upper for 128 MiB
        Assert.Equal("t.flat ipi", CString(ram, ram.ReadUInt32(mbi + 16)));
        Assert.Equal(1u, ram.ReadUInt32(mbi + 20));
        uint mods = ram.ReadUInt32(mbi + 24);
        uint start = ram.ReadUInt32(mods), end = ram.ReadUInt32(mods + 4);
        byte[] module = new byte[end - start];
        ram.Read(start, module);
        Assert.Equal("NR_CPUS=2\n", Encoding.ASCII.GetString(module));
    }

    [Fact]
    public void A_file_without_a_multiboot_header_is_refused()
    {
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(TestImages.Elf32(Code, header: false), "plain.elf"));
        Assert.StartsWith("plain.elf: not a Multiboot image", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(Encoding.ASCII.GetBytes("#!/bin/sh\necho hello\n"), "script.sh"));
        Assert.StartsWith("script.sh: not a Multiboot image", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData(10)]      // inside the ELF header
    [InlineData(60)]      // inside the program header
    [InlineData(120)]     // inside the segment
    public void A_truncated_file_is_refused(int length)
    {
        byte[] file = TestImages.Elf32(new byte[64]);
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file.AsSpan(0, length), "cut.flat"));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.StartsWith("cut.flat: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_image_for_another_architecture_is_refused()
    {
        var arm = Assert.Throws<BootImageException>(() => MultibootImage.Parse(TestImages.Elf32(Code, machine: 40), "arm.flat"));
        Assert.Contains("wrong architecture", arm.Message, StringComparison.Ordinal);
        Assert.Contains("ARM", arm.Message, StringComparison.Ordinal);

        var aarch64 = Assert.Throws<BootImageException>(() => MultibootImage.Parse(TestImages.Elf32(Code, machine: 183, elfClass: 2), "a64.elf"));
        Assert.Contains("wrong architecture", aarch64.Message, StringComparison.Ordinal);

        var elf64 = Assert.Throws<BootImageException>(() => MultibootImage.Parse(TestImages.Elf32(Code, machine: 62, elfClass: 2), "x.elf"));
        Assert.Contains("ELF64", elf64.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_segment_beyond_ram_is_refused_at_load()
    {
        var image = MultibootImage.Parse(TestImages.Elf32(Code, bss: 8 << 20), "big.flat");
        var e = Assert.Throws<BootImageException>(() => image.Load(new PhysicalMemory(8 << 20), "big.flat", []));
        Assert.Contains("does not fit", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_header_checksum_is_not_a_header()
    {
        byte[] file = TestImages.Elf32(Code);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(84 + 8), 0x1234);
        Assert.Throws<BootImageException>(() => MultibootImage.Parse(file, "bad.flat"));
    }

    [Fact]
    public void The_real_apic_flat_parses_as_the_notes_describe()
    {
        string dir = KutTestData.Require();
        var image = MultibootImage.FromFile(Path.Combine(dir, "apic.flat"));
        Assert.Equal(0x4000BCu, image.Entry);
        Assert.Equal(2, image.Segments.Count);
        Assert.Equal(0x4000B0u, image.Segments[0].PhysicalAddress);
    }

    private static string CString(PhysicalMemory ram, uint address)
    {
        var sb = new StringBuilder();
        for (uint a = address; ram.Bytes[(int)a] != 0; a++)
        {
            sb.Append((char)ram.Bytes[(int)a]);
        }

        return sb.ToString();
    }
}
