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
/// appends <c>CASE-KEY;BEFORE;AFTER;B1/B2;A1/A2;CPU;CANDIDATES</c> to a log: ns per cycle, the inline
/// variant's median, the lesser of two runs each side (both runs in the next two fields). A host
/// spell slows one CPU by 1.2-1.8x for seconds to minutes (docs/performance.md, "Host spells"); a
/// floor read around each workload misses the spells that fall on a single case of it, the two
/// floors read around each case do not, so compare.sh can run that case again.
/// With <c>VAPIC_CANARY_CPUS</c> (a comma-separated list) the before-reading is taken on every CPU
/// of the list and the case runs on the quietest: the spells here are one vCPU's at a time, and
/// move between the two (docs/performance.md, "Twenty-third session"). The thread that starts the
/// case's process is pinned to it, and the process inherits the pin; CPU names it, CANDIDATES
/// lists every CPU's two readings. Without the list nothing is pinned (CPU is <c>-</c>).
/// Enabled by <c>VAPIC_CANARY</c> (the floor program) and <c>VAPIC_CANARY_LOG</c> (the log).
/// </summary>
internal sealed class SpellCanary : EventProcessor
{
    // 5 runs of 2 million cycles: about 65 ms at 6.3 ns per cycle, short enough to sit right beside
    // the case, long enough that its median is steady to 1-2% on a quiet CPU.
    private static readonly string[] FloorArguments = ["2000000", "5", "i"];

    // The pause between a side's two floor runs (see Read).
    private const int SettleMs = 250;

    // A CPU "number" that pins nothing: the case runs wherever the host process runs.
    private const int Unpinned = -1;

    private readonly string _floor;
    private readonly string _log;

    // The CPUs a case may run on; Unpinned alone without VAPIC_CANARY_CPUS.
    private readonly int[] _cpus;

    private int _cpu = Unpinned;
    private (double Reading, string Detail) _before;
    private string _candidates = "-";

    private SpellCanary(string floor, string log, int[] cpus)
    {
        _floor = floor;
        _log = log;
        _cpus = cpus.Length == 0 ? [Unpinned] : cpus;
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

        return new SpellCanary(floor, log, ParseCpus(Environment.GetEnvironmentVariable("VAPIC_CANARY_CPUS")));
    }

    /// <summary>The CPUs of <c>VAPIC_CANARY_CPUS</c> ("0,1"); none when it is unset or empty.</summary>
    public static int[] ParseCpus(string? list)
    {
        if (string.IsNullOrWhiteSpace(list))
        {
            return [];
        }

        return [.. list.Split(',', StringSplitOptions.TrimEntries).Select(cpu =>
            int.TryParse(cpu, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n < 64
                ? n
                : throw new ArgumentException($"VAPIC_CANARY_CPUS: '{cpu}' in '{list}' is not a CPU number from 0 to 63"))];
    }

    public override void OnStartRunBenchmark(BenchmarkCase benchmarkCase)
    {
        var readings = Read(_cpus);
        int best = 0;
        for (int i = 1; i < readings.Length; i++)
        {
            if (readings[i].Reading < readings[best].Reading)
            {
                best = i;
            }
        }

        _cpu = _cpus[best];
        Pin(_cpu); // the case's process inherits it
        _before = readings[best];
        _candidates = _cpu == Unpinned ? "-" : string.Join(' ', _cpus.Select((cpu, i) => $"{CpuName(cpu)}={readings[i].Detail}"));
    }

    public override void OnEndRunBenchmark(BenchmarkCase benchmarkCase, BenchmarkReport report)
    {
        var after = Read([_cpu])[0];
        File.AppendAllText(_log, $"{CaseKey.Of(benchmarkCase)};{Format(_before.Reading)};{Format(after.Reading)};{_before.Detail};{after.Detail};{CpuName(_cpu)};{_candidates}\n");
    }

    private static string Format(double ns) => ns.ToString("F2", CultureInfo.InvariantCulture);

    private static string CpuName(int cpu) => cpu == Unpinned ? "-" : "cpu" + cpu.ToString(CultureInfo.InvariantCulture);

    private static void Pin(int cpu)
    {
        if (cpu != Unpinned)
        {
            ThreadAffinity.PinCurrentThread(cpu);
        }
    }

    // Each CPU's floor read twice, the two rounds SettleMs apart and interleaved across the CPUs (so
    // every CPU's pair spans the same moments), the lesser kept. A single run beside a case can read
    // well above the floor with the host machine quiet (5.9-8.0 ns in one W3 + W6 run, 12.3 once):
    // the host process shares the CPU (it reads the case's results; its runtime compiles and
    // collects) and the child process is torn down. A host spell lasts seconds to minutes and slows
    // both runs.
    private (double Reading, string Detail)[] Read(int[] cpus)
    {
        double[] first = new double[cpus.Length];
        for (int i = 0; i < cpus.Length; i++)
        {
            Pin(cpus[i]);
            first[i] = ReadFloor();
        }

        Thread.Sleep(SettleMs);
        var readings = new (double Reading, string Detail)[cpus.Length];
        for (int i = 0; i < cpus.Length; i++)
        {
            Pin(cpus[i]);
            double second = ReadFloor();
            readings[i] = (Math.Min(first[i], second), $"{Format(first[i])}/{Format(second)}");
        }

        return readings;
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
