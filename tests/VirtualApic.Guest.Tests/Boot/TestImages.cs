// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using Iced.Intel;
using VirtualApic.Guest.Boot;

namespace VirtualApic.Guest.Tests.Boot;

/// <summary>Builds small Multiboot v1 ELF32 images in memory (no external toolchain).</summary>
internal static class TestImages
{
    public const uint LoadAddress = 0x40_0000;

    /// <summary>An ELF32 i386 image: one PT_LOAD at 4 MiB holding a Multiboot header then <paramref name="code"/>
    /// (entry right after the header), with <paramref name="bss"/> zero bytes after it.</summary>
    public static byte[] Elf32(byte[] code, uint bss = 0, ushort machine = 3, byte elfClass = 1, bool header = true)
    {
        const int ehsize = 52, phsize = 32;
        int payload = (header ? 12 : 0) + code.Length;
        byte[] file = new byte[ehsize + phsize + payload];
        file[0] = 0x7F;
        file[1] = (byte)'E';
        file[2] = (byte)'L';
        file[3] = (byte)'F';
        file[4] = elfClass;
        file[5] = 1; // little-endian
        file[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(16), 2); // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(18), machine);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(20), 1);
        uint entry = LoadAddress + (header ? 12u : 0u);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(24), entry);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(28), ehsize); // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(40), ehsize);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(42), phsize);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(44), 1);
        var ph = file.AsSpan(ehsize);
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1); // PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], ehsize + phsize);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[8..], LoadAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[12..], LoadAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[16..], (uint)payload);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[20..], (uint)payload + bss);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[24..], 7);
        var body = file.AsSpan(ehsize + phsize);
        if (header)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(body, 0x1BADB002);
            BinaryPrimitives.WriteUInt32LittleEndian(body[4..], 0);
            BinaryPrimitives.WriteUInt32LittleEndian(body[8..], unchecked(0u - 0x1BADB002));
            body = body[12..];
        }

        code.CopyTo(body);
        return file;
    }

    /// <summary>A parsed image ("test.flat") whose entry runs the 32-bit code <paramref name="build"/> assembles.</summary>
    public static MultibootImage Image(Action<Assembler> build) => MultibootImage.Parse(Elf32(Code32(build)), "test.flat");

    /// <summary>Assembles 32-bit code placed at the image's entry point.</summary>
    public static byte[] Code32(Action<Assembler> build)
    {
        var a = new Assembler(32);
        build(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), LoadAddress + 12);
        return stream.ToArray();
    }
}
