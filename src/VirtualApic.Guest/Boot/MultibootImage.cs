// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using VirtualApic.Guest.Cpu;

namespace VirtualApic.Guest.Boot;

/// <summary>
/// A Multiboot v1 kernel in an ELF32 container, the form kvm-unit-tests' <c>.flat</c> files take
/// (x86-64 code linked at 4 MiB, re-wrapped by <c>objcopy -O elf32-i386</c> because QEMU's Multiboot
/// loader takes ELF32 only). <see cref="Parse"/> checks the file; <see cref="Load"/> copies it into guest
/// RAM with a Multiboot information structure, a command line and one module, as QEMU's loader does.
/// </summary>
/// <remarks>Multiboot Specification 0.6.96, sections 3.1 (header), 3.2 (machine state) and 3.3 (information).</remarks>
public sealed class MultibootImage
{
    /// <summary>The header magic (Multiboot spec 3.1.2).</summary>
    public const uint HeaderMagic = 0x1BAD_B002;

    /// <summary>EAX at entry (Multiboot spec 3.2).</summary>
    public const uint BootloaderMagic = 0x2BAD_B002;

    /// <summary>Where the information structure goes (below 1 MiB, clear of page 0 that the APs' trampoline takes).</summary>
    public const uint InfoAddress = 0x9000;

    /// <summary>Where the module descriptor goes.</summary>
    public const uint ModuleListAddress = 0x9100;

    /// <summary>Where the command line goes (up to <see cref="MaxCommandLine"/> bytes with its NUL).</summary>
    public const uint CommandLineAddress = 0x9200;

    /// <summary>The longest command line, NUL included.</summary>
    public const int MaxCommandLine = 0xE00;

    /// <summary>Where the module (the environment file) goes.</summary>
    public const uint ModuleAddress = 0x10000;

    /// <summary>The largest module (kvm-unit-tests reads at most 16 KiB of it).</summary>
    public const int MaxModule = 0x10000;

    private const int HeaderSearchLength = 8192;
    private const uint FlagMemory = 1u << 0;
    private const uint FlagCommandLine = 1u << 2;
    private const uint FlagModules = 1u << 3;
    private const uint HeaderFlagAoutKludge = 1u << 16;
    private const ushort MachineI386 = 3;
    private const ushort MachineX86_64 = 62;

    private readonly byte[] _file;

    private MultibootImage(string name, byte[] file, uint entry, LoadSegment[] segments)
    {
        Name = name;
        _file = file;
        Entry = entry;
        Segments = segments;
    }

    /// <summary>The image's name (its file name), used as argv[0] on the command line.</summary>
    public string Name { get; }

    /// <summary>The entry point (e_entry), a physical address in 32-bit protected mode.</summary>
    public uint Entry { get; }

    /// <summary>The PT_LOAD segments.</summary>
    public IReadOnlyList<LoadSegment> Segments { get; }

    /// <summary>Reads and checks an image file.</summary>
    /// <exception cref="BootImageException">The file is missing or unreadable, or <see cref="Parse"/> refuses it.</exception>
    public static MultibootImage FromFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new BootImageException($"{path}: cannot read the image: {e.Message}", e);
        }

        return Parse(bytes, Path.GetFileName(path));
    }

    /// <summary>Checks <paramref name="file"/>: a Multiboot v1 header in the first 8 KiB, an ELF32
    /// little-endian i386 container with PT_LOAD segments inside the file.</summary>
    /// <param name="file">The image bytes.</param>
    /// <param name="name">The image's name, for messages and argv[0].</param>
    /// <exception cref="BootImageException">Not a Multiboot image, truncated, or for another architecture.</exception>
    public static MultibootImage Parse(ReadOnlySpan<byte> file, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        bool isElf = file.Length >= 4 && file[0] == 0x7F && file[1] == (byte)'E' && file[2] == (byte)'L' && file[3] == (byte)'F';
        if (isElf)
        {
            CheckElfIdentity(file, name);
        }

        // A truncated ELF is reported as truncated even when the cut also took the Multiboot header.
        var elf = isElf ? ReadElf32(file, name) : default;
        uint headerFlags = FindHeader(file, name, isElf);
        if (!isElf)
        {
            throw new BootImageException($"{name}: not a Multiboot image this loader takes: a Multiboot header but no ELF container{((headerFlags & HeaderFlagAoutKludge) != 0 ? " (a.out kludge images are not supported)" : "")}");
        }

        return new MultibootImage(name, file.ToArray(), elf.Entry, elf.Segments);
    }

    private static void CheckElfIdentity(ReadOnlySpan<byte> file, string name)
    {
        if (file.Length < 52)
        {
            throw new BootImageException($"{name}: truncated: {file.Length} bytes, shorter than an ELF32 header (52)");
        }

        if (file[4] == 2)
        {
            ushort machine64 = BinaryPrimitives.ReadUInt16LittleEndian(file[18..]);
            throw new BootImageException(machine64 == MachineX86_64
                ? $"{name}: an ELF64 image; Multiboot v1 takes ELF32 (kvm-unit-tests builds .flat files with objcopy -O elf32-i386)"
                : $"{name}: wrong architecture: ELF64 for machine {MachineName(machine64)}, not an x86 Multiboot image");
        }

        if (file[4] != 1 || file[5] != 1)
        {
            throw new BootImageException($"{name}: not a Multiboot image: ELF class {file[4]}, data encoding {file[5]} (want ELF32 little-endian)");
        }

        ushort machine = BinaryPrimitives.ReadUInt16LittleEndian(file[18..]);
        if (machine != MachineI386)
        {
            throw new BootImageException($"{name}: wrong architecture: ELF32 for machine {MachineName(machine)}, not i386 (the container of an x86 Multiboot image)");
        }
    }

    private static string MachineName(ushort machine) => machine switch
    {
        MachineI386 => "i386",
        MachineX86_64 => "x86-64",
        40 => "ARM",
        183 => "AArch64",
        243 => "RISC-V",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        _ => string.Create(CultureInfo.InvariantCulture, $"0x{machine:x}"),
    };

    private static uint FindHeader(ReadOnlySpan<byte> file, string name, bool isElf)
    {
        int limit = Math.Min(file.Length, HeaderSearchLength) - 12;
        for (int offset = 0; offset <= limit; offset += 4)
        {
            uint magic = BinaryPrimitives.ReadUInt32LittleEndian(file[offset..]);
            if (magic != HeaderMagic)
            {
                continue;
            }

            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(file[(offset + 4)..]);
            uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(file[(offset + 8)..]);
            if (unchecked(magic + flags + checksum) == 0)
            {
                if ((flags & 0xFFFC) != 0)
                {
                    throw new BootImageException($"{name}: the Multiboot header at 0x{offset:x} requires features 0x{flags & 0xFFFC:x} this loader does not provide");
                }

                // Spec 3.1.3: with flag 16 the header's address fields override the executable's own
                // headers (QEMU loads such an ELF by them too); this loader reads only the ELF's.
                if (isElf && (flags & HeaderFlagAoutKludge) != 0)
                {
                    throw new BootImageException($"{name}: the Multiboot header at 0x{offset:x} sets flag 16 (the a.out kludge: load by the header's addresses, not the ELF's), which this loader does not support");
                }

                return flags;
            }
        }

        throw new BootImageException(file.Length < 12
            ? $"{name}: not a Multiboot image: {file.Length} bytes"
            : $"{name}: not a Multiboot image: no header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB{(isElf ? "" : " and not ELF")}");
    }

    private static (uint Entry, LoadSegment[] Segments) ReadElf32(ReadOnlySpan<byte> file, string name)
    {
        uint entry = BinaryPrimitives.ReadUInt32LittleEndian(file[24..]);
        uint phoff = BinaryPrimitives.ReadUInt32LittleEndian(file[28..]);
        ushort phentsize = BinaryPrimitives.ReadUInt16LittleEndian(file[42..]);
        ushort phnum = BinaryPrimitives.ReadUInt16LittleEndian(file[44..]);
        if (phnum == 0 || phentsize < 32)
        {
            throw new BootImageException($"{name}: not a loadable ELF32 image: {phnum} program headers of {phentsize} bytes");
        }

        if ((ulong)phoff + ((ulong)phnum * phentsize) > (ulong)file.Length)
        {
            throw new BootImageException($"{name}: truncated: program headers end at 0x{(ulong)phoff + ((ulong)phnum * phentsize):x}, the file has 0x{file.Length:x} bytes");
        }

        var segments = new List<LoadSegment>();
        for (int i = 0; i < phnum; i++)
        {
            var ph = file[(int)(phoff + (uint)(i * phentsize))..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1)
            {
                continue; // not PT_LOAD
            }

            var s = new LoadSegment(
                PhysicalAddress: BinaryPrimitives.ReadUInt32LittleEndian(ph[12..]),
                FileOffset: BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]),
                FileSize: BinaryPrimitives.ReadUInt32LittleEndian(ph[16..]),
                MemorySize: BinaryPrimitives.ReadUInt32LittleEndian(ph[20..]));
            if ((ulong)s.FileOffset + s.FileSize > (ulong)file.Length)
            {
                throw new BootImageException($"{name}: truncated: PT_LOAD segment {i} needs file bytes up to 0x{(ulong)s.FileOffset + s.FileSize:x}, the file has 0x{file.Length:x}");
            }

            if (s.MemorySize < s.FileSize)
            {
                throw new BootImageException($"{name}: malformed PT_LOAD segment {i}: memory size 0x{s.MemorySize:x} below file size 0x{s.FileSize:x}");
            }

            segments.Add(s);
        }

        if (segments.Count == 0)
        {
            throw new BootImageException($"{name}: not a loadable ELF32 image: no PT_LOAD segment");
        }

        if (!segments.Exists(s => entry >= s.PhysicalAddress && entry < s.PhysicalAddress + s.FileSize))
        {
            throw new BootImageException($"{name}: the entry point 0x{entry:x} lies in no loaded segment");
        }

        return (entry, [.. segments]);
    }

    /// <summary>
    /// Copies the segments into <paramref name="memory"/> and writes the Multiboot information
    /// (memory sizes, command line, one module) below 1 MiB.
    /// </summary>
    /// <param name="memory">Guest RAM.</param>
    /// <param name="commandLine">The command line (QEMU passes "&lt;kernel&gt; &lt;-append&gt;").</param>
    /// <param name="module">The module's bytes (kvm-unit-tests reads its environment from it).</param>
    /// <returns>The physical address of the information structure (EBX at entry).</returns>
    /// <exception cref="BootImageException">A segment does not fit in RAM or overlaps the boot data; the command line or module is too long.</exception>
    public uint Load(PhysicalMemory memory, string commandLine, ReadOnlySpan<byte> module)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(commandLine);
        foreach (var s in Segments)
        {
            ulong end = (ulong)s.PhysicalAddress + s.MemorySize;
            if (end > (ulong)memory.Size)
            {
                throw new BootImageException($"{Name}: segment at 0x{s.PhysicalAddress:x} (0x{s.MemorySize:x} bytes) does not fit in {memory.Size >> 20} MiB of RAM");
            }

            if (s.PhysicalAddress < ModuleAddress + MaxModule && end > InfoAddress)
            {
                throw new BootImageException($"{Name}: segment at 0x{s.PhysicalAddress:x} overlaps the Multiboot information at 0x{InfoAddress:x}-0x{ModuleAddress + MaxModule:x}");
            }

            memory.Write(s.PhysicalAddress, _file.AsSpan((int)s.FileOffset, (int)s.FileSize));
            if (s.MemorySize > s.FileSize)
            {
                memory.Write(s.PhysicalAddress + s.FileSize, new byte[s.MemorySize - s.FileSize]);
            }
        }

        byte[] cmd = Encoding.ASCII.GetBytes(commandLine + "\0");
        if (cmd.Length > MaxCommandLine)
        {
            throw new BootImageException($"{Name}: the command line is {cmd.Length} bytes, more than {MaxCommandLine}");
        }

        if (module.Length > MaxModule - 1)
        {
            throw new BootImageException($"{Name}: the module is {module.Length} bytes, more than {MaxModule - 1}");
        }

        memory.Write(CommandLineAddress, cmd);
        memory.Write(ModuleAddress, module);
        memory.Write(ModuleAddress + (uint)module.Length, [0]);

        // struct multiboot_module: mod_start, mod_end, string, reserved.
        memory.WriteUInt32(ModuleListAddress, ModuleAddress);
        memory.WriteUInt32(ModuleListAddress + 4, ModuleAddress + (uint)module.Length);
        memory.WriteUInt32(ModuleListAddress + 8, CommandLineAddress + (uint)cmd.Length - 1); // an empty string
        memory.WriteUInt32(ModuleListAddress + 12, 0);

        // struct multiboot_info (spec 3.3): flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr.
        byte[] info = new byte[88];
        BinaryPrimitives.WriteUInt32LittleEndian(info, FlagMemory | FlagCommandLine | FlagModules);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(4), 640);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(8), (uint)((memory.Size - 0x10_0000) / 1024));
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(16), CommandLineAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(24), ModuleListAddress);
        memory.Write(InfoAddress, info);
        return InfoAddress;
    }
}
