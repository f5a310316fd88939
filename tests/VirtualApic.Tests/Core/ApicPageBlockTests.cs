// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using CsCheck;
using VirtualApic.Tests.Support;
using VirtualApic.Core;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Core;

/// <summary>
/// Where the register pages lie and that no access leaves its page: a VM's pages share one pinned
/// block, each on a cache line, a line more than a page apart (docs/performance.md, "Thirty-fifth
/// session"); every operation of <see cref="PageWords"/>, with any offset and any vector the unchecked
/// ones accept, writes inside its own 4 KiB, so the neighbouring pages of the block stay untouched.
/// </summary>
public class ApicPageBlockTests
{
    private const int Line = 64;
    private const int HugePage = 2 << 20;

    [Fact]
    public void A_vms_pages_start_on_cache_lines_a_line_more_than_a_page_apart_in_vcpu_order()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 5 });
        nint first = vm.Vcpus[0].Apic.Words.Address;
        for (int i = 0; i < 5; i++)
        {
            nint at = vm.Vcpus[i].Apic.Words.Address;
            Assert.Equal(0, at % Line);
            Assert.Equal(first + (i * (ApicPage.Size + Line)), at);
            Assert.Equal(at, vm.Vcpus[i].Apic.Page.Words.Address); // the APIC's copy is its page's
        }
    }

    [Fact]
    public void A_page_made_alone_starts_on_a_cache_line_and_reads_zero()
    {
        for (int n = 0; n < 8; n++)
        {
            var page = new ApicPage();
            Assert.Equal(0, page.Words.Address % Line);
            byte[] bytes = new byte[ApicPage.Size];
            bytes.AsSpan().Fill(0xFF);
            page.CopyTo(bytes);
            Assert.All(bytes, b => Assert.Equal(0, b));
        }
    }

    [Fact]
    public void No_access_with_any_offset_or_vector_leaves_its_page()
    {
        var genOp = Gen.Select(Gen.Int[0, 9], Gen.Int, Gen.UInt);
        Gen.Select(genOp.Array[1, 30], Gen.Int[0, 2]).Sample(sample =>
        {
            var (ops, which) = sample;
            var pages = ApicPage.AllocateBlock(3);
            var words = pages[which].Words;
            foreach (var (kind, arg, value) in ops)
            {
                int vector = arg & 0xFF;
                switch (kind)
                {
                    case 0: words.Write(arg, value); break;
                    case 1: words.Write64(arg, value | ((ulong)value << 32)); break;
                    case 2: words.SetVector(ApicOffset.Irr, vector); break;
                    case 3: words.TestAndSetVectorAtomic(ApicOffset.Tmr, vector); break;
                    case 4: words.SetKnownVector(ApicOffset.Isr, arg); break;          // any int: bits 7:5 pick the word
                    case 5: words.OrVectorWordAtomic(ApicOffset.Irr, (int)(value & 7), value); break;
                    case 6: words.ClearKnownVector(ApicOffset.Isr, arg); break;
                    case 7: words.ClearKnownVectorAtomic(ApicOffset.Irr, arg); break;
                    case 8: _ = words.HighestVector(ApicOffset.Irr) + words.CountVectors(ApicOffset.Tmr) + (int)words.Read64(arg); break;
                    default: words.SetVector(ApicOffset.Isr, vector); words.ClearVectors(ApicOffset.Tmr); break;
                }
            }

            for (int p = 0; p < 3; p++)
            {
                if (p != which)
                {
                    byte[] bytes = new byte[ApicPage.Size];
                    pages[p].CopyTo(bytes);
                    Assert.True(bytes.All(b => b == 0), $"page {p} changed by operations on page {which}");
                }
            }
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(504)] // 2.1 MB in 4160-byte strides: just under 2 MiB
    [InlineData(505)] // just over: the first block on a huge page
    [InlineData(600)]
    public void A_block_is_pinned_and_holds_its_pages_from_its_first_aligned_address_with_no_more_slack_than_that(int count)
    {
        var pages = ApicPage.AllocateBlock(count);
        var (start, length, generation) = pages[0].Words.Block;
        int span = count * (ApicPage.Size + Line);
        int align = span >= HugePage ? HugePage : Line;
        nint first = pages[0].Words.Address;

        Assert.Equal(2, generation); // the pinned heap: the pages' addresses never move
        Assert.Equal(span + align, length);
        Assert.Equal(0, first % align);
        Assert.InRange(first - start, 0, align - 1); // the first aligned address, not a later one
        Assert.True(first + span <= start + length);
        Assert.All(pages, p => Assert.Equal((start, length), (p.Words.Block.Start, p.Words.Block.Length)));
    }

    [Fact]
    public void A_block_whose_data_starts_on_a_line_uses_that_line()
    {
        // Pinned arrays start 8-aligned: of 32 small blocks in a row, some start on a cache line,
        // and their first page must be right there, not a line further on.
        int onALine = 0;
        for (int i = 0; i < 32; i++)
        {
            foreach (var words in new[] { ApicPage.AllocateBlock(1)[0].Words, new ApicPage().Words })
            {
                nint start = words.Block.Start;
                Assert.InRange(words.Address - start, 0, Line - 1);
                onALine += words.Address == start ? 1 : 0;
            }
        }

        Assert.True(onALine > 0, "no block started on a cache line: the check saw nothing");
    }

    [Fact]
    public void A_block_of_no_pages_is_empty_and_a_negative_or_oversized_count_is_refused()
    {
        Assert.Empty(ApicPage.AllocateBlock(0));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ApicPage.AllocateBlock(-1));
        Assert.Equal("count", e.ParamName);
        Assert.Throws<OverflowException>(() => ApicPage.AllocateBlock(1 << 20)); // 4.4 GB of pages
        Assert.Throws<OverflowException>(() => ApicPage.AllocateBlock(515_997)); // pages fit an array, the alignment's slack does not
    }

    [Fact]
    public void A_large_vms_pages_start_on_a_huge_page_and_read_zero_even_in_reused_memory()
    {
        const int count = 600; // 600 pages of 4160 bytes: a block over 2 MiB
        for (int round = 0; round < 4; round++)
        {
            // A block the same size, dirtied and dropped first: the pinned heap hands its memory out
            // again, and the pages must still start zeroed (the block is allocated uninitialized).
            Dirty(count * (ApicPage.Size + Line) * 2);
            var pages = ApicPage.AllocateBlock(count);
            nint first = pages[0].Words.Address;
            Assert.Equal(0, first % HugePage);
            byte[] bytes = new byte[ApicPage.Size];
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(first + (i * (ApicPage.Size + Line)), pages[i].Words.Address);
                bytes.AsSpan().Fill(0xFF);
                pages[i].CopyTo(bytes);
                Assert.True(bytes.AsSpan().IndexOfAnyExcept((byte)0) < 0, $"round {round}: page {i} is not zero");
            }
        }
    }

    [Fact]
    public void A_large_vms_pages_are_advised_for_transparent_huge_pages()
    {
        // The kernel lists the advice as "hg" in the VmFlags of the mapping (proc(5), /proc/pid/smaps).
        Assert.SkipUnless(OperatingSystem.IsLinux(), "madvise(MADV_HUGEPAGE) and /proc/self/smaps are Linux's");
        Assert.SkipUnless(Directory.Exists("/sys/kernel/mm/transparent_hugepage"), "this kernel has no transparent huge pages");
        using var vm = new VirtualMachine(new VmOptions { Cpus = 600 });
        nint first = vm.Vcpus[0].Apic.Words.Address;
        nint end = vm.Vcpus[599].Apic.Words.Address + ApicPage.Size + Line; // 600 strides: 2.38 MiB
        nint wholeEnd = first + ((end - first) & ~(nint)(HugePage - 1));
        Assert.Contains("hg", ProcSmaps.VmFlagsAt(first));
        Assert.Contains("hg", ProcSmaps.VmFlagsAt(wholeEnd - 1));

        // The tail past the last whole huge page is not advised: a huge page there would make the
        // VM resident in memory past its pages. (Its mapping's flags cannot show that: memory the
        // pinned heap hands out again keeps the advice an earlier, collected block had.)
        Assert.Equal(wholeEnd - first, HugePageAdvice.Advise(first, end - first));

        // The advice's own answer: the whole huge pages inside the range, none for a range holding
        // no whole one, and an empty range is not asked for.
        Assert.Equal(HugePage, HugePageAdvice.Advise(first, HugePage));
        Assert.Equal(0, HugePageAdvice.Advise(first + 8, HugePage));
        Assert.Equal(0, HugePageAdvice.Advise(first, 0));
        Assert.Equal(0, HugePageAdvice.Advise(first, -HugePage));
    }

    [Fact]
    public void An_unchecked_vector_stays_in_its_register_and_a_checked_one_is_refused()
    {
        var page = new ApicPage();
        var words = page.Words;
        words.SetKnownVector(ApicOffset.Isr, 0x1_0000 + 0x45); // bits 7:5 = 2, bit 5 of the word
        Assert.Equal(1u << 5, page.Read(ApicOffset.Isr + 0x20));
        Assert.Equal(0u, page.Read(ApicOffset.Tmr + 0x20));
        Assert.Throws<ArgumentOutOfRangeException>(() => words.SetVector(ApicOffset.Isr, 256));
        Assert.Throws<ArgumentOutOfRangeException>(() => words.TestAndSetVectorAtomic(ApicOffset.Irr, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => words.OrVectorWordAtomic(ApicOffset.Irr, 8, 1));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Dirty(int length)
    {
        byte[] junk = GC.AllocateUninitializedArray<byte>(length, pinned: true);
        junk.AsSpan().Fill(0xA5);
        GC.KeepAlive(junk);
        junk = null!;
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }
}
