// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using VirtualApic.Guest.Kut;
using VirtualApic.Guest.Machine;

namespace VirtualApic.Cli;

/// <summary>The output shared by <c>vapic boot</c> and <c>vapic kut</c>: serial stream, one line per run, divergences.</summary>
internal static class GuestRunPrinter
{
    /// <summary>Prints the runs of one image; returns whether every run passed and the logs agree.</summary>
    public static bool Print(IReadOnlyList<KutRun> runs, bool printSerial, bool stats, TextWriter stdout)
    {
        if (printSerial && runs.Count > 0)
        {
            stdout.Write(runs[0].Result.Serial);
            if (!runs[0].Result.Serial.EndsWith('\n'))
            {
                stdout.WriteLine();
            }
        }

        bool ok = true;
        foreach (var run in runs)
        {
            stdout.WriteLine(Line(run));
            if (!run.Passed)
            {
                ok = false;
                if (run.Result.Diagnosis is { } d)
                {
                    stdout.WriteLine(d);
                }
            }
        }

        if (KutRunner.FirstDivergence(runs) is { } divergence)
        {
            ok = false;
            stdout.WriteLine($"FAIL {runs[0].Name}: serial logs differ between backends: {divergence}");
        }

        _ = stats;
        return ok;
    }

    /// <summary>
    /// <c>PASS x2apic [avic] (56 tests) 68.2M insns 11.66s virtual 3.004s host</c>: host time to the
    /// millisecond, so that a 50 ms configuration (ioapic) shows its launch-to-launch spread; with
    /// <c>--repeat N</c>, <c>... 0.046s host (median of N)</c>.
    /// </summary>
    public static string Line(KutRun run)
    {
        var r = run.Result;
        string tests = run.Report.TestsCounted is { } n
            ? string.Create(CultureInfo.InvariantCulture, $"{n} tests{(run.Report.Skipped > 0 ? $", {run.Report.Skipped} skipped" : "")}")
            : "no summary";
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{(run.Passed ? "PASS" : "FAIL")} {run.Name} [{KutRunner.Name(run.Accel)}] ({tests}) {Insns(r.Instructions)} insns {GuestMachine.FormatNs(r.VirtualNs)} virtual {r.HostTime.TotalSeconds:0.000}s host{(run.Repeats > 1 ? $" (median of {run.Repeats})" : "")}");
        return run.FailureReason is { } why ? line + ": " + why : line;
    }

    private static string Insns(long n) => n switch
    {
        >= 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e6:0.0}M"),
        >= 1_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e3:0.0}k"),
        _ => n.ToString(CultureInfo.InvariantCulture),
    };
}
