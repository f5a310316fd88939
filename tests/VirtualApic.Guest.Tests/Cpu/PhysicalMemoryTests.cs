// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Runtime.InteropServices;
using VirtualApic.Guest.Cpu;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>Guest RAM: zeroed, and on Linux advised for transparent huge pages (Cpu/HugePageAdvice.cs).</summary>
public class PhysicalMemoryTests
{
    private const long HugePage = 2 << 20;

    [Fact]
    public void Ram_starts_zeroed_and_keeps_what_is_written()
    {
        var memory = new PhysicalMemory(8 * HugePage);
        Assert.True(memory.Bytes.IndexOfAnyExcept((byte)0) < 0);
        memory.Write(HugePage - 2, [1, 2, 3, 4]);
        Assert.Equal([1, 2, 3, 4], memory.Bytes.Slice((int)HugePage - 2, 4).ToArray());
    }

    [Fact]
    public void Ram_whole_huge_pages_are_advised_for_transparent_huge_pages()
    {
        // The kernel lists the advice as "hg" in the VmFlags of the mapping (proc(5), /proc/pid/smaps).
        Assert.SkipUnless(OperatingSystem.IsLinux(), "madvise(MADV_HUGEPAGE) and /proc/self/smaps are Linux's");
        Assert.SkipUnless(Directory.Exists("/sys/kernel/mm/transparent_hugepage"), "this kernel has no transparent huge pages");
        var memory = new PhysicalMemory(8 * HugePage);
        long start = Marshal.UnsafeAddrOfPinnedArrayElement(memory.Ram, 0);
        long firstWhole = (start + HugePage - 1) & ~(HugePage - 1);
        long lastWhole = ((start + memory.Size) & ~(HugePage - 1)) - 1;

        Assert.Contains("hg", VmFlagsAt(firstWhole));
        Assert.Contains("hg", VmFlagsAt(lastWhole));
        GC.KeepAlive(memory);
    }

    // The VmFlags of the mapping that holds address.
    private static string[] VmFlagsAt(long address)
    {
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && long.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long from)
                && long.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long to))
            {
                inside = address >= from && address < to;
            }
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                return line["VmFlags:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        throw new InvalidOperationException($"no mapping holds 0x{address:X} in /proc/self/smaps");
    }
}
