// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using VirtualApic.Fabric;
using VirtualApic.Guest.Boot;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform;
using VirtualApic.Profiles;

namespace VirtualApic.Guest.Kut;

/// <summary>Runs kvm-unit-tests binaries as unittests.cfg describes them, under one or more backends.</summary>
public static class KutRunner
{
    /// <summary>The machine options a section implies.</summary>
    /// <exception cref="FormatException">The section's <c>-cpu</c> is not modelled.</exception>
    public static GuestMachineOptions OptionsFor(KutSection section, AccelKind accel, ApicProfile? profile = null, IReadOnlyList<string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        return new GuestMachineOptions
        {
            Cpus = section.Smp,
            CpuModel = CpuModel.Parse(section.Cpu),
            Accel = accel,
            Profile = profile ?? ApicProfile.Kvm,
            Append = section.Append,
            Environment = environment ?? [],
            VirtualTimeoutNs = (long)(section.TimeoutSeconds * 1e9),
        };
    }

    /// <summary>Boots <paramref name="image"/> once per backend (in parallel, up to the processor count) and returns the runs in backend order.</summary>
    public static IReadOnlyList<KutRun> Run(string name, MultibootImage image, GuestMachineOptions options, IReadOnlyList<AccelKind> backends, int maxParallel = 0)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(backends);
        var runs = new KutRun[backends.Count];
        Parallel.For(
            0,
            backends.Count,
            new ParallelOptions { MaxDegreeOfParallelism = maxParallel > 0 ? maxParallel : Environment.ProcessorCount },
            i =>
            {
                using var machine = new GuestMachine(image, options with { Accel = backends[i] });
                var result = machine.Run();
                runs[i] = new KutRun(name, backends[i], result, KutReport.Parse(result.Serial));
            });
        return runs;
    }

    /// <summary>
    /// Boots <paramref name="image"/> <paramref name="repeat"/> times per backend (each round as
    /// <see cref="Run"/> does it) and returns, in backend order, the first boot's run with
    /// <see cref="GuestRunResult.HostTime"/> the median of the boots' and <see cref="KutRun.Repeats"/>
    /// set: a host time a single short boot cannot give (a 50 ms configuration's first boot carries
    /// the JIT's work). Every later boot must do exactly what the first did; where one does not,
    /// <see cref="KutRun.RepeatDivergence"/> says where and the run fails.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="repeat"/> is below 1.</exception>
    public static IReadOnlyList<KutRun> RunRepeated(string name, MultibootImage image, GuestMachineOptions options, IReadOnlyList<AccelKind> backends, int repeat, int maxParallel = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(repeat, 1);
        return Combine(repeat, _ => Run(name, image, options, backends, maxParallel));
    }

    // Rounds already made (tests): as RunRepeated combines them.
    internal static IReadOnlyList<KutRun> Combine(IReadOnlyList<KutRun>[] rounds) => Combine(rounds.Length, r => rounds[r]);

    // One run per backend from `repeat` rounds of runs in the same backend order: the first round's,
    // with the median host time and the first difference of a later round. Only the first round and
    // the host times are kept while the later rounds come: 1000 boots of a chatty image would
    // otherwise hold 1000 serial logs per backend.
    private static IReadOnlyList<KutRun> Combine(int repeat, Func<int, IReadOnlyList<KutRun>> round)
    {
        var first = round(0);
        var times = new TimeSpan[first.Count][];
        string?[] divergence = new string?[first.Count];
        for (int b = 0; b < first.Count; b++)
        {
            times[b] = new TimeSpan[repeat];
            times[b][0] = first[b].Result.HostTime;
        }

        for (int r = 1; r < repeat; r++)
        {
            var later = round(r);
            for (int b = 0; b < first.Count; b++)
            {
                times[b][r] = later[b].Result.HostTime;
                if (divergence[b] is null && FirstDifference(first[b].Result, later[b].Result) is { } d)
                {
                    divergence[b] = $"boot {r + 1} of {repeat}: {d}";
                }
            }
        }

        var runs = new KutRun[first.Count];
        for (int b = 0; b < runs.Length; b++)
        {
            runs[b] = first[b] with
            {
                Result = first[b].Result with { HostTime = Median(times[b]) },
                Repeats = repeat,
                RepeatDivergence = divergence[b],
            };
        }

        return runs;
    }

    /// <summary>
    /// What <paramref name="other"/>, a boot of the same image and options as <paramref name="first"/>,
    /// did differently, as <c>instructions 1200 vs 1201</c> (the first boot's value first), or
    /// <see langword="null"/> when it did the same: outcome, exit status, instructions retired,
    /// virtual time, serial output (by line, as <see cref="FirstDivergence"/>) and statistics. Host
    /// time and the diagnosis's state dump are not compared.
    /// </summary>
    public static string? FirstDifference(GuestRunResult first, GuestRunResult other)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(other);
        if (first.Outcome != other.Outcome)
        {
            return $"outcome {first.Outcome} vs {other.Outcome}";
        }

        if (first.ExitStatus != other.ExitStatus)
        {
            return $"exit status {Show(first.ExitStatus)} vs {Show(other.ExitStatus)}";
        }

        if (first.Instructions != other.Instructions)
        {
            return string.Create(CultureInfo.InvariantCulture, $"instructions {first.Instructions} vs {other.Instructions}");
        }

        if (first.VirtualNs != other.VirtualNs)
        {
            return string.Create(CultureInfo.InvariantCulture, $"virtual time {first.VirtualNs} ns vs {other.VirtualNs} ns");
        }

        if (first.Serial != other.Serial)
        {
            return "serial " + FirstDifferentLine(first.Serial, other.Serial, "", "");
        }

        return first.Statistics != other.Statistics
            ? "statistics " + FirstDifferentLine(first.Statistics, other.Statistics, "", "")
            : null;
    }

    /// <summary>
    /// The first line where two backends' serial logs differ, as
    /// <c>line N: [a] "..." vs [b] "..."</c>, or <see langword="null"/> when all are identical.
    /// </summary>
    public static string? FirstDivergence(IReadOnlyList<KutRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        for (int r = 1; r < runs.Count; r++)
        {
            if (runs[r].Result.Serial == runs[0].Result.Serial)
            {
                continue;
            }

            return FirstDifferentLine(runs[0].Result.Serial, runs[r].Result.Serial, $"[{Name(runs[0].Accel)}] ", $"[{Name(runs[r].Accel)}] ");
        }

        return null;
    }

    /// <summary>The backend's name as the CLI spells it.</summary>
    public static string Name(AccelKind accel) => accel.ToString().ToLowerInvariant();

    private static string Quote(string? line) => line is null ? "(end of log)" : "\"" + line + "\"";

    private static string Show(uint? status) => status is { } s ? s.ToString(CultureInfo.InvariantCulture) : "none";

    // "line N: <a>"x" vs <b>"y"" for two texts known to differ.
    private static string FirstDifferentLine(string first, string other, string firstTag, string otherTag)
    {
        string[] a = first.Split('\n');
        string[] b = other.Split('\n');
        for (int i = 0; ; i++)
        {
            string? la = i < a.Length ? a[i] : null;
            string? lb = i < b.Length ? b[i] : null;
            if (la != lb)
            {
                return string.Create(CultureInfo.InvariantCulture, $"line {i + 1}: {firstTag}{Quote(la)} vs {otherTag}{Quote(lb)}");
            }
        }
    }

    // Sorts the caller's array (each backend's own, made for this).
    private static TimeSpan Median(TimeSpan[] times)
    {
        Array.Sort(times);
        int mid = times.Length / 2;
        return times.Length % 2 == 1 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
    }
}
