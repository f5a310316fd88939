// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;
using Perfolizer.Metrology;

namespace VirtualApic.Benchmarks;

/// <summary>Entry point: BenchmarkDotNet's switcher, plus a <c>--memory</c> mode.</summary>
public static class Program
{
    private const string CallCountingDelay = "DOTNET_TC_CallCountingDelayMs";

    /// <summary>Runs the benchmarks selected on the command line (or the memory-per-vCPU measurement).</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--memory")
        {
            return MemoryPerVcpu.Run();
        }

        if (args.Length > 0 && args[0] == "--probe")
        {
            return LaunchProbe.Run(args[1..]);
        }

        // Start counting calls for tier-up at once in the benchmark processes BenchmarkDotNet launches
        // (they inherit this environment): on this machine the default 100 ms call-counting delay kept
        // being extended for 2-7 s, so a short job measured Tier0 code in some launches and not in
        // others (docs/performance.md, "Launch-to-launch flips"). Only when tiering starts changes,
        // not the code it ends with. An explicit setting in the environment wins.
        if (Environment.GetEnvironmentVariable(CallCountingDelay) is null)
        {
            Environment.SetEnvironmentVariable(CallCountingDelay, "0");
        }

        // Every table in ns and bytes, so the workloads compare at a glance; and a
        // semicolon-separated CSV with the units in the header only, for bench/compare.sh.
        var style = new SummaryStyle(CultureInfo.InvariantCulture, printUnitsInHeader: true, SizeUnit.B, TimeUnit.Nanosecond);
        var csvStyle = new SummaryStyle(CultureInfo.InvariantCulture, printUnitsInHeader: true, SizeUnit.B, TimeUnit.Nanosecond, printUnitsInContent: false);
        var config = DefaultConfig.Instance
            .WithSummaryStyle(style)
            .AddExporter(new CsvExporter(CsvSeparator.Semicolon, csvStyle))
            .AddColumn(StatisticColumn.Min, StatisticColumn.Median);
        // bench/compare.sh's per-case spell check (SpellCanary) and its re-run of the cases a spell
        // met (CaseKey): both off unless the environment asks.
        if (SpellCanary.FromEnvironment() is { } canary)
        {
            config = config.AddEventProcessor(canary);
        }

        if (CaseKey.FilterFromEnvironment() is { } cases)
        {
            config = config.AddFilter(cases);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return 0;
    }
}
