using System.Diagnostics;
using System.Globalization;
using VirtualApic.Diagnostics;
using VirtualApic.Profiles;
using VirtualApic.Scenarios.Running;
using VirtualApic.Scenarios.Syntax;

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>What a fuzz program did wrong.</summary>
public enum FindingKind
{
    /// <summary>Two backends observed different values or left different architectural state.</summary>
    Divergence,
    /// <summary>An exception escaped the library.</summary>
    Exception,
    /// <summary>An internal invariant broke.</summary>
    InvariantViolation,

    /// <summary>The program does not parse (a generator bug when it comes from the generator).</summary>
    Unparsable,
}

/// <summary>One finding, with the minimized program that reproduces it.</summary>
/// <param name="Kind">What went wrong.</param>
/// <param name="Description">The first symptom.</param>
/// <param name="Program">The minimized <c>.vapic</c> text.</param>
/// <param name="Seed">The program's seed.</param>
public sealed record FuzzFinding(FindingKind Kind, string Description, string Program, int Seed);

/// <summary>The options of a campaign (<c>vapic fuzz</c>).</summary>
public sealed record FuzzOptions
{
    /// <summary>The campaign seed; program i uses seed + i.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>How many programs at most.</summary>
    public int Iterations { get; init; } = 200;

    /// <summary>Stop after this long, if set.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>vCPUs per program.</summary>
    public int Cpus { get; init; } = 3;

    /// <summary>Statements per program.</summary>
    public int Statements { get; init; } = 60;

    /// <summary>The profile.</summary>
    public ApicProfile Profile { get; init; } = ApicProfile.Kvm;

    /// <summary>Stop at the first finding.</summary>
    public bool StopOnFirst { get; init; }
}

/// <summary>The outcome of a campaign.</summary>
/// <param name="Programs">Programs run.</param>
/// <param name="Steps">Statements executed, over every backend.</param>
/// <param name="Elapsed">Wall time.</param>
/// <param name="Findings">What was found (minimized).</param>
public sealed record FuzzSummary(int Programs, long Steps, TimeSpan Elapsed, IReadOnlyList<FuzzFinding> Findings)
{
    /// <summary>Steps per second.</summary>
    public double StepsPerSecond => Elapsed.TotalSeconds > 0 ? Steps / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Differential fuzzing of the backends: each generated program runs under none, apicv, avic and
/// x2avic; the observation logs and the architectural state after every step must agree, no
/// exception may escape, and <see cref="InvariantChecker"/> must stay silent. A failing program is
/// shrunk to a minimal <c>.vapic</c> file.
/// </summary>
public static class FuzzCampaign
{
    private static readonly AccelKind[] Backends = [AccelKind.None, AccelKind.Apicv, AccelKind.Avic, AccelKind.X2Avic];

    /// <summary>Runs a campaign; <paramref name="progress"/> hears after each program.</summary>
    public static FuzzSummary Run(FuzzOptions options, Action<int, long, int>? progress = null) =>
        Run(options, progress, onFinding: null, CancellationToken.None);

    /// <summary>
    /// Runs a campaign that can be stopped: when <paramref name="cancellationToken"/> fires, the
    /// program under test is finished (with its shrinking, if it failed) and the summary of
    /// everything so far is returned. <paramref name="onFinding"/> hears of each finding as soon as
    /// it is minimized, so a caller can write it before the campaign ends.
    /// </summary>
    /// <param name="options">The campaign.</param>
    /// <param name="progress">Hears after each program: programs, steps, findings so far.</param>
    /// <param name="onFinding">Hears of each minimized finding as it is found.</param>
    /// <param name="cancellationToken">Stops the campaign between programs.</param>
    public static FuzzSummary Run(FuzzOptions options, Action<int, long, int>? progress, Action<FuzzFinding>? onFinding, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        bool architectural = options.Profile == ApicProfile.Architectural;
        var findings = new List<FuzzFinding>();
        long steps = 0;
        int programs = 0;
        for (int i = 0; i < options.Iterations; i++)
        {
            if ((options.Duration is { } limit && clock.Elapsed > limit) || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            int seed = unchecked(options.Seed + i);
            string text = new ProgramGenerator(seed, options.Cpus, architectural).Next(options.Statements);
            programs++;
            var outcome = Check(text, options.Profile);
            steps += outcome.Steps;
            if (outcome.Finding is { } finding)
            {
                if (finding.Kind == FindingKind.Unparsable)
                {
                    findings.Add(new FuzzFinding(finding.Kind, finding.Description, text, seed));
                    onFinding?.Invoke(findings[^1]);
                    continue;
                }

                string minimal = Shrink(text, options.Profile, finding.Kind);
                findings.Add(new FuzzFinding(finding.Kind, Check(minimal, options.Profile).Finding?.Description ?? finding.Description, minimal, seed));
                onFinding?.Invoke(findings[^1]);
                if (options.StopOnFirst)
                {
                    break;
                }
            }

            progress?.Invoke(programs, steps, findings.Count);
        }

        return new FuzzSummary(programs, steps, clock.Elapsed, findings);
    }

    /// <summary>Runs one program under every backend and reports the first finding, if any.</summary>
    public static (long Steps, (FindingKind Kind, string Description)? Finding) Check(string text, ApicProfile profile)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parsed = ScenarioParser.Parse(text, "fuzz.vapic");
        if (!parsed.Succeeded)
        {
            // A generated program must parse; a shrink candidate that does not is simply not a repro.
            return (0, (FindingKind.Unparsable, parsed.Diagnostics[0].ToString()));
        }

        var scenario = parsed.Scenario;
        long steps = 0;
        List<string>? reference = null;
        ScenarioResult? referenceResult = null;
        foreach (var backend in Backends)
        {
            var states = new List<string>();
            string? violation = null;
            var result = ScenarioRunner.Run(scenario, backend, profile, afterStep: (vm, statement) =>
            {
                steps++;
                states.Add(StateDigest.Of(vm));
                if (violation is null)
                {
                    var broken = InvariantChecker.Check(vm);
                    if (broken.Count > 0)
                    {
                        violation = string.Create(CultureInfo.InvariantCulture, $"line {statement.Source.Line} ({statement.Source.Text}) under {ScenarioRunner.NameOf(backend)}: {broken[0]}");
                    }
                }
            });

            if (result.Dead)
            {
                var f = result.Failures.FirstOrDefault();
                return (steps, (FindingKind.Exception, $"under {result.Backend}: line {f?.Line}: {f?.Message}"));
            }

            if (violation is not null)
            {
                return (steps, (FindingKind.InvariantViolation, violation));
            }

            if (reference is null || referenceResult is null)
            {
                reference = states;
                referenceResult = result;
                continue;
            }

            if (LogComparer.FirstDifference(referenceResult.Log, result.Log) is { } diff)
            {
                return (steps, (FindingKind.Divergence, $"{result.Backend} vs none at line {diff.Line}: \"{diff.Right}\" vs \"{diff.Left}\""));
            }

            for (int s = 0; s < Math.Min(states.Count, reference.Count); s++)
            {
                if (states[s] != reference[s])
                {
                    return (steps, (FindingKind.Divergence, $"{result.Backend} vs none: architectural state differs after step {s + 1}: {FirstFieldDifference(reference[s], states[s])}"));
                }
            }
        }

        return (steps, null);
    }

    private static string FirstFieldDifference(string left, string right)
    {
        var a = left.Split(',', ';');
        var b = right.Split(',', ';');
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            if (a[i] != b[i])
            {
                return $"{a[i]} (none) vs {b[i]}";
            }
        }

        return "length";
    }

    /// <summary>
    /// Delta debugging over statement lines (the vm line stays): removes chunks, then single lines,
    /// while the program still produces a finding of <paramref name="kind"/>.
    /// </summary>
    public static string Shrink(string text, ApicProfile profile, FindingKind kind)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        string head = lines[0];
        var body = lines.Skip(1).ToList();
        bool Fails(List<string> candidate) =>
            Check(head + "\n" + string.Join('\n', candidate) + "\n", profile).Finding is { } f && f.Kind == kind;

        for (int chunk = Math.Max(1, body.Count / 2); chunk >= 1; chunk /= 2)
        {
            bool removed = true;
            while (removed)
            {
                removed = false;
                for (int start = 0; start < body.Count; start += chunk)
                {
                    var candidate = body.Take(start).Concat(body.Skip(start + chunk)).ToList();
                    if (candidate.Count < body.Count && Fails(candidate))
                    {
                        body = candidate;
                        removed = true;
                        break;
                    }
                }
            }
        }

        return head + "\n" + string.Join('\n', body) + "\n";
    }
}
