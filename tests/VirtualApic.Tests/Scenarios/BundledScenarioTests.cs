// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Scenarios.Fuzzing;
using VirtualApic.Scenarios.Running;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>
/// Runs every bundled <c>*.vapic</c> file under <c>scenarios/</c> under all four backends, one test
/// case per file, as <c>vapic run scenarios --accel all</c> does.
/// </summary>
public sealed class BundledScenarioTests
{
    private static readonly string ScenarioRoot = Repo.PathOf("scenarios");

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (string? file in Directory.EnumerateFiles(ScenarioRoot, "*.vapic", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(ScenarioRoot, file).Replace('\\', '/'));
        }

        return data;
    }

    [Fact]
    public void Bundled_scenarios_exist()
    {
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(ScenarioRoot, "examples"), "*.vapic"));
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(ScenarioRoot, "kvm-bugs"), "*.vapic"));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Scenario_passes_under_every_backend(string file)
    {
        string path = Path.Combine(ScenarioRoot, file);
        var parsed = ScenarioParser.Parse(File.ReadAllText(path), path);
        Assert.True(parsed.Succeeded, string.Join("\n", parsed.Diagnostics));

        var all = ScenarioRunner.RunAll(parsed.Scenario, profileOverride: null);
        Assert.Equal(VirtualApic.Fabric.AccelNames.All.Count, all.Results.Count);
        foreach (var result in all.Results)
        {
            Assert.True(
                result.Passed,
                $"{file} under {result.Backend}:\n"
                    + string.Join("\n", result.Failures.Select(f => $"line {f.Line}: {f.Message}")));
        }

        string[] unknown = all.Divergences.Where(d => !d.IsKnown).Select(d => d.ToString()).ToArray();
        Assert.True(unknown.Length == 0, $"{file}: backends differ:\n" + string.Join("\n", unknown));
    }

    public static TheoryData<string> FoundFiles()
    {
        var data = new TheoryData<string>();
        foreach (string? file in Directory.EnumerateFiles(Path.Combine(ScenarioRoot, "found"), "*.vapic").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    /// <summary>
    /// A fuzzer finding stays fixed: beyond its expectations, the architectural state after every
    /// step agrees across backends and every invariant holds (the fuzzer's own check).
    /// </summary>
    [Theory]
    [MemberData(nameof(FoundFiles))]
    public void Fuzzer_finding_stays_fixed(string file)
    {
        string text = File.ReadAllText(Path.Combine(ScenarioRoot, "found", file));
        var parsed = ScenarioParser.Parse(text, file);
        Assert.True(parsed.Succeeded, string.Join("\n", parsed.Diagnostics));
        var profile = parsed.Scenario.Vm.Profile;

        var (steps, finding) = FuzzCampaign.Check(text, profile);

        Assert.True(steps > 0);
        Assert.True(finding is null, $"{file}: {finding?.Kind}: {finding?.Description}");
    }
}
