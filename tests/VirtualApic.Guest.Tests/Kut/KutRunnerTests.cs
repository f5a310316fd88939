// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Guest.Kut;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform;
using VirtualApic.Profiles;

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

    private static KutRun Log(AccelKind accel, string serial) => KutRunTests.Run(GuestOutcome.Exited, 0, serial, accel);
}
