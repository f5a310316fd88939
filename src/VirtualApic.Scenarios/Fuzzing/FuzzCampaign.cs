// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using VirtualApic.Assist;
using VirtualApic.Diagnostics;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Scenarios.Running;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Fabric;

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

    /// <summary>
    /// Weave in issue 15's configurations and statements (split irqchip, X2APIC_API flags, PV EOI,
    /// PV unhalt, MSI routes; <see cref="ProgramGenerator"/>). Off by default until the bound-IRR
    /// timer divergence they expose is fixed (docs/reliability.md).
    /// </summary>
    public bool KvmConfigurations { get; init; }
}

/// <summary>The outcome of a campaign.</summary>
/// <param name="Programs">Programs run.</param>
/// <param name="Steps">Statements executed, over every backend.</param>
/// <param name="Elapsed">Wall time.</param>
/// <param name="Findings">What was found (minimized).</param>
public sealed record FuzzSummary(int Programs, long Steps, TimeSpan Elapsed, IReadOnlyList<FuzzFinding> Findings)
{
    /// <summary>Wall time from the start to the first finding (before shrinking it), if any.</summary>
    public TimeSpan? TimeToFirstFinding { get; init; }

    /// <summary>Programs run up to and including the first finding, if any.</summary>
    public int? ProgramsToFirstFinding { get; init; }

    /// <summary>Programs that took a fixed vector.</summary>
    public int TookVector { get; init; }

    /// <summary>Programs that completed a level-triggered IOAPIC EOI.</summary>
    public int LevelEoi { get; init; }

    /// <summary>Programs that took an NMI.</summary>
    public int TookNmi { get; init; }

    /// <summary>Programs that snapshotted or migrated with vectors still posted (PIR or inbox).</summary>
    public int SnapshotWithPosted { get; init; }

    /// <summary>Programs whose VM used a split irqchip, 32-bit x2APIC IDs or the broadcast quirk off.</summary>
    public int KvmConfig { get; init; }

    /// <summary>Programs in which KVM armed a PV EOI flag.</summary>
    public int PvEoiArmed { get; init; }

    /// <summary>Programs in which an EOI exited to the VMM (split irqchip).</summary>
    public int VmmEoi { get; init; }

    /// <summary>Programs that made the PV unhalt hypercall.</summary>
    public int Kicked { get; init; }

    /// <summary>The coverage figures as percentages of the programs run, one line.</summary>
    public string CoverageLine => Programs == 0 ? "coverage: no programs" : string.Create(CultureInfo.InvariantCulture,
        $"coverage: {100.0 * TookVector / Programs:F1}% took a vector, {100.0 * LevelEoi / Programs:F1}% completed a level EOI, {100.0 * TookNmi / Programs:F1}% took an NMI, {100.0 * SnapshotWithPosted / Programs:F1}% snapshotted with posted vectors outstanding, {100.0 * KvmConfig / Programs:F1}% ran a KVM configuration (split irqchip, 32-bit IDs, quirk off), {100.0 * PvEoiArmed / Programs:F1}% armed a PV EOI flag, {100.0 * VmmEoi / Programs:F1}% exited to the VMM on an EOI, {100.0 * Kicked / Programs:F1}% kicked a vCPU");

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
        int tookVector = 0, levelEoi = 0, tookNmi = 0, snapshotPosted = 0, kvmConfig = 0, pvEoiArmed = 0, vmmEoi = 0, kicked = 0;
        TimeSpan? firstAt = null;
        int? firstProgram = null;
        for (int i = 0; i < options.Iterations; i++)
        {
            if ((options.Duration is { } limit && clock.Elapsed > limit) || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            int seed = unchecked(options.Seed + i);
            string text = new ProgramGenerator(seed, options.Cpus, architectural, options.KvmConfigurations).Next(options.Statements);
            programs++;
            var pick = new Random(seed ^ 0x5BD1E995);
            var variant = new MetamorphicVariant((MetamorphicKind)pick.Next(2), pick.Next(options.Statements + options.Cpus), pick.Next(4));
            var outcome = Evaluate(text, options.Profile, variant);
            steps += outcome.Steps;
            tookVector += outcome.Coverage.TookVector ? 1 : 0;
            levelEoi += outcome.Coverage.LevelEoi ? 1 : 0;
            tookNmi += outcome.Coverage.TookNmi ? 1 : 0;
            snapshotPosted += outcome.Coverage.SnapshotWithPosted ? 1 : 0;
            kvmConfig += outcome.Coverage.KvmConfig ? 1 : 0;
            pvEoiArmed += outcome.Coverage.PvEoiArmed ? 1 : 0;
            vmmEoi += outcome.Coverage.VmmEoi ? 1 : 0;
            kicked += outcome.Coverage.Kicked ? 1 : 0;
            if (outcome.Finding is { } finding)
            {
                firstAt ??= clock.Elapsed;
                firstProgram ??= programs;
                if (finding.Kind == FindingKind.Unparsable)
                {
                    findings.Add(new FuzzFinding(finding.Kind, finding.Description, text, seed));
                    onFinding?.Invoke(findings[^1]);
                    continue;
                }

                string minimal = Shrink(text, options.Profile, finding.Kind, variant);
                findings.Add(new FuzzFinding(finding.Kind, Evaluate(minimal, options.Profile, variant).Finding?.Description ?? finding.Description, minimal, seed));
                onFinding?.Invoke(findings[^1]);
                if (options.StopOnFirst)
                {
                    break;
                }
            }

            progress?.Invoke(programs, steps, findings.Count);
        }

        return new FuzzSummary(programs, steps, clock.Elapsed, findings)
        {
            TimeToFirstFinding = firstAt,
            ProgramsToFirstFinding = firstProgram,
            TookVector = tookVector,
            LevelEoi = levelEoi,
            TookNmi = tookNmi,
            SnapshotWithPosted = snapshotPosted,
            KvmConfig = kvmConfig,
            PvEoiArmed = pvEoiArmed,
            VmmEoi = vmmEoi,
            Kicked = kicked,
        };
    }

    /// <summary>Runs one program under every backend and reports the first finding, if any.</summary>
    public static (long Steps, (FindingKind Kind, string Description)? Finding) Check(string text, ApicProfile profile)
    {
        var outcome = Evaluate(text, profile, variant: null);
        return (outcome.Steps, outcome.Finding);
    }

    /// <summary>
    /// Runs one program under every backend, then (when <paramref name="variant"/> is set) once more
    /// with a metamorphic perturbation that must change nothing; reports the first finding and what
    /// the program reached (<see cref="ProgramCoverage"/>).
    /// </summary>
    public static ProgramOutcome Evaluate(string text, ApicProfile profile, MetamorphicVariant? variant)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parsed = ScenarioParser.Parse(text, "fuzz.vapic");
        if (!parsed.Succeeded)
        {
            // A generated program must parse; a shrink candidate that does not is simply not a repro.
            return new ProgramOutcome(0, (FindingKind.Unparsable, parsed.Diagnostics[0].ToString()), default);
        }

        var scenario = parsed.Scenario;
        long steps = 0;
        List<ulong>? reference = null;
        ScenarioResult? referenceResult = null;
        var referenceBackend = AccelNames.All[0];
        var coverage = new ProgramCoverage();
        foreach (var backend in AccelNames.All)
        {
            var run = RunObserved(scenario, backend, profile, perturbAt: -1, perturb: null, ref coverage);
            steps += run.Steps;
            if (run.Finding is { } f)
            {
                return new ProgramOutcome(steps, f, coverage);
            }

            if (reference is null || referenceResult is null)
            {
                reference = run.States;
                referenceResult = run.Result;
                referenceBackend = backend;
                continue;
            }

            var other = backend;
            string DescribeStep(int step) => DescribeStateDifference(scenario, profile, referenceBackend, other, -1, null, step);
            if (Compare(referenceResult, reference, run.Result, run.States, $"{run.Result.Backend} vs none", DescribeStep) is { } diff)
            {
                return new ProgramOutcome(steps, (FindingKind.Divergence, diff), coverage);
            }
        }

        if (variant is { } m && reference is not null && referenceResult is not null && scenario.Statements.Count > 0)
        {
            int at = m.Step % scenario.Statements.Count;
            var backend = AccelNames.All[m.Backend % AccelNames.All.Count];
            var perturb = PerturbationOf(m.Kind);
            var unused = new ProgramCoverage();
            var run = RunObserved(scenario, backend, profile, at, perturb, ref unused);
            steps += run.Steps;
            if (run.Finding is { } f)
            {
                return new ProgramOutcome(steps, (f.Kind, $"with {Describe(m.Kind)} after step {at + 1}: {f.Description}"), coverage);
            }

            var first = referenceBackend;
            string DescribeStep(int step) => DescribeStateDifference(scenario, profile, first, backend, at, perturb, step);
            if (Compare(referenceResult, reference, run.Result, run.States, $"{run.Result.Backend} with {Describe(m.Kind)} after step {at + 1} vs none", DescribeStep) is { } diff)
            {
                return new ProgramOutcome(steps, (FindingKind.Divergence, diff), coverage);
            }
        }

        return new ProgramOutcome(steps, null, coverage);
    }

    private static string? Compare(ScenarioResult leftResult, List<ulong> left, ScenarioResult rightResult, List<ulong> right, string what, Func<int, string> describeStep)
    {
        if (LogComparer.FirstDifference(leftResult.Log, rightResult.Log) is { } diff)
        {
            return $"{what} at line {diff.Line}: \"{diff.Right}\" vs \"{diff.Left}\"";
        }

        for (int s = 0; s < Math.Min(left.Count, right.Count); s++)
        {
            if (left[s] != right[s])
            {
                return $"{what}: architectural state differs after step {s + 1}: {describeStep(s)}";
            }
        }

        return null;
    }

    // The per-step comparison is of digest hashes; once two differ, both runs are made again to step
    // `step` (programs are deterministic) for the text of the two states, and the first field that
    // differs is named. Only the steps RunObserved takes that change the VM are repeated: the
    // perturbation and the bound owners' entry; its oracles only read stored state.
    private static string DescribeStateDifference(Scenario scenario, ApicProfile profile, AccelKind left, AccelKind right, int perturbAt, Action<Fabric.VirtualMachine>? perturb, int step)
    {
        string l = DigestAfterStep(scenario, profile, left, -1, null, step);
        string r = DigestAfterStep(scenario, profile, right, perturbAt, perturb, step);
        return l == r
            ? "the state hashes differ but a second run gave equal states (a nondeterministic run)"
            : FirstFieldDifference(l, r);
    }

    private static string DigestAfterStep(Scenario scenario, ApicProfile profile, AccelKind backend, int perturbAt, Action<Fabric.VirtualMachine>? perturb, int step)
    {
        string digest = "";
        int index = 0;
        ScenarioRunner.Run(scenario, backend, profile, afterStep: (vm, statement) =>
        {
            if (index == perturbAt && perturb is not null)
            {
                perturb(vm);
            }

            Metamorphic.EnterBoundOwners(vm);
            if (index++ == step)
            {
                digest = StateDigest.Of(vm);
            }
        });
        return digest;
    }

    private sealed record ObservedRun(long Steps, ScenarioResult Result, List<ulong> States, (FindingKind Kind, string Description)? Finding);

    // One run under one backend with every per-step oracle: the state digest (stored state only),
    // the invariants, conservation; and the coverage the run reached. perturb runs after step
    // perturbAt, before that step is observed.
    private static ObservedRun RunObserved(Scenario scenario, AccelKind backend, ApicProfile profile, int perturbAt, Action<Fabric.VirtualMachine>? perturb, ref ProgramCoverage coverage)
    {
        var states = new List<ulong>();
        string? violation = null;
        long steps = 0;
        var conservation = new ConservationTracker();
        var cov = coverage;
        bool postedOutstanding = false;
        uint remoteIrr = 0;
        int index = 0;
        var ranWhileHalted = new HashSet<int>();
        var result = ScenarioRunner.Run(scenario, backend, profile, afterStep: (vm, statement) =>
        {
            if (index++ == perturbAt && perturb is not null)
            {
                perturb(vm);
            }

            steps++;
            if ((statement is SnapshotStatement or MigrateStatement) && postedOutstanding)
            {
                cov = cov with { SnapshotWithPosted = true };
            }

            postedOutstanding = vm.Vcpus.Any(v => StoredState.HasUnsyncedVectors(vm, v));
            uint remote = 0;
            var entries = vm.IoApic.Save().Entries; // one lock for the table, not one per pin
            for (int pin = 0; pin < Devices.IoApic.PinCount; pin++)
            {
                remote |= new RedirectionEntry(entries[pin]).RemoteIrr ? 1u << pin : 0;
            }

            if ((remoteIrr & ~remote) != 0 && statement is not (RestoreStatement or IoApicRouteStatement or IoApicWriteStatement))
            {
                cov = cov with { LevelEoi = true };
            }

            remoteIrr = remote;
            if (statement is TakeStatement t && vm.Vcpus[t.Cpu].NmiBlocked && !cov.TookNmi)
            {
                cov = cov with { TookNmi = true };
            }

            if (!cov.PvEoiArmed && vm.Vcpus.Any(v => v.PvEoi.Pending))
            {
                cov = cov with { PvEoiArmed = true };
            }

            if (!cov.VmmEoi && vm.Vcpus.Any(v => v.Exits[ExitReason.IoApicEoi] > 0))
            {
                cov = cov with { VmmEoi = true };
            }

            if (violation is null)
            {
                // A statement that makes a halted vCPU execute an instruction runs it: from then until
                // it leaves the halted state, its events are found by its own evaluation, not a wake-up.
                if (ActingCpu(statement) is { } actor && actor < vm.Vcpus.Count && vm.Vcpus[actor].State == VcpuRunState.Halted && statement is not HltStatement)
                {
                    ranWhileHalted.Add(actor);
                }

                ranWhileHalted.RemoveWhere(c => c >= vm.Vcpus.Count || vm.Vcpus[c].State != VcpuRunState.Halted);
                var broken = InvariantChecker.Check(vm, ranWhileHalted.Contains);
                var lost = conservation.Step(vm, LicenseOf(statement));
                string? first = broken.Count > 0 ? broken[0] : lost.Count > 0 ? lost[0] : null;
                if (first is not null)
                {
                    violation = string.Create(CultureInfo.InvariantCulture, $"line {statement.Source.Line} ({statement.Source.Text}) under {AccelNames.Format(backend)}: {first}");
                }
            }

            // After the step is observed, the owners of bound IRRs enter the guest before the next
            // one, and the state compared across runs is the one the guest then sees: an expiry a
            // bound owner was handed is injected with all its effects (under the architectural
            // profile an illegal timer vector's ESR bit and LVT error interrupt, campaign seeds
            // 20248617 and 20687393), as the unbound run delivered it at expiry. The invariants
            // and conservation above still judge the state before the entry.
            Metamorphic.EnterBoundOwners(vm);
            states.Add(StateDigest.HashOf(vm));
        });

        if (conservation.Taken.Any(n => n > 0))
        {
            cov = cov with { TookVector = true };
        }

        var o = scenario.Vm;
        cov = cov with
        {
            KvmConfig = cov.KvmConfig || o.SplitIrqchip || o.X2ApicApi != X2ApicApiFlags.None,
            Kicked = cov.Kicked || scenario.Statements.Any(s => s is KickCpuStatement),
        };

        coverage = cov;
        if (result.Dead)
        {
            var f = result.Failures.FirstOrDefault();
            return new ObservedRun(steps, result, states, (FindingKind.Exception, $"under {result.Backend}: line {f?.Line}: {f?.Message}"));
        }

        return new ObservedRun(steps, result, states, violation is null ? null : (FindingKind.InvariantViolation, violation));
    }

    // The documented ways a statement may drop accepted interrupts (ConservationTracker).
    private static StepLicense LicenseOf(Statement statement) => statement switch
    {
        RestoreStatement => StepLicense.ReplacesState,
        WrmsrStatement { Msr.Number: ApicBaseMsr } or HostWrmsrStatement { Msr.Number: ApicBaseMsr } => StepLicense.MayResetApic,
        _ => StepLicense.None,
    };

    private const uint ApicBaseMsr = 0x1B;

    // The vCPU whose instruction a statement executes, if any. Every cpuN statement is a guest
    // instruction (a PV EOI and the kick-cpu hypercall included) but the CPU's own evaluation (a
    // take), HLT itself, the VMM's MSR write and a device's LINT pin: a guest statement added later
    // counts without being listed (a PV EOI by a halted vCPU was missing from a list, seed 2736792).
    private static int? ActingCpu(Statement statement) => statement switch
    {
        TakeStatement or HltStatement or HostWrmsrStatement or LintStatement => null,
        CpuStatement s => s.Cpu,
        _ => null,
    };

    private static Action<Fabric.VirtualMachine> PerturbationOf(MetamorphicKind kind) => kind switch
    {
        MetamorphicKind.BinarySnapshotRoundTrip => Metamorphic.BinaryRoundTrip,
        _ => Metamorphic.BindIrrsElsewhere,
    };

    private static string Describe(MetamorphicKind kind) => kind switch
    {
        MetamorphicKind.BinarySnapshotRoundTrip => "a binary snapshot + restore",
        _ => "the IRRs bound to another thread",
    };

    private static string FirstFieldDifference(string left, string right)
    {
        string[] a = left.Split(',', ';');
        string[] b = right.Split(',', ';');
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
    public static string Shrink(string text, ApicProfile profile, FindingKind kind) => Shrink(text, profile, kind, null);

    /// <summary>As <see cref="Shrink(string, ApicProfile, FindingKind)"/>, keeping the metamorphic run that found it.</summary>
    public static string Shrink(string text, ApicProfile profile, FindingKind kind, MetamorphicVariant? variant)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        string head = lines[0];
        var body = lines.Skip(1).ToList();
        bool Fails(List<string> candidate) =>
            Evaluate(head + "\n" + string.Join('\n', candidate) + "\n", profile, variant).Finding is { } f && f.Kind == kind;

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
