// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Fabric;
using VirtualApic.Scenarios.Running;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>
/// Over every bundled scenario: the delivery and EOI events are the same under none, apicv, avic
/// and x2avic (the core reports them, whatever path the backend took; only exits differ), and the
/// exit counts that <c>--stats</c> prints equal the trace's exit events, reason by reason.
/// </summary>
public sealed class TraceEquivalenceTests
{
    [Theory]
    [MemberData(nameof(BundledScenarioTests.Files), MemberType = typeof(BundledScenarioTests))]
    public void Deliveries_and_eois_are_the_same_under_every_backend_and_stats_match_the_trace(string file)
    {
        string path = Path.Combine(Repo.Root, "scenarios", file);
        var parsed = ScenarioParser.Parse(File.ReadAllText(path), path);
        Assert.True(parsed.Succeeded, string.Join("\n", parsed.Diagnostics));

        List<(int Vcpu, int Vector)>? referenceDeliveries = null;
        List<(int Vcpu, int Vector)>? referenceEois = null;
        foreach (var backend in VirtualApic.Fabric.AccelNames.All)
        {
            var tracer = new RecordingTracer();
            var result = ScenarioRunner.Run(parsed.Scenario, backend, profileOverride: null, tracer);

            // --stats and the trace agree on every exit.
            var traced = tracer.Exits
                .GroupBy(e => (e.Vcpu, Reason: ExitStatistics.NameOf(e.Reason)))
                .ToDictionary(g => g.Key, g => (long)g.Count());
            // A scenario that migrates runs several VMs: their counts add up, as their traces do.
            var counted = result.Exits
                .Where(e => e.Count != 0)
                .GroupBy(e => (Vcpu: e.Cpu, e.Reason))
                .ToDictionary(g => g.Key, g => g.Sum(e => e.Count));
            Assert.Equal(counted.OrderBy(k => k.Key), traced.OrderBy(k => k.Key));

            // Whether the vector went through a PIR ("posted") is a backend detail, like the exits.
            var deliveries = tracer.Deliveries.Select(d => (d.Vcpu, d.Vector)).ToList();
            var eois = tracer.Eois.ToList();
            if (referenceDeliveries is null)
            {
                referenceDeliveries = deliveries;
                referenceEois = eois;
                continue;
            }

            Assert.True(referenceDeliveries.SequenceEqual(deliveries), $"{file}: deliveries under {backend} differ from none:\n{Describe(referenceDeliveries, deliveries)}");
            Assert.True(referenceEois!.SequenceEqual(eois), $"{file}: EOIs under {backend} differ from none:\n{Describe(referenceEois!, eois)}");
        }
    }

    [Fact]
    public void The_seed_bugs_trapped_level_eoi_is_traced_as_an_eoi_exactly_as_under_none()
    {
        string path = Path.Combine(Repo.Root, "scenarios", "kvm-bugs", "01-x2avic-level-eoi-nodecode.vapic");
        var parsed = ScenarioParser.Parse(File.ReadAllText(path), path);
        Assert.True(parsed.Succeeded);
        var none = new RecordingTracer();
        var x2avic = new RecordingTracer();
        Assert.True(ScenarioRunner.Run(parsed.Scenario, AccelKind.None, null, none).Passed);
        Assert.True(ScenarioRunner.Run(parsed.Scenario, AccelKind.X2Avic, null, x2avic).Passed);

        // The first level EOI (vector 0x52, MMIO at 0xB0) traps on x2AVIC: a trap-like AVIC_NOACCEL
        // exit at offset 0xB0, then the EOI event, the same EOI event that 'none' reports.
        Assert.Contains((0, ExitReason.AvicNoAccel, 0xB0, true), x2avic.Exits);
        Assert.Contains((0, 0x52), x2avic.Eois);
        Assert.Contains((0, 0x51), x2avic.Eois);
        Assert.Equal(none.Eois, x2avic.Eois);
        Assert.NotEmpty(none.Deliveries);
    }

    private static string Describe(List<(int Vcpu, int Vector)> expected, List<(int Vcpu, int Vector)> actual)
    {
        int i = 0;
        while (i < expected.Count && i < actual.Count && expected[i] == actual[i])
        {
            i++;
        }

        string At(List<(int Vcpu, int Vector)> l) => i < l.Count ? $"cpu{l[i].Vcpu} 0x{l[i].Vector:X2}" : "(end)";
        return $"first difference at event {i}: none has {At(expected)}, this backend has {At(actual)} ({expected.Count} vs {actual.Count} events)";
    }
}
