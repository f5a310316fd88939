// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="ApicPage"/> on its own, with exact words and bytes: the word layout (64-bit halves,
/// offset aliasing), the 256-bit vector helpers (checked, unchecked and atomic), the scans, and the
/// byte copies. Every vector register test has a neighbour register filled, so a helper that strays
/// one word past its register is seen.
/// </summary>
public class ApicPageTests
{
    /// <summary>The first and last vector of each of the eight words of a 256-bit register.</summary>
    public static TheoryData<int> WordEdgeVectors()
    {
        var data = new TheoryData<int>();
        for (int w = 0; w < 8; w++)
        {
            data.Add(w * 32);
            data.Add((w * 32) + 31);
        }

        return data;
    }

    [Fact]
    public void VectorRegister_offsets_are_the_architectural_ones()
    {
        Assert.Equal(0x100, VectorRegister.Isr);
        Assert.Equal(0x180, VectorRegister.Tmr);
        Assert.Equal(0x200, VectorRegister.Irr);
        Assert.Equal(ApicOffset.Isr, VectorRegister.Isr);
        Assert.Equal(ApicOffset.Tmr, VectorRegister.Tmr);
        Assert.Equal(ApicOffset.Irr, VectorRegister.Irr);
        Assert.Equal(4096, ApicPage.Size);
    }

    [Fact]
    public void A_new_page_is_all_zero()
    {
        var page = new ApicPage();

        Assert.Equal(new byte[ApicPage.Size], Bytes(page));
    }

    [Fact]
    public void Read64_takes_the_low_dword_at_the_offset_and_the_high_dword_four_bytes_on()
    {
        var page = new ApicPage();
        page.Write(0x2FC, 0xDEAD_0001);
        page.Write(0x300, 0x1122_3344);
        page.Write(0x304, 0x5566_7788);
        page.Write(0x308, 0x99AA_BBCC);

        Assert.Equal(0x5566_7788_1122_3344ul, page.Read64(0x300));
        Assert.Equal(0x99AA_BBCC_5566_7788ul, page.Read64(0x304));
    }

    [Fact]
    public void Write64_stores_the_low_dword_at_the_offset_and_the_high_dword_four_bytes_on()
    {
        var page = new ApicPage();

        page.Write64(0x300, 0x8877_6655_4433_2211ul);

        Assert.Equal(0x4433_2211u, page.Read(0x300));
        Assert.Equal(0x8877_6655u, page.Read(0x304));
        Assert.Equal(0u, page.Read(0x2FC));
        Assert.Equal(0u, page.Read(0x308));
        Assert.Equal(0x8877_6655_4433_2211ul, page.Read64(0x300));
        byte[] bytes = Bytes(page);
        Assert.Equal(new byte[] { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 }, bytes[0x300..0x308]);
    }

    [Fact]
    public void A_word_is_stored_little_endian_at_its_byte_offset()
    {
        var page = new ApicPage();

        page.Write(0x80, 0xCAFE_F00D);
        page.Write(0xFFC, 0x0403_0201);

        byte[] bytes = Bytes(page);
        Assert.Equal(0xCAFE_F00Du, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(0x80)));
        Assert.Equal(new byte[] { 0x01, 0x02, 0x03, 0x04 }, bytes[0xFFC..]);
        Assert.Equal(8, bytes.Count(b => b != 0)); // those eight bytes and nothing else
    }

    [Fact]
    public void An_offset_is_masked_into_the_page_and_down_to_its_dword()
    {
        var page = new ApicPage();
        page.Write(0x80, 0xCAFE_F00D);
        page.Write(0x84, 0x1234_5678);

        Assert.Equal(0xCAFE_F00Du, page.Read(0x80));
        Assert.Equal(0xCAFE_F00Du, page.Read(0x81));
        Assert.Equal(0xCAFE_F00Du, page.Read(0x82));
        Assert.Equal(0xCAFE_F00Du, page.Read(0x83));
        Assert.Equal(0xCAFE_F00Du, page.Read(ApicPage.Size + 0x80));
        Assert.Equal(0x1234_5678u, page.Read(0x84));
        Assert.Equal(0x1234_5678u, page.Read(ApicPage.Size + 0x87));
        Assert.Equal(0u, page.Read(0x7C));
        Assert.Equal(0u, page.Read(0x88));

        page.Write(ApicPage.Size + 0x90, 0xA5A5_0001);
        page.Write(-4, 0x5A5A_0002); // (uint)-4 masks to the last dword
        page.Write(0x9B, 0x0000_0003);

        Assert.Equal(0xA5A5_0001u, page.Read(0x90));
        Assert.Equal(0x5A5A_0002u, page.Read(0xFFC));
        Assert.Equal(0x0000_0003u, page.Read(0x98));
    }

    [Theory]
    [MemberData(nameof(WordEdgeVectors))]
    public void Set_test_and_clear_address_bit_v_mod_32_of_the_dword_at_base_plus_0x10_times_v_div_32(int vector)
    {
        var page = FilledNeighbours();
        int offset = ApicOffset.Tmr + (0x10 * (vector / 32));
        uint bit = 1u << (vector % 32);

        Assert.False(page.TestVector(ApicOffset.Tmr, vector));
        page.SetVector(ApicOffset.Tmr, vector);
        Assert.True(page.TestVector(ApicOffset.Tmr, vector));
        Assert.Equal(bit, page.Read(offset));
        Assert.Equal(1, page.CountVectors(ApicOffset.Tmr));

        page.Write(offset, ~0u);
        page.ClearVector(ApicOffset.Tmr, vector);
        Assert.False(page.TestVector(ApicOffset.Tmr, vector));
        Assert.Equal(~bit, page.Read(offset));
        AssertNeighboursFilled(page);
    }

    [Theory]
    [MemberData(nameof(WordEdgeVectors))]
    public void The_known_vector_methods_address_the_same_bit(int vector)
    {
        var page = FilledNeighbours();
        int offset = ApicOffset.Tmr + (0x10 * (vector / 32));
        uint bit = 1u << (vector % 32);

        Assert.False(page.Words.TestKnownVector(ApicOffset.Tmr, vector));
        page.Words.SetKnownVector(ApicOffset.Tmr, vector);
        Assert.True(page.Words.TestKnownVector(ApicOffset.Tmr, vector));
        Assert.True(page.TestVector(ApicOffset.Tmr, vector));
        Assert.Equal(bit, page.Read(offset));
        Assert.Equal(1, page.CountVectors(ApicOffset.Tmr));

        page.Write(offset, ~0u);
        page.Words.ClearKnownVector(ApicOffset.Tmr, vector);
        Assert.False(page.Words.TestKnownVector(ApicOffset.Tmr, vector));
        Assert.Equal(~bit, page.Read(offset));
        AssertNeighboursFilled(page);
    }

    [Theory]
    [MemberData(nameof(WordEdgeVectors))]
    public void Test_and_set_returns_the_previous_state_and_keeps_the_other_bits(int vector)
    {
        var page = FilledNeighbours();
        int offset = ApicOffset.Tmr + (0x10 * (vector / 32));
        uint bit = 1u << (vector % 32);
        uint other = bit == 1u ? 0x8000_0000u : 1u; // another bit of the same word
        page.Write(offset, other);

        Assert.False(page.TestAndSetVectorAtomic(ApicOffset.Tmr, vector));
        Assert.Equal(other | bit, page.Read(offset));
        Assert.True(page.TestAndSetVectorAtomic(ApicOffset.Tmr, vector));
        Assert.Equal(other | bit, page.Read(offset));
        Assert.Equal(2, page.CountVectors(ApicOffset.Tmr));
        AssertNeighboursFilled(page);
    }

    [Theory]
    [MemberData(nameof(WordEdgeVectors))]
    public void Test_and_clear_returns_the_previous_state_and_keeps_the_other_bits(int vector)
    {
        var page = FilledNeighbours();
        int offset = ApicOffset.Tmr + (0x10 * (vector / 32));
        uint bit = 1u << (vector % 32);
        page.Write(offset, ~0u);

        Assert.True(page.TestAndClearVectorAtomic(ApicOffset.Tmr, vector));
        Assert.Equal(~bit, page.Read(offset));
        Assert.False(page.TestAndClearVectorAtomic(ApicOffset.Tmr, vector));
        Assert.Equal(~bit, page.Read(offset));
        Assert.Equal(31, page.CountVectors(ApicOffset.Tmr));
        AssertNeighboursFilled(page);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(-1)]
    [InlineData(288)]
    [InlineData(int.MinValue)]
    public void Every_checked_vector_method_rejects_a_vector_outside_0_to_255(int vector)
    {
        var page = FilledNeighbours();
        byte[] before = Bytes(page);

        AssertBadVector(vector, () => page.TestVector(ApicOffset.Tmr, vector));
        AssertBadVector(vector, () => page.SetVector(ApicOffset.Tmr, vector));
        AssertBadVector(vector, () => page.ClearVector(ApicOffset.Tmr, vector));
        AssertBadVector(vector, () => page.TestAndSetVectorAtomic(ApicOffset.Tmr, vector));
        AssertBadVector(vector, () => page.TestAndClearVectorAtomic(ApicOffset.Tmr, vector));

        Assert.Equal(before, Bytes(page));
    }

    [Fact]
    public void Vector_255_is_accepted_by_every_checked_method()
    {
        var page = new ApicPage();

        page.SetVector(ApicOffset.Irr, 255);
        Assert.True(page.TestVector(ApicOffset.Irr, 255));
        page.ClearVector(ApicOffset.Irr, 255);
        Assert.False(page.TestAndSetVectorAtomic(ApicOffset.Irr, 255));
        Assert.True(page.TestAndClearVectorAtomic(ApicOffset.Irr, 255));
        Assert.Equal(0u, page.Read(ApicOffset.Irr + 0x70));
    }

    [Fact]
    public void ThrowBadVector_names_the_vector_its_value_and_the_range()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ApicPage.ThrowBadVector(300));

        Assert.Equal("vector", e.ParamName);
        Assert.Equal(300, e.ActualValue);
        Assert.Equal("a vector is 0-255 (Parameter 'vector')" + Environment.NewLine + "Actual value was 300.", e.Message);
    }

    [Fact]
    public void OrVectorWordAtomic_ors_into_dword_index_of_the_register()
    {
        var page = FilledNeighbours();
        page.Write(ApicOffset.Tmr + 0x70, 0x0000_0001);

        page.OrVectorWordAtomic(ApicOffset.Tmr, 7, 0x8000_0100);
        page.OrVectorWordAtomic(ApicOffset.Tmr, 0, 0x0000_0002);
        page.OrVectorWordAtomic(ApicOffset.Tmr, 3, 0x0001_0000);

        Assert.Equal(0x8000_0101u, page.Read(ApicOffset.Tmr + 0x70));
        Assert.Equal(0x0000_0002u, page.Read(ApicOffset.Tmr));
        Assert.Equal(0x0001_0000u, page.Read(ApicOffset.Tmr + 0x30));
        Assert.Equal(5, page.CountVectors(ApicOffset.Tmr));
        Assert.Equal(0xFF, page.HighestVector(ApicOffset.Tmr));
        AssertNeighboursFilled(page);
    }

    [Fact]
    public void OrVectorWordAtomic_of_no_bits_leaves_the_word_as_it_was()
    {
        var page = FilledNeighbours();
        page.Write(ApicOffset.Tmr + 0x20, 0x0F0F_0F0F);
        byte[] before = Bytes(page);

        page.OrVectorWordAtomic(ApicOffset.Tmr, 2, 0);

        Assert.Equal(0x0F0F_0F0Fu, page.Read(ApicOffset.Tmr + 0x20));
        Assert.Equal(before, Bytes(page));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void OrVectorWordAtomic_rejects_an_index_outside_0_to_7(int index)
    {
        var page = FilledNeighbours();
        byte[] before = Bytes(page);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => page.OrVectorWordAtomic(ApicOffset.Tmr, index, 1));

        Assert.Equal("index", e.ParamName);
        Assert.Equal(before, Bytes(page));
    }

    [Theory]
    [MemberData(nameof(WordEdgeVectors))]
    public void HighestVector_finds_a_lone_vector_in_any_word(int vector)
    {
        var page = FilledNeighbours();

        page.SetVector(ApicOffset.Tmr, vector);

        Assert.Equal(vector, page.HighestVector(ApicOffset.Tmr));
    }

    [Fact]
    public void HighestVector_of_an_empty_register_is_minus_1_whatever_its_neighbours_hold()
    {
        var page = FilledNeighbours();

        Assert.Equal(-1, page.HighestVector(ApicOffset.Tmr));
        Assert.Equal(-1, new ApicPage().HighestVector(ApicOffset.Irr));
    }

    [Theory]
    [InlineData(0x00, 0x01)]
    [InlineData(0x00, 0xFF)]
    [InlineData(0x1F, 0x20)]
    [InlineData(0x41, 0x5E)]
    [InlineData(0x3F, 0xC0)]
    [InlineData(0xE0, 0xFE)]
    public void HighestVector_returns_the_higher_of_two(int low, int high)
    {
        var page = FilledNeighbours();
        page.SetVector(ApicOffset.Tmr, low);
        page.SetVector(ApicOffset.Tmr, high);

        Assert.Equal(high, page.HighestVector(ApicOffset.Tmr));

        page.ClearVector(ApicOffset.Tmr, high);
        Assert.Equal(low, page.HighestVector(ApicOffset.Tmr));
    }

    [Fact]
    public void CountVectors_counts_every_word_of_the_register_and_nothing_beside_it()
    {
        var page = FilledNeighbours();
        for (int i = 0; i < 8; i++)
        {
            page.Write(ApicOffset.Tmr + (i << 4), (1u << (i + 1)) - 1); // i + 1 bits in word i
            page.Write(ApicOffset.Tmr + (i << 4) + 4, ~0u); // the slot's unused dwords
        }

        Assert.Equal(36, page.CountVectors(ApicOffset.Tmr));
        Assert.Equal(0, new ApicPage().CountVectors(ApicOffset.Tmr));
    }

    [Fact]
    public void CountVectors_of_a_full_register_is_256()
    {
        var page = new ApicPage();
        for (int v = 0; v < 256; v++)
        {
            page.SetVector(ApicOffset.Isr, v);
        }

        Assert.Equal(256, page.CountVectors(ApicOffset.Isr));
        Assert.Equal(0, page.CountVectors(ApicOffset.Tmr));
        Assert.Equal(255, page.HighestVector(ApicOffset.Isr));
    }

    [Fact]
    public void ClearVectors_clears_the_eight_dwords_of_the_register_and_nothing_else()
    {
        var page = new ApicPage();
        page.CopyFrom(Enumerable.Repeat((byte)0xFF, ApicPage.Size).ToArray());

        page.ClearVectors(ApicOffset.Tmr);

        for (int offset = 0; offset < ApicPage.Size; offset += 4)
        {
            bool registerWord = offset >= ApicOffset.Tmr && offset < ApicOffset.Irr && (offset & 0xF) == 0;
            Assert.Equal(registerWord ? 0u : ~0u, page.Read(offset));
        }

        Assert.Equal(256, page.CountVectors(ApicOffset.Isr));
        Assert.Equal(256, page.CountVectors(ApicOffset.Irr));
        Assert.Equal(-1, page.HighestVector(ApicOffset.Tmr));
    }

    [Fact]
    public void CopyTo_a_shorter_span_copies_exactly_that_many_bytes()
    {
        var page = new ApicPage();
        page.Write(0, 0x0403_0201);
        page.Write(4, 0x0807_0605);
        byte[] destination = [0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE];

        page.CopyTo(destination);

        Assert.Equal(new byte[] { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06 }, destination);
    }

    [Fact]
    public void CopyTo_an_empty_span_copies_nothing_and_a_whole_page_copies_every_byte()
    {
        var page = new ApicPage();
        page.Write(0xFFC, 0xAABB_CCDD);

        page.CopyTo([]);
        byte[] all = Bytes(page);

        Assert.Equal(ApicPage.Size, all.Length);
        Assert.Equal(new byte[] { 0xDD, 0xCC, 0xBB, 0xAA }, all[0xFFC..]);
    }

    [Fact]
    public void CopyTo_a_span_longer_than_the_page_is_an_argument_error()
    {
        var page = new ApicPage();

        Assert.Throws<ArgumentOutOfRangeException>(() => page.CopyTo(new byte[ApicPage.Size + 1]));
    }

    [Fact]
    public void CopyFrom_a_short_span_overwrites_only_those_bytes()
    {
        var page = new ApicPage();
        page.Write(0, 0x1111_1111);
        page.Write(4, 0x2222_2222);
        page.Write(0x300, 0x3333_3333);

        page.CopyFrom([0xAA, 0xBB, 0xCC, 0xDD, 0xEE]);

        Assert.Equal(0xDDCC_BBAAu, page.Read(0));
        Assert.Equal(0x2222_22EEu, page.Read(4));
        Assert.Equal(0x3333_3333u, page.Read(0x300));
    }

    [Fact]
    public void CopyFrom_a_whole_page_round_trips_through_CopyTo()
    {
        byte[] image = new byte[ApicPage.Size];
        for (int i = 0; i < image.Length; i++)
        {
            image[i] = (byte)((i * 7) + 3);
        }

        var page = new ApicPage();
        page.CopyFrom(image);

        Assert.Equal(image, Bytes(page));
        Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(0x200)), page.Read(0x200));
    }

    [Fact]
    public void CopyFrom_a_span_longer_than_the_page_is_an_argument_error()
    {
        var page = new ApicPage();

        Assert.Throws<ArgumentException>(() => page.CopyFrom(new byte[ApicPage.Size + 1]));
    }

    [Fact]
    public void Clear_zeroes_every_byte()
    {
        var page = new ApicPage();
        page.CopyFrom(Enumerable.Repeat((byte)0x5A, ApicPage.Size).ToArray());

        page.Clear();

        Assert.Equal(new byte[ApicPage.Size], Bytes(page));
    }

    private static byte[] Bytes(ApicPage page)
    {
        byte[] bytes = new byte[ApicPage.Size];
        page.CopyTo(bytes);
        return bytes;
    }

    // The ISR (below the TMR) and the IRR (above it) full, and every other dword of the TMR's
    // slots too: only the eight TMR dwords are left for the vector helpers to touch.
    private static ApicPage FilledNeighbours()
    {
        var page = new ApicPage();
        for (int i = 0; i < 8; i++)
        {
            page.Write(ApicOffset.Isr + (i << 4), ~0u);
            page.Write(ApicOffset.Irr + (i << 4), ~0u);
            for (int d = 4; d < 16; d += 4)
            {
                page.Write(ApicOffset.Tmr + (i << 4) + d, ~0u);
            }
        }

        return page;
    }

    private static void AssertNeighboursFilled(ApicPage page)
    {
        Assert.Equal(256, page.CountVectors(ApicOffset.Isr));
        Assert.Equal(256, page.CountVectors(ApicOffset.Irr));
        for (int i = 0; i < 8; i++)
        {
            for (int d = 4; d < 16; d += 4)
            {
                Assert.Equal(~0u, page.Read(ApicOffset.Tmr + (i << 4) + d));
            }
        }
    }

    private static void AssertBadVector(int vector, Action call)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(call);
        Assert.Equal("vector", e.ParamName);
        Assert.Equal(vector, e.ActualValue);
    }

    private static void AssertBadVector(int vector, Func<bool> call) => AssertBadVector(vector, () => { _ = call(); });

    [Theory]
    [InlineData(0)]
    [InlineData(ApicOffset.Tmr + 0x10)]
    [InlineData(ApicOffset.Irr + 0x80)]
    [InlineData(0xFF0)]
    [InlineData(-0x10)]
    [InlineData(ApicPage.Size)]
    [InlineData(int.MaxValue)]
    public void The_vector_helpers_refuse_a_base_that_is_no_vector_register_and_change_nothing(int regBase)
    {
        var page = new ApicPage();
        var actions = new Action[]
        {
            () => page.TestVector(regBase, 1),
            () => page.SetVector(regBase, 1),
            () => page.ClearVector(regBase, 1),
            () => page.TestAndSetVectorAtomic(regBase, 1),
            () => page.TestAndClearVectorAtomic(regBase, 1),
            () => page.OrVectorWordAtomic(regBase, 7, ~0u),
            () => page.HighestVector(regBase),
            () => page.CountVectors(regBase),
            () => page.ClearVectors(regBase),
        };

        foreach (var action in actions)
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(action);
            Assert.Equal("regBase", e.ParamName);
        }

        byte[] bytes = new byte[ApicPage.Size];
        page.CopyTo(bytes);
        Assert.All(bytes, b => Assert.Equal(0, b));
    }
}
