// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using VirtualApic.Guest.Boot;

namespace VirtualApic.Guest.Tests.Boot;

/// <summary>The rules <see cref="MultibootImage.Parse"/> and <see cref="MultibootImage.FromFile"/> check, one per test.</summary>
public class MultibootParseRuleTests
{
    private static readonly byte[] Code = [0xFA, 0xF4]; // cli; hlt

    // TestImages.Elf32 lays out: ELF header (52), one program header (32), then the segment (offset 84).
    private const int SegmentOffset = 84;

    [Fact]
    public void Null_arguments_are_argument_errors_not_boot_image_errors()
    {
        Assert.Throws<ArgumentNullException>(() => MultibootImage.FromFile(null!));
        Assert.Throws<ArgumentNullException>(() => MultibootImage.Parse(TestImages.Elf32(Code), null!));
    }

    [Fact]
    public void A_missing_file_is_a_boot_image_error_naming_the_path()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "no-such-image.flat");
        var e = Assert.Throws<BootImageException>(() => MultibootImage.FromFile(path));
        Assert.StartsWith(path + ": cannot read the image: ", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<IOException>(e.InnerException);
    }

    [Fact]
    public void A_directory_is_a_boot_image_error_naming_the_path()
    {
        string path = AppContext.BaseDirectory;
        var e = Assert.Throws<BootImageException>(() => MultibootImage.FromFile(path));
        Assert.StartsWith(path + ": cannot read the image: ", e.Message, StringComparison.Ordinal);
        Assert.IsType<UnauthorizedAccessException>(e.InnerException);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_file_is_elf_only_when_all_four_magic_bytes_match(int corrupt)
    {
        byte[] file = TestImages.Elf32(Code);
        file[corrupt] ^= 0x20;
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file, "m.flat"));
        Assert.Equal("m.flat: not a Multiboot image this loader takes: a Multiboot header but no ELF container", e.Message);
    }

    [Fact]
    public void The_bare_four_byte_elf_magic_is_a_truncated_elf()
    {
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse([0x7F, (byte)'E', (byte)'L', (byte)'F'], "m.flat"));
        Assert.Equal("m.flat: truncated: 4 bytes, shorter than an ELF32 header (52)", e.Message);
    }

    [Fact]
    public void A_multiboot_header_outside_an_elf_container_is_refused_naming_the_a_out_kludge_when_flagged()
    {
        var plain = Assert.Throws<BootImageException>(() => MultibootImage.Parse(RawHeader(0, 0, 64), "raw.bin"));
        Assert.EndsWith("a Multiboot header but no ELF container", plain.Message, StringComparison.Ordinal);

        var kludge = Assert.Throws<BootImageException>(() => MultibootImage.Parse(RawHeader(0x1_0000, 0, 64), "raw.bin"));
        Assert.EndsWith("a Multiboot header but no ELF container (a.out kludge images are not supported)", kludge.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_elf_whose_header_sets_the_a_out_kludge_flag_is_refused()
    {
        // Multiboot spec 3.1.3 (and QEMU's loader): with flag 16 the header's address fields, not the
        // ELF program headers, say where the image goes; loading the ELF segments would put it elsewhere.
        byte[] file = TestImages.Elf32(Code);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(SegmentOffset + 4), 0x1_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(SegmentOffset + 8), unchecked(0u - MultibootImage.HeaderMagic - 0x1_0000));
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file, "k.flat"));
        Assert.Equal("k.flat: the Multiboot header at 0x54 sets flag 16 (the a.out kludge: load by the header's addresses, not the ELF's), which this loader does not support", e.Message);
    }

    [Fact]
    public void A_file_of_exactly_an_elf_header_is_truncated_at_its_program_headers()
    {
        byte[] file = TestImages.Elf32(Code);
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file.AsSpan(0, 52), "cut.flat"));
        Assert.Equal("cut.flat: truncated: program headers end at 0x54, the file has 0x34 bytes", e.Message);
    }

    [Fact]
    public void An_elf64_x86_64_image_is_told_to_use_elf32_not_called_another_architecture()
    {
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(TestImages.Elf32(Code, machine: 62, elfClass: 2), "x.elf"));
        Assert.Contains("objcopy -O elf32-i386", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong architecture", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 2, "ELF class 1, data encoding 2")] // big-endian ELF32
    [InlineData(3, 1, "ELF class 3, data encoding 1")] // no such class
    public void Only_elf32_little_endian_is_taken(byte elfClass, byte encoding, string named)
    {
        byte[] file = TestImages.Elf32(Code, elfClass: elfClass);
        file[5] = encoding;
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file, "be.flat"));
        Assert.Equal($"be.flat: not a Multiboot image: {named} (want ELF32 little-endian)", e.Message);
    }

    [Theory]
    [InlineData(1, 62, "x86-64")]
    [InlineData(1, 40, "ARM")]
    [InlineData(2, 183, "AArch64")]
    [InlineData(1, 243, "RISC-V")]
    [InlineData(1, 8, "MIPS")]
    [InlineData(1, 20, "PowerPC")]
    [InlineData(2, 21, "PowerPC64")]
    [InlineData(2, 3, "i386")]
    [InlineData(1, 0x1234, "0x1234")]
    public void A_foreign_machine_is_named_in_the_refusal(byte elfClass, ushort machine, string name)
    {
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(TestImages.Elf32(Code, machine: machine, elfClass: elfClass), "f.elf"));
        Assert.Contains($"wrong architecture: ELF{(elfClass == 1 ? 32 : 64)} for machine {name}, ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 12, true)]       // the whole file is the header
    [InlineData(8180, 9000, true)]  // the last aligned place wholly inside the first 8 KiB
    [InlineData(8184, 9000, false)] // straddles the 8 KiB limit
    [InlineData(2, 64, false)]      // not 32-bit aligned
    public void The_header_is_searched_at_aligned_offsets_wholly_inside_the_first_8_KiB(int offset, int length, bool found)
    {
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(RawHeader(0, offset, length), "s.bin"));
        Assert.Equal(found, e.Message.EndsWith("a Multiboot header but no ELF container", StringComparison.Ordinal));
        Assert.Equal(!found, e.Message.Contains("no header", StringComparison.Ordinal));
    }

    [Fact]
    public void The_header_flags_count_in_its_checksum()
    {
        // Bits 0 and 1 (page alignment, memory information) are the requests this loader meets.
        byte[] file = TestImages.Elf32(Code);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(SegmentOffset + 4), 3);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(SegmentOffset + 8), unchecked(0u - MultibootImage.HeaderMagic - 3));
        Assert.Equal(TestImages.LoadAddress + 12, MultibootImage.Parse(file, "f.flat").Entry);

        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(SegmentOffset + 8), unchecked(0u - MultibootImage.HeaderMagic));
        Assert.Throws<BootImageException>(() => MultibootImage.Parse(file, "f.flat"));
    }

    [Fact]
    public void A_header_requesting_features_beyond_bits_0_and_1_is_refused()
    {
        byte[] file = TestImages.Elf32(Code);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(SegmentOffset + 4), 4); // video mode
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(SegmentOffset + 8), unchecked(0u - MultibootImage.HeaderMagic - 4));
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file, "v.flat"));
        Assert.Equal("v.flat: the Multiboot header at 0x54 requires features 0x4 this loader does not provide", e.Message);
    }

    [Fact]
    public void Zero_bytes_are_not_a_header()
    {
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(new byte[16], "z.bin"));
        Assert.Equal("z.bin: not a Multiboot image: no header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB and not ELF", e.Message);
    }

    [Fact]
    public void A_file_shorter_than_a_header_is_reported_by_its_length()
    {
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse("hello world"u8, "h.txt"));
        Assert.Equal("h.txt: not a Multiboot image: 11 bytes", e.Message);

        e = Assert.Throws<BootImageException>(() => MultibootImage.Parse("hello world!"u8, "h.txt"));
        Assert.Equal("h.txt: not a Multiboot image: no header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB and not ELF", e.Message);
    }

    [Fact]
    public void An_elf_without_a_header_is_not_called_not_elf()
    {
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(TestImages.Elf32(Code, header: false), "p.elf"));
        Assert.Equal("p.elf: not a Multiboot image: no header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB", e.Message);
    }

    [Fact]
    public void There_must_be_program_headers_of_at_least_32_bytes()
    {
        byte[] none = TestImages.Elf32(Code);
        BinaryPrimitives.WriteUInt16LittleEndian(none.AsSpan(44), 0);
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(none, "n.flat"));
        Assert.Equal("n.flat: not a loadable ELF32 image: 0 program headers of 32 bytes", e.Message);

        byte[] small = TestImages.Elf32(Code);
        BinaryPrimitives.WriteUInt16LittleEndian(small.AsSpan(42), 16);
        e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(small, "n.flat"));
        Assert.Equal("n.flat: not a loadable ELF32 image: 1 program headers of 16 bytes", e.Message);

        // Larger entries are allowed: the loader reads the first 32 bytes of each.
        byte[] large = TestImages.Elf32(Code);
        BinaryPrimitives.WriteUInt16LittleEndian(large.AsSpan(42), 40);
        Assert.Single(MultibootImage.Parse(large, "n.flat").Segments);
    }

    [Fact]
    public void Program_headers_may_end_exactly_at_the_end_of_the_file()
    {
        byte[] file = WithProgramHeaders(TestImages.Elf32(Code), 32, [1, SegmentOffset, TestImages.LoadAddress, 14, 14]);
        Assert.Equal(TestImages.LoadAddress, MultibootImage.Parse(file, "e.flat").Segments[0].PhysicalAddress);

        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file.AsSpan(0, file.Length - 1), "e.flat"));
        Assert.Equal($"e.flat: truncated: program headers end at 0x{file.Length:x}, the file has 0x{file.Length - 1:x} bytes", e.Message);
    }

    [Fact]
    public void Each_program_header_is_read_at_its_own_index_and_only_pt_load_is_loaded()
    {
        byte[] file = WithProgramHeaders(
            TestImages.Elf32(Code),
            40,
            [4, 0, 0, 0, 0], // PT_NOTE
            [1, SegmentOffset, TestImages.LoadAddress, 14, 14],
            [1, SegmentOffset, TestImages.LoadAddress + 0x1000, 12, 0x100]);
        var image = MultibootImage.Parse(file, "two.flat");
        Assert.Equal(
            [new LoadSegment(TestImages.LoadAddress, SegmentOffset, 14, 14), new LoadSegment(TestImages.LoadAddress + 0x1000, SegmentOffset, 12, 0x100)],
            image.Segments);
    }

    [Fact]
    public void An_elf_without_a_pt_load_segment_is_refused()
    {
        byte[] file = WithProgramHeaders(TestImages.Elf32(Code), 32, [4, SegmentOffset, TestImages.LoadAddress, 14, 14]);
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file, "note.flat"));
        Assert.Equal("note.flat: not a loadable ELF32 image: no PT_LOAD segment", e.Message);
    }

    [Fact]
    public void A_segment_past_the_end_of_the_file_is_truncated_naming_where_it_ends()
    {
        byte[] file = TestImages.Elf32(new byte[64]); // segment: 12 + 64 bytes from 0x54, to 0xa0
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file.AsSpan(0, 120), "cut.flat"));
        Assert.Equal("cut.flat: truncated: PT_LOAD segment 0 needs file bytes up to 0xa0, the file has 0x78", e.Message);
    }

    [Fact]
    public void A_segment_smaller_in_memory_than_in_the_file_is_refused()
    {
        byte[] file = TestImages.Elf32(Code);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(52 + 20), 4);
        var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file, "m.flat"));
        Assert.Equal("m.flat: malformed PT_LOAD segment 0: memory size 0x4 below file size 0xe", e.Message);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(13, true)]   // the last file byte
    [InlineData(14, false)]  // just past the file bytes
    [InlineData(-1, false)]  // just before the segment
    public void The_entry_point_must_lie_in_a_segment_s_file_bytes(int fromStart, bool accepted)
    {
        byte[] file = TestImages.Elf32(Code, bss: 0x100);
        uint entry = (uint)(TestImages.LoadAddress + fromStart);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(24), entry);
        if (accepted)
        {
            Assert.Equal(entry, MultibootImage.Parse(file, "e.flat").Entry);
        }
        else
        {
            var e = Assert.Throws<BootImageException>(() => MultibootImage.Parse(file, "e.flat"));
            Assert.Equal($"e.flat: the entry point 0x{entry:x} lies in no loaded segment", e.Message);
        }
    }

    /// <summary>A non-ELF file of <paramref name="length"/> bytes (0xCC filler) with a valid header at <paramref name="offset"/>.</summary>
    private static byte[] RawHeader(uint flags, int offset, int length)
    {
        byte[] file = new byte[length];
        file.AsSpan().Fill(0xCC);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(offset), MultibootImage.HeaderMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(offset + 4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(offset + 8), unchecked(0u - MultibootImage.HeaderMagic - flags));
        return file;
    }

    /// <summary>Appends a new program header table (entries: type, offset, paddr, filesz, memsz) and points the ELF header at it.</summary>
    private static byte[] WithProgramHeaders(byte[] image, ushort entrySize, params uint[][] entries)
    {
        int table = (image.Length + 3) & ~3;
        byte[] file = new byte[table + (entries.Length * entrySize)];
        image.CopyTo(file, 0);
        for (int i = 0; i < entries.Length; i++)
        {
            var ph = file.AsSpan(table + (i * entrySize));
            BinaryPrimitives.WriteUInt32LittleEndian(ph, entries[i][0]);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], entries[i][1]);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[8..], entries[i][2]);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[12..], entries[i][2]);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[16..], entries[i][3]);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[20..], entries[i][4]);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(28), (uint)table);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(42), entrySize);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(44), (ushort)entries.Length);
        return file;
    }
}
