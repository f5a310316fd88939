// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Scenarios.Running;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>
/// Runs every <c>scenarios/conformance/*.vapic</c> under all four backends, as
/// <c>vapic run scenarios/conformance --accel all</c> does: each must pass and the logs must agree.
/// </summary>
public sealed class ConformanceScenarioTests
{
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (string? file in Directory.GetFiles(Repo.PathOf("scenarios/conformance"), "*.vapic").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Fact]
    public void The_directory_has_scenarios() => Assert.NotEmpty(Files());

    [Theory]
    [MemberData(nameof(Files))]
    public void Passes_under_every_backend(string name)
    {
        string path = Path.Combine(Repo.PathOf("scenarios/conformance"), name);
        var parsed = ScenarioParser.Parse(File.ReadAllText(path), path);
        Assert.True(parsed.Succeeded, string.Join("\n", parsed.Diagnostics));
        var result = ScenarioRunner.RunAll(parsed.Scenario, profileOverride: null);
        string failures = string.Join("\n", result.Results.SelectMany(r => r.Failures.Select(f => $"[{r.Backend}] {f.Line}: {f.Message}")));
        string divergences = string.Join("\n", result.Divergences.Where(d => !d.IsKnown));
        Assert.True(result.Passed, failures + "\n" + divergences);
    }
}
