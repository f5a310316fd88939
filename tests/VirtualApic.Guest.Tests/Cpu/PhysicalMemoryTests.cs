// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.InteropServices;
using VirtualApic.Guest.Cpu;
using VirtualApic.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>Guest RAM: sizes and bounds, little-endian accessors, platform writes that invalidate decoded code
/// (SDM Vol 3 11.6: code modified in memory is what executes next), and on Linux the advice for transparent huge
/// pages (Cpu/HugePageAdvice.cs).</summary>
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

        Assert.Contains("hg", ProcSmaps.VmFlagsAt(firstWhole));
        Assert.Contains("hg", ProcSmaps.VmFlagsAt(lastWhole));
        GC.KeepAlive(memory);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-4096L)]
    [InlineData(4097L)]
    [InlineData(3 * 4096 + 1L)]
    [InlineData(((long)int.MaxValue + 1) & ~4095L)] // beyond Array.MaxLength
    public void Ram_size_must_be_a_positive_multiple_of_4_KiB_that_fits_one_array(long size)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new PhysicalMemory(size));
        Assert.Equal("size", e.ParamName);
        Assert.Equal(size, e.ActualValue);
        Assert.Contains("multiple of 4 KiB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_smallest_ram_is_one_page()
    {
        var memory = new PhysicalMemory(PhysicalMemory.PageSize);
        Assert.Equal(4096L, memory.Size);
        Assert.Equal(4096, memory.Bytes.Length);
    }

    // (address, length, inside 16 KiB of RAM)
    [Theory]
    [InlineData(0UL, 0L, true)]
    [InlineData(0UL, 16384L, true)]
    [InlineData(0UL, 16385L, false)]
    [InlineData(1UL, 16383L, true)]
    [InlineData(1UL, 16384L, false)]
    [InlineData(16384UL, 0L, true)] // an empty range at the end
    [InlineData(16384UL, 1L, false)]
    [InlineData(16385UL, 0L, false)]
    [InlineData(0UL, -1L, false)]
    [InlineData(ulong.MaxValue, 2L, false)] // no wrap-around
    public void Contains_is_exactly_the_ram_range(ulong address, long length, bool inside)
    {
        var memory = new PhysicalMemory(16384);
        Assert.Equal(inside, memory.Contains(address, length));
    }

    [Theory]
    [InlineData(16383UL, 2)]
    [InlineData(16384UL, 1)]
    [InlineData(ulong.MaxValue, 1)]
    public void Reads_and_writes_outside_ram_throw_naming_the_range(ulong address, int length)
    {
        var memory = new PhysicalMemory(16384);
        var w = Assert.Throws<ArgumentOutOfRangeException>(() => memory.Write(address, new byte[length]));
        Assert.Equal("address", w.ParamName);
        Assert.Contains($"[{address:X}, +{length:X}) is not inside RAM (size 4000)", w.Message, StringComparison.Ordinal);
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => memory.Read(address, new byte[length]));
        Assert.Equal("address", r.ParamName);
        Assert.Contains($"[{address:X}, +{length:X}) is not inside RAM (size 4000)", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_writes_are_allowed_anywhere_up_to_the_end()
    {
        var memory = new PhysicalMemory(16384);
        memory.Write(0, []);
        memory.Write(16384, []);
        memory.Read(16384, []);
        Assert.True(memory.Bytes.IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Integer_accessors_are_little_endian_and_cross_pages()
    {
        var memory = new PhysicalMemory(16384);
        memory.WriteUInt64(4092, 0x0807_0605_0403_0201);
        memory.WriteUInt32(8190, 0xDDCC_BBAA);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], memory.Bytes.Slice(4092, 8).ToArray());
        Assert.Equal(0x0807_0605_0403_0201UL, memory.ReadUInt64(4092));
        Assert.Equal(0x0605_0403U, memory.ReadUInt32(4094));
        Assert.Equal(0xDDCC_BBAAU, memory.ReadUInt32(8190));
        Assert.Equal(0UL, memory.ReadUInt64(16376));
    }

    [Theory]
    [InlineData(0x103000UL, 0x103000UL)] // inside the code's page
    [InlineData(0x102FFEUL, 0x103000UL)] // starting on the page before and ending on the code's page
    public void A_platform_write_over_executed_code_is_what_executes_next(ulong writeAt, ulong routine)
    {
        var m = new TestMachine();
        m.Load(
            a =>
            {
                a.mov(eax, 1);
                a.ret();
            },
            routine);
        byte[] patch = [0xB8, 2, 0, 0, 0, 0xC3]; // mov eax, 2 ; ret
        m.Host.OnPortOut = (_, _) => m.Memory.Write(writeAt, [.. new byte[routine - writeAt], .. patch]);
        m.Load(a =>
        {
            a.mov(rsi, routine);
            a.call(rsi);
            a.mov(ebx, eax);
            a.@out(0x80, al); // the platform rewrites the routine
            a.call(rsi);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(1UL, m.Reg(3));
        Assert.Equal(2UL, m.Reg(0));
    }

    [Fact]
    public void Ram_that_ends_inside_a_huge_page_has_its_whole_huge_pages_advised_up_to_there()
    {
        // Whether the partial huge pages at either end are advised is not checked: a neighbouring RAM's advice
        // can merge with them into one mapping.
        Assert.SkipUnless(OperatingSystem.IsLinux(), "madvise(MADV_HUGEPAGE) and /proc/self/smaps are Linux's");
        Assert.SkipUnless(Directory.Exists("/sys/kernel/mm/transparent_hugepage"), "this kernel has no transparent huge pages");
        var memory = new PhysicalMemory(8 * HugePage + (HugePage / 2));
        long start = Marshal.UnsafeAddrOfPinnedArrayElement(memory.Ram, 0);
        long firstWhole = (start + HugePage - 1) & ~(HugePage - 1);
        long endWhole = (start + memory.Size) & ~(HugePage - 1);
        Assert.Contains("hg", ProcSmaps.VmFlagsAt(firstWhole));
        Assert.Contains("hg", ProcSmaps.VmFlagsAt(endWhole - 1));
        GC.KeepAlive(memory);
    }
}
