// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>
/// The TMR summary (<c>TmrSummary</c>): an edge acceptance and an EOI skip the TMR where the summary
/// says its dword is zero, so every way a TMR bit can become set must mark the dword first. Each
/// public page write that can set one is checked through both readers (an edge acceptance must clear
/// the bit, an EOI must report level), and the invariant (a set TMR bit has its dword marked) under
/// random operations and under a RESET racing a level acceptance on another thread.
/// </summary>
public class TmrSummaryTests
{
    /// <summary>The public page writes that can set TMR bits, each setting <c>vector</c>'s bit.</summary>
    public static readonly Dictionary<string, Action<ApicPage, byte>> Writers = new()
    {
        ["Write"] = (page, v) => page.Write(ApicOffset.Tmr + (v >> 5 << 4), 1u << v),
        ["Write64 low"] = (page, v) => page.Write64(ApicOffset.Tmr + (v >> 5 << 4), 1u << v),
        ["Write64 high"] = (page, v) => page.Write64(ApicOffset.Tmr + (v >> 5 << 4) - 4, (ulong)(1u << v) << 32),
        ["SetVector"] = (page, v) => page.SetVector(VectorRegister.Tmr, v),
        ["TestAndSetVectorAtomic"] = (page, v) => page.TestAndSetVectorAtomic(VectorRegister.Tmr, v),
        ["OrVectorWordAtomic"] = (page, v) => page.OrVectorWordAtomic(VectorRegister.Tmr, v >> 5, 1u << v),
        ["CopyFrom"] = (page, v) => page.CopyFrom(ImageWithTmr(page, v, ApicPage.Size)),
        ["CopyFrom up to the dword's byte"] = (page, v) =>
            page.CopyFrom(ImageWithTmr(page, v, ApicOffset.Tmr + (v >> 5 << 4) + ((v & 31) >> 3) + 1)),
    };

    public static TheoryData<string, byte> WriterCases()
    {
        var data = new TheoryData<string, byte>();
        foreach (string name in Writers.Keys)
        {
            foreach (byte vector in new byte[] { 0x10, 0x3F, 0x45, 0x9E, 0xE0, 0xFF })
            {
                data.Add(name, vector);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(WriterCases))]
    public void A_tmr_bit_set_through_the_page_is_cleared_by_the_next_edge_acceptance(string writer, byte vector)
    {
        var apic = TestApic.Create();
        Writers[writer](apic.Page, vector);
        Assert.True(apic.TmrHas(vector));

        Assert.True(apic.Raise(vector));

        Assert.False(apic.TmrHas(vector));
        Assert.True(apic.IrrHas(vector));
    }

    [Theory]
    [MemberData(nameof(WriterCases))]
    public void A_tmr_bit_set_through_the_page_makes_the_eoi_of_its_vector_level(string writer, byte vector)
    {
        var apic = TestApic.Create();
        apic.PutInService(vector);
        Writers[writer](apic.Page, vector);

        var eoi = apic.EndOfInterrupt();

        Assert.Equal(vector, eoi.Vector);
        Assert.Equal(TriggerMode.Level, eoi.Trigger);
    }

    [Fact]
    public void A_restored_image_with_a_level_vector_in_service_ends_it_as_level()
    {
        var source = TestApic.Create();
        source.PutInService(0x71, TriggerMode.Level);
        byte[] image = new byte[ApicPage.Size];
        source.Page.CopyTo(image);
        var target = TestApic.Create();
        Assert.Equal(0, target.TmrSummaryDwords);

        target.RestorePage(image, restoreTimer: null);

        Assert.Equal(0x71, target.HighestIsr);
        Assert.Equal(TriggerMode.Level, target.EndOfInterrupt().Trigger);
    }

    [Fact]
    public void Only_level_acceptances_mark_and_init_forgets_before_the_next_one_marks_again()
    {
        var apic = TestApic.Create();
        Assert.Equal(0, apic.TmrSummaryDwords);

        Assert.True(apic.Raise(0x45));
        Assert.True(apic.Raise(0xE1));
        Assert.Equal(0, apic.TmrSummaryDwords);

        Assert.True(apic.Raise(0x46, TriggerMode.Level));
        Assert.Equal(1 << 2, apic.TmrSummaryDwords);
        Assert.True(apic.Raise(0x46));
        Assert.False(apic.TmrHas(0x46));
        Assert.Equal(1 << 2, apic.TmrSummaryDwords); // kept: a mark is cleared only with the whole TMR

        apic.InitReset();
        Assert.Equal(0, apic.TmrSummaryDwords);
        Assert.True(apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled));
        apic.PutInService(0x46, TriggerMode.Level);
        Assert.Equal(1 << 2, apic.TmrSummaryDwords);
        Assert.Equal(TriggerMode.Level, apic.EndOfInterrupt().Trigger);
    }

    [Fact]
    public void A_page_of_one_apic_cannot_become_anothers()
    {
        var clock = new VirtualClock();
        var page = new ApicPage();
        _ = new LocalApic(0, true, new ApicConfig(), clock, page);

        var e = Assert.Throws<InvalidOperationException>(() => new LocalApic(1, false, new ApicConfig(), clock, page));
        Assert.Contains("vCPU 0", e.Message, StringComparison.Ordinal);
    }

    // One step of the random walk: what it does to the APIC.
    private enum Step
    {
        AcceptEdge,
        AcceptLevel,
        PageWrite,
        ClearBit,
        Init,
        Restore,
    }

    [Fact]
    public void Every_set_tmr_bit_has_its_dword_marked_after_any_sequence_of_acceptances_writes_resets_and_restores()
    {
        var gen = Gen.Select(Gen.Enum<Step>(), Gen.Byte[0x10, 0xFF], Gen.Int[0, Writers.Count - 1]).Array[1, 40];
        gen.Sample(steps =>
        {
            var apic = TestApic.Create();
            var writers = Writers.Values.ToArray();
            foreach (var (step, vector, writer) in steps)
            {
                switch (step)
                {
                    case Step.AcceptEdge:
                        apic.Raise(vector);
                        break;
                    case Step.AcceptLevel:
                        apic.Raise(vector, TriggerMode.Level);
                        break;
                    case Step.PageWrite:
                        writers[writer](apic.Page, vector);
                        break;
                    case Step.ClearBit:
                        apic.Page.ClearVector(VectorRegister.Tmr, vector);
                        break;
                    case Step.Init:
                        apic.InitReset();
                        Assert.True(apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled));
                        break;
                    case Step.Restore:
                        byte[] image = new byte[ApicPage.Size];
                        apic.Page.CopyTo(image);
                        var fresh = TestApic.Create();
                        fresh.RestorePage(image, restoreTimer: null);
                        apic = fresh;
                        break;
                }

                AssertEverySetDwordMarked(apic);
            }
        });
    }

    [Fact]
    public void A_level_acceptance_racing_init_on_the_owner_leaves_no_set_tmr_bit_unmarked()
    {
        // The device thread accepts level vectors while the owner resets: whatever the interleaving,
        // once both stop, every TMR bit still set has its dword marked (TmrSummary's protocol).
        var apic = TestApic.Create();
        const int Rounds = 20_000;
        using var start = new Barrier(2);
        var device = new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < Rounds; i++)
            {
                apic.Raise((byte)(0x20 + ((i * 37) & 0xDF)), TriggerMode.Level);
            }
        });
        device.Start();
        start.SignalAndWait(TestContext.Current.CancellationToken);
        for (int i = 0; i < Rounds; i++)
        {
            apic.InitReset();
            Assert.True(apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled));
        }

        device.Join();
        AssertEverySetDwordMarked(apic);
        Assert.True(apic.Raise(0xF0, TriggerMode.Level));
        AssertEverySetDwordMarked(apic);
        Assert.NotEqual(0, apic.TmrSummaryDwords);
    }

    private static void AssertEverySetDwordMarked(LocalApic apic)
    {
        for (int i = 0; i < 8; i++)
        {
            if (apic.Page.Read(ApicOffset.Tmr + (i << 4)) != 0)
            {
                Assert.True((apic.TmrSummaryDwords & (1 << i)) != 0, $"TMR dword {i} has a bit set and no mark");
            }
        }
    }

    private static byte[] ImageWithTmr(ApicPage page, byte vector, int length)
    {
        byte[] image = new byte[ApicPage.Size];
        page.CopyTo(image);
        image[ApicOffset.Tmr + (vector >> 5 << 4) + ((vector & 31) >> 3)] |= (byte)(1 << (vector & 7));
        return image[..length];
    }
}
