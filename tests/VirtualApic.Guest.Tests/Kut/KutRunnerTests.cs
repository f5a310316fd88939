// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Guest.Tests.Boot;
using VirtualApic.Guest.Kut;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform;
using VirtualApic.Profiles;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Kut;

public class KutRunnerTests
{
    [Fact]
    public void A_section_sets_the_cpus_cpu_model_command_line_and_virtual_timeout()
    {
        var section = new KutSection("s", "s.flat", 3, "qemu64,+x2apic", "a b", 1.5, [], null, 1);
        var o = KutRunner.OptionsFor(section, AccelKind.Avic);
        Assert.Equal(3, o.Cpus);
        Assert.Equal(CpuModel.Parse("qemu64,+x2apic"), o.CpuModel);
        Assert.True(o.CpuModel.X2Apic);
        Assert.Equal(AccelKind.Avic, o.Accel);
        Assert.Equal("a b", o.Append);
        Assert.Equal(1_500_000_000L, o.VirtualTimeoutNs);

        // Without a profile or environment: KVM's profile (kvm-unit-tests' reference) and no variables.
        Assert.Same(ApicProfile.Kvm, o.Profile);
        Assert.Empty(o.Environment);

        var given = KutRunner.OptionsFor(section, AccelKind.None, ApicProfile.Architectural, ["X=1"]);
        Assert.Same(ApicProfile.Architectural, given.Profile);
        Assert.Equal(["X=1"], given.Environment);
    }

    [Fact]
    public void Null_arguments_are_refused_by_name()
    {
        Assert.Equal("section", Assert.Throws<ArgumentNullException>(() => KutRunner.OptionsFor(null!, AccelKind.None)).ParamName);
        Assert.Equal("runs", Assert.Throws<ArgumentNullException>(() => KutRunner.FirstDivergence(null!)).ParamName);
    }

    [Fact]
    public void Identical_logs_have_no_divergence()
    {
        Assert.Null(KutRunner.FirstDivergence([]));
        Assert.Null(KutRunner.FirstDivergence([Log(AccelKind.None, "a\nb\n"), Log(AccelKind.Apicv, "a\nb\n"), Log(AccelKind.Avic, "a\nb\n")]));
    }

    [Fact]
    public void The_first_differing_line_is_numbered_from_one_and_quoted_from_both_backends()
    {
        Assert.Equal(
            "line 2: [none] \"b\" vs [apicv] \"c\"",
            KutRunner.FirstDivergence([Log(AccelKind.None, "a\nb\nx"), Log(AccelKind.Apicv, "a\nc\ny")]));

        // A later backend that differs is compared with the first, after identical ones.
        Assert.Equal(
            "line 3: [none] \"z\" vs [x2avic] \"w\"",
            KutRunner.FirstDivergence([Log(AccelKind.None, "a\nb\nz"), Log(AccelKind.Avic, "a\nb\nz"), Log(AccelKind.X2Avic, "a\nb\nw")]));
    }

    [Fact]
    public void A_log_that_ends_early_diverges_at_its_end()
    {
        Assert.Equal(
            "line 2: [none] \"b\" vs [avic] (end of log)",
            KutRunner.FirstDivergence([Log(AccelKind.None, "a\nb"), Log(AccelKind.Avic, "a")]));
        Assert.Equal(
            "line 2: [none] (end of log) vs [avic] \"b\"",
            KutRunner.FirstDivergence([Log(AccelKind.None, "a"), Log(AccelKind.Avic, "a\nb")]));
    }

    [Fact]
    public void Boots_that_did_the_same_have_no_difference_whatever_their_host_time_and_diagnosis()
    {
        var a = Result();
        Assert.Null(KutRunner.FirstDifference(a, a with { HostTime = TimeSpan.FromSeconds(9), Diagnosis = "other dump" }));
    }

    [Fact]
    public void The_first_difference_between_two_boots_is_named_with_the_first_boots_value_first()
    {
        var a = Result();
        Assert.Equal("outcome Exited vs Hang", KutRunner.FirstDifference(a, a with { Outcome = GuestOutcome.Hang, Instructions = 1 }));
        Assert.Equal("exit status 0 vs none", KutRunner.FirstDifference(a, a with { ExitStatus = null, Instructions = 1 }));
        Assert.Equal("instructions 1200 vs 1201", KutRunner.FirstDifference(a, a with { Instructions = 1201, VirtualNs = 1 }));
        Assert.Equal("virtual time 5000 ns vs 5001 ns", KutRunner.FirstDifference(a, a with { VirtualNs = 5001, Serial = "" }));
        Assert.Equal("serial line 2: \"b\" vs \"c\"", KutRunner.FirstDifference(a, a with { Serial = "a\nc\n", Statistics = "" }));
        Assert.Equal("statistics line 1: \"exits 3\" vs \"exits 4\"", KutRunner.FirstDifference(a, a with { Statistics = "exits 4" }));
        Assert.Equal("first", Assert.Throws<ArgumentNullException>(() => KutRunner.FirstDifference(null!, a)).ParamName);
        Assert.Equal("other", Assert.Throws<ArgumentNullException>(() => KutRunner.FirstDifference(a, null!)).ParamName);
    }

    [Fact]
    public void Repeated_boots_keep_the_first_boots_run_with_the_median_host_time()
    {
        var rounds = new[] { 30, 10, 50 }.Select(ms => Round(ms, 40 + ms)).ToArray();
        var runs = KutRunner.Combine(rounds);
        Assert.Equal([AccelKind.None, AccelKind.Avic], runs.Select(r => r.Accel));
        Assert.Equal([TimeSpan.FromMilliseconds(30), TimeSpan.FromMilliseconds(70)], runs.Select(r => r.Result.HostTime));
        Assert.All(runs, r => Assert.Equal(3, r.Repeats));
        Assert.All(runs, r => Assert.Null(r.RepeatDivergence));
        Assert.All(runs, r => Assert.True(r.Passed));
        Assert.Equal(rounds[0][1].Result with { HostTime = TimeSpan.FromMilliseconds(70) }, runs[1].Result);

        // An even count: the mean of the middle two.
        Assert.Equal(TimeSpan.FromMilliseconds(25), KutRunner.Combine([Round(40, 0), Round(10, 0), Round(20, 0), Round(30, 0)])[0].Result.HostTime);
        Assert.Equal(TimeSpan.FromMilliseconds(40), KutRunner.Combine([Round(40, 0)])[0].Result.HostTime);
    }

    [Fact]
    public void A_later_boot_that_did_otherwise_fails_its_backend_and_says_which_boot_and_what()
    {
        var odd = Round(10, 10);
        odd[1] = odd[1] with { Result = odd[1].Result with { Instructions = 1199 } };
        var later = Round(10, 10);
        later[1] = later[1] with { Result = later[1].Result with { VirtualNs = 1 } };
        var runs = KutRunner.Combine([Round(10, 10), Round(10, 10), odd, later]);
        Assert.True(runs[0].Passed);
        Assert.False(runs[1].Passed);
        Assert.Equal("boot 3 of 4: instructions 1200 vs 1199", runs[1].RepeatDivergence);
        Assert.Equal("not deterministic: boot 3 of 4: instructions 1200 vs 1199", runs[1].FailureReason);
        Assert.Equal("boot 2 of 2: instructions 1200 vs 1199", KutRunner.Combine([Round(10, 10), odd])[1].RepeatDivergence);
    }

    [Fact]
    public void A_real_image_booted_three_times_does_the_same_each_time()
    {
        var image = TestImages.Image(a =>
        {
            a.mov(dx, 0x3F8);
            foreach (char c in "PASS: x\nSUMMARY: 1 tests\n")
            {
                a.mov(al, (byte)c);
                a.@out(dx, al);
            }

            a.mov(eax, 0);
            a.@out(0xF4, eax);
            a.hlt();
        });
        var options = new GuestMachineOptions { Cpus = 2, RamMiB = 16 };
        var runs = KutRunner.RunRepeated("t", image, options, [AccelKind.None, AccelKind.X2Avic], 3);
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => Assert.True(r.Passed, r.FailureReason));
        Assert.All(runs, r => Assert.Equal(3, r.Repeats));
        Assert.Equal(
            "repeat",
            Assert.Throws<ArgumentOutOfRangeException>(() => KutRunner.RunRepeated("t", image, options, [AccelKind.None], 0)).ParamName);
    }

    private static GuestRunResult Result() =>
        new(GuestOutcome.Exited, 0, "a\nb\n", 1200, 5000, TimeSpan.FromMilliseconds(1), null, "exits 3", []);

    private static KutRun[] Round(int noneMs, int avicMs)
    {
        const string Serial = "PASS: a\nSUMMARY: 1 tests\n";
        var report = KutReport.Parse(Serial);
        return
        [
            new("t", AccelKind.None, Result() with { Serial = Serial, HostTime = TimeSpan.FromMilliseconds(noneMs) }, report),
            new("t", AccelKind.Avic, Result() with { Serial = Serial, HostTime = TimeSpan.FromMilliseconds(avicMs) }, report),
        ];
    }

    private static KutRun Log(AccelKind accel, string serial) => KutRunTests.Run(GuestOutcome.Exited, 0, serial, accel);
}
