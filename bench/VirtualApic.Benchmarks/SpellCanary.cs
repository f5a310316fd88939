// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.EventProcessors;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace VirtualApic.Benchmarks;

/// <summary>
/// Runs the C floor (bench/baseline/w1-floor.c, built by bench/compare.sh) right before and right
/// after every benchmark case, in BenchmarkDotNet's host process on the CPU the case runs on, and
/// appends <c>CASE-KEY;BEFORE;AFTER;B1/B2;A1/A2</c> to a log: ns per cycle, the inline variant's
/// median, the lesser of two runs each side (both runs after the last two fields). A host
/// spell slows this CPU by 1.2-1.8x for seconds to minutes (docs/performance.md, "Host spells"); a
/// floor read around each workload misses the spells that fall on a single case of it, the two
/// floors read around each case do not, so compare.sh can run that case again.
/// Enabled by <c>VAPIC_CANARY</c> (the floor program) and <c>VAPIC_CANARY_LOG</c> (the log).
/// </summary>
internal sealed class SpellCanary : EventProcessor
{
    // 5 runs of 2 million cycles: about 65 ms at 6.3 ns per cycle, short enough to sit right beside
    // the case, long enough that its median is steady to 1-2% on a quiet CPU.
    private static readonly string[] FloorArguments = ["2000000", "5", "i"];

    // The pause between a side's two floor runs (see Read).
    private const int SettleMs = 250;

    private readonly string _floor;
    private readonly string _log;
    private (double Reading, string Detail) _before;

    private SpellCanary(string floor, string log)
    {
        _floor = floor;
        _log = log;
    }

    /// <summary>The canary the environment asks for, or null.</summary>
    public static SpellCanary? FromEnvironment()
    {
        string? floor = Environment.GetEnvironmentVariable("VAPIC_CANARY");
        string? log = Environment.GetEnvironmentVariable("VAPIC_CANARY_LOG");
        if (string.IsNullOrEmpty(floor) || string.IsNullOrEmpty(log))
        {
            return null;
        }

        if (!File.Exists(floor))
        {
            throw new FileNotFoundException($"VAPIC_CANARY names '{floor}', which does not exist", floor);
        }

        return new SpellCanary(floor, log);
    }

    public override void OnStartRunBenchmark(BenchmarkCase benchmarkCase) => _before = Read();

    public override void OnEndRunBenchmark(BenchmarkCase benchmarkCase, BenchmarkReport report)
    {
        var after = Read();
        File.AppendAllText(_log, $"{CaseKey.Of(benchmarkCase)};{Format(_before.Reading)};{Format(after.Reading)};{_before.Detail};{after.Detail}\n");
    }

    private static string Format(double ns) => ns.ToString("F2", CultureInfo.InvariantCulture);

    // Two floor runs SettleMs apart, the lesser kept. A single run beside a case can read well above
    // the floor with the host machine quiet (5.9-8.0 ns in one W3 + W6 run, 12.3 once): the host
    // process shares this CPU (it reads the case's results; its runtime compiles and collects) and
    // the child process is torn down. A host spell lasts seconds to minutes and slows both runs.
    private (double Reading, string Detail) Read()
    {
        double first = ReadFloor();
        Thread.Sleep(SettleMs);
        double second = ReadFloor();
        return (Math.Min(first, second), $"{Format(first)}/{Format(second)}");
    }

    // The floor's line: "floor-inline ns/cycle median=6.31 min=... max=... [...]".
    private double ReadFloor()
    {
        var start = new ProcessStartInfo(_floor) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in FloorArguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start the floor '{_floor}'");
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        foreach (string field in output.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (field.StartsWith("median=", StringComparison.Ordinal)
                && double.TryParse(field.AsSpan(7), NumberStyles.Float, CultureInfo.InvariantCulture, out double median))
            {
                return median;
            }
        }

        throw new InvalidOperationException($"the floor '{_floor}' printed no median: {output}");
    }
}
