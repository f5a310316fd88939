// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

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

            string[] a = runs[0].Result.Serial.Split('\n');
            string[] b = runs[r].Result.Serial.Split('\n');
            for (int i = 0; ; i++)
            {
                string? la = i < a.Length ? a[i] : null;
                string? lb = i < b.Length ? b[i] : null;
                if (la != lb)
                {
                    return $"line {i + 1}: [{Name(runs[0].Accel)}] {Quote(la)} vs [{Name(runs[r].Accel)}] {Quote(lb)}";
                }
            }
        }

        return null;
    }

    /// <summary>The backend's name as the CLI spells it.</summary>
    public static string Name(AccelKind accel) => accel.ToString().ToLowerInvariant();

    private static string Quote(string? line) => line is null ? "(end of log)" : "\"" + line + "\"";
}
