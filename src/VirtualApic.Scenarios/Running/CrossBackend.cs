// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Scenarios.Syntax;

namespace VirtualApic.Scenarios.Running;

/// <summary>The first place two observation logs differ.</summary>
/// <param name="Index">The 0-based index in the logs.</param>
/// <param name="Line">The scenario line of the first differing entry.</param>
/// <param name="Left">The entry of the first log, or <c>&lt;end of log&gt;</c>.</param>
/// <param name="Right">The entry of the second log, or <c>&lt;end of log&gt;</c>.</param>
public sealed record LogDifference(int Index, int Line, string Left, string Right);

/// <summary>A difference between a backend's log and the emulated one.</summary>
/// <param name="LeftBackend">The reference backend (<c>none</c>).</param>
/// <param name="RightBackend">The backend compared.</param>
/// <param name="Difference">Where they first differ.</param>
/// <param name="KnownCause">The known KVM divergence that explains it, or <c>null</c> when it is a failure.</param>
public sealed record Divergence(string LeftBackend, string RightBackend, LogDifference Difference, string? KnownCause)
{
    /// <summary>True when a known KVM divergence explains the difference.</summary>
    public bool IsKnown => KnownCause is not null;

    /// <summary>A small diff: the line number and both lines.</summary>
    public override string ToString() =>
        $"line {Difference.Line}: {(IsKnown ? "known KVM divergence" : "logs differ")}{(IsKnown ? $" ({KnownCause})" : "")}\n  - {LeftBackend}: {Difference.Left}\n  + {RightBackend}: {Difference.Right}";
}

/// <summary>The outcome of running one scenario under every backend.</summary>
/// <param name="Results">One result per backend, <c>none</c> first.</param>
/// <param name="Divergences">The first difference of each backend's log from the emulated one.</param>
public sealed record CrossBackendResult(IReadOnlyList<ScenarioResult> Results, IReadOnlyList<Divergence> Divergences)
{
    /// <summary>True when every run passed and every divergence is a known KVM one.</summary>
    public bool Passed => Results.All(r => r.Passed) && Divergences.All(d => d.IsKnown);
}

/// <summary>Compares observation logs.</summary>
public static class LogComparer
{
    private const string EndOfLog = "<end of log>";

    /// <summary>The first entry where <paramref name="left"/> and <paramref name="right"/> differ, or <c>null</c>.</summary>
    public static LogDifference? FirstDifference(IReadOnlyList<Observation> left, IReadOnlyList<Observation> right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        int n = Math.Max(left.Count, right.Count);
        for (int i = 0; i < n; i++)
        {
            var l = i < left.Count ? left[i] : null;
            var r = i < right.Count ? right[i] : null;
            if (l?.Text != r?.Text)
            {
                return new LogDifference(i, Math.Min(l?.Line ?? int.MaxValue, r?.Line ?? int.MaxValue), l?.Text ?? EndOfLog, r?.Text ?? EndOfLog);
            }
        }

        return null;
    }
}

/// <summary>A place where KVM itself behaves differently with and without a hardware assist.</summary>
/// <param name="Name">A short name.</param>
/// <param name="Source">Where KVM does it.</param>
/// <param name="Applies">Whether it explains a difference at a scenario line under a profile and backend.</param>
public sealed record KnownDivergence(string Name, string Source, Func<Scenario, ApicProfile, AccelKind, int, bool> Applies);

/// <summary>The known KVM divergences between backends (allowed only under <c>profile=kvm</c>).</summary>
public static class KnownDivergences
{
    /// <summary>Every known divergence.</summary>
    public static IReadOnlyList<KnownDivergence> All { get; } =
    [
        new KnownDivergence(
            "AVIC drops an IPI with a vector below 16 that the emulated path delivers",
            "KVM avic_incomplete_ipi_interception, cause AVIC_IPI_FAILURE_INVALID_IPI_VECTOR (arch/x86/kvm/svm/avic.c)",
            static (scenario, profile, accel, line) =>
                accel is AccelKind.Avic or AccelKind.X2Avic
                && scenario.Statements.Any(s => s.Source.Line <= line && s is IpiStatement { Vector: < 16, Mode: DeliveryMode.Fixed, Trigger: TriggerMode.Edge })),
    ];

    /// <summary>The name and source of the known divergence that explains a difference, or <c>null</c>.</summary>
    public static string? Explain(Scenario scenario, ApicProfile profile, AccelKind accel, int line)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(profile);
        if (!ReferenceEquals(profile, ApicProfile.Kvm) && profile.Name != ApicProfile.Kvm.Name)
        {
            return null;
        }

        return All.FirstOrDefault(d => d.Applies(scenario, profile, accel, line)) is { } known ? $"{known.Name}; {known.Source}" : null;
    }
}
