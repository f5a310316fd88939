// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Boot;
using VirtualApic.Guest.Kut;
using VirtualApic.Guest.Machine;

namespace VirtualApic.Guest.Tests.Kut;

/// <summary>
/// The unmodified kvm-unit-tests binaries, booted as unittests.cfg describes them, under every backend:
/// the SUMMARY line KVM prints, no FAIL line, status 0 at isa-debug-exit, and serial logs, instruction
/// counts and virtual times identical across none, apicv, avic and x2avic.
/// </summary>
public class KutConformanceTests
{
    [Theory]
    [InlineData("x2apic", "56 tests")]
    [InlineData("xapic", "45 tests, 1 skipped")]
    [InlineData("ioapic", "30 tests")]
    public void Section_passes_under_every_backend_with_identical_logs(string name, string summary)
    {
        string dir = KutTestData.Require();
        var config = KutConfig.Load(Path.Combine(dir, "unittests.cfg"));
        var section = config.Find(name);
        Assert.NotNull(section);
        var image = MultibootImage.FromFile(Path.Combine(dir, section.File));

        var runs = KutRunner.Run(section.Name, image, KutRunner.OptionsFor(section, Fabric.AccelKind.None), Fabric.AccelNames.All);

        foreach (var run in runs)
        {
            string where = $"[{name}] under {KutRunner.Name(run.Accel)}";
            Assert.True(run.Result.Outcome == GuestOutcome.Exited, $"{where}: {run.Result.Outcome}: {run.Result.Diagnosis}\n{Tail(run.Result.Serial)}");
            Assert.Equal(0u, run.Result.ExitStatus);
            Assert.Equal(summary, run.Report.Summary);
            Assert.True(run.Report.Failures.Count == 0, $"{where}: {string.Join("\n", run.Report.Failures)}");
            Assert.DoesNotContain("FAIL", run.Result.Serial, StringComparison.Ordinal);
            Assert.True(run.Passed, where);
        }

        Assert.Null(KutRunner.FirstDivergence(runs));
        Assert.All(runs, r => Assert.Equal(runs[0].Result.Instructions, r.Result.Instructions));
        Assert.All(runs, r => Assert.Equal(runs[0].Result.VirtualNs, r.Result.VirtualNs));
    }

    private static string Tail(string serial) => serial.Length > 2000 ? serial[^2000..] : serial;
}
