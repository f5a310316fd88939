// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using VirtualApic.Registers;
using VirtualApic.Snapshot;

namespace VirtualApic.Cli;

/// <summary>
/// <c>vapic state export IMAGE</c> and <c>vapic state import TEXT --out IMAGE</c>: converts between
/// the 1 KiB <c>kvm_lapic_state</c> image that KVM_GET_LAPIC returns and a readable text with one
/// line per register, <c>OFFSET NAME VALUE</c> (for example <c>0x0f0 SVR 0x000001ff</c>). Export
/// writes every register slot and any other non-zero dword (such as the upper half of a 64-bit
/// ICR); import takes any subset (the rest is zero), checks each name against its offset and
/// refuses anything else with <c>FILE:LINE: message</c>. The round trip is exact.
/// </summary>
internal static class StateCommand
{
    /// <summary>Writes the text form of <paramref name="image"/>.</summary>
    public static string Export(ReadOnlySpan<byte> image)
    {
        if (image.Length != KvmLapicState.Size)
        {
            throw new ArgumentException($"a kvm_lapic_state image is {KvmLapicState.Size} bytes, not {image.Length}", nameof(image));
        }

        var s = new StringBuilder();
        s.Append("# kvm_lapic_state: OFFSET NAME VALUE (32-bit little-endian dwords; '-' for an unnamed slot)\n");
        for (int offset = 0; offset < KvmLapicState.Size; offset += 4)
        {
            uint value = BinaryPrimitives.ReadUInt32LittleEndian(image[offset..]);
            bool slot = (offset & 0xF) == 0;
            string? name = slot ? ApicRegisterNames.NameOf(offset) : null;
            if (name is null && value == 0)
            {
                continue;
            }

            s.Append(CultureInfo.InvariantCulture, $"0x{offset:x3} {name ?? "-",-11} 0x{value:x8}\n");
        }

        return s.ToString();
    }

    /// <summary>Parses the text form; returns the image, or null with <paramref name="error"/> set.</summary>
    public static byte[]? Import(string text, string fileName, out string? error)
    {
        byte[] image = new byte[KvmLapicState.Size];
        var seen = new HashSet<int>();
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Split('#')[0].Trim();
            if (line.Length == 0)
            {
                continue;
            }

            string where = string.Create(CultureInfo.InvariantCulture, $"{fileName}:{i + 1}: ");
            string[] fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length is not (2 or 3))
            {
                error = where + $"expected OFFSET [NAME] VALUE, found '{line}'";
                return null;
            }

            if (!Program.TryParseNumber(fields[0], out ulong offset) || offset >= KvmLapicState.Size || offset % 4 != 0)
            {
                error = where + $"bad offset '{fields[0]}': expected a multiple of 4 below 0x{KvmLapicState.Size:x}";
                return null;
            }

            if (fields.Length == 3 && fields[1] != "-")
            {
                string? expected = (offset & 0xF) == 0 ? ApicRegisterNames.NameOf((int)offset) : null;
                if (!string.Equals(expected, fields[1], StringComparison.OrdinalIgnoreCase))
                {
                    error = where + $"offset 0x{offset:x3} is {(expected is null ? "not a named register" : expected)}, not '{fields[1]}'";
                    return null;
                }
            }

            if (!Program.TryParseNumber(fields[^1], out ulong value) || value > uint.MaxValue)
            {
                error = where + $"bad value '{fields[^1]}': expected a 32-bit number, decimal or 0x hex";
                return null;
            }

            if (!seen.Add((int)offset))
            {
                error = where + $"offset 0x{offset:x3} is given twice";
                return null;
            }

            BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan((int)offset), (uint)value);
        }

        error = null;
        return image;
    }

    public static int ExecuteExport(string path, string? outPath, TextWriter stdout, TextWriter stderr)
    {
        byte[] image;
        try
        {
            image = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"vapic state export: {path}: cannot read: {ex.Message}");
            return Program.ExitUsage;
        }

        if (image.Length != KvmLapicState.Size)
        {
            stderr.WriteLine($"vapic state export: {path}: {image.Length} bytes; a kvm_lapic_state image is exactly {KvmLapicState.Size} bytes");
            return Program.ExitUsage;
        }

        string text = Export(image);
        if (outPath is null)
        {
            stdout.Write(text);
            return Program.ExitPass;
        }

        return TryWrite(outPath, Encoding.UTF8.GetBytes(text), "export", stderr);
    }

    public static int ExecuteImport(string path, string outPath, TextWriter stderr)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"vapic state import: {path}: cannot read: {ex.Message}");
            return Program.ExitUsage;
        }

        byte[]? image = Import(text, path, out string? error);
        if (image is null)
        {
            stderr.WriteLine(error);
            return Program.ExitUsage;
        }

        return TryWrite(outPath, image, "import", stderr);
    }

    private static int TryWrite(string path, byte[] bytes, string verb, TextWriter stderr)
    {
        try
        {
            File.WriteAllBytes(path, bytes);
            return Program.ExitPass;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            stderr.WriteLine($"vapic state {verb}: cannot write '{path}': {ex.Message}");
            return Program.ExitUsage;
        }
    }
}
