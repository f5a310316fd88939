using VirtualApic.Fabric;
using System.CommandLine;
using System.Globalization;
using System.Text;
using VirtualApic.Assist;
using VirtualApic.Cli.Decoding;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Scenarios.Running;
using VirtualApic.Scenarios.Syntax;

namespace VirtualApic.Cli;

/// <summary>The <c>vapic</c> entry point.</summary>
public static class Program
{
    /// <summary>The largest scenario file accepted, in bytes.</summary>
    public const long MaxFileBytes = 4 * 1024 * 1024;

    /// <summary>Exit code: everything passed.</summary>
    public const int ExitPass = 0;

    /// <summary>Exit code: an expectation, probe or cross-backend comparison failed.</summary>
    public const int ExitFail = 1;

    /// <summary>Exit code: a usage, file or parse error.</summary>
    public const int ExitUsage = 2;

    /// <summary>Runs the command line; returns the process exit code.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the command line with the given output writers; returns the process exit code.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors go.</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        var files = new Argument<string[]>("FILE_OR_DIR") { Arity = ArgumentArity.OneOrMore, Description = "Scenario files, or directories searched recursively for *.vapic" };
        var accel = new Option<string>("--accel") { Description = "Backend: none, apicv, avic, x2avic or all (default: the vm line's accel=)" };
        accel.AcceptOnlyFromAmong("none", "apicv", "avic", "x2avic", "all");
        var profile = new Option<string>("--profile") { Description = "Profile: kvm or architectural (default: the vm line's profile=)" };
        profile.AcceptOnlyFromAmong("kvm", "architectural");
        var log = new Option<bool>("--log") { Description = "Print the observation log" };
        var trace = new Option<string>("--trace") { Description = "Write a Chrome trace event JSON file" };
        var stats = new Option<bool>("--stats") { Description = "Print VM exits per reason per backend" };
        var run = new Command("run", "Run scenarios") { files, accel, profile, log, trace, stats };
        run.SetAction(p => RunScenarios(
            new RunOptions(p.GetValue(files) ?? [], p.GetValue(accel), p.GetValue(profile), p.GetValue(log), p.GetValue(trace), p.GetValue(stats)),
            stdout,
            stderr));

        var kind = new Argument<string>("KIND") { Description = "Register kind: " + string.Join(", ", RegisterDecoder.KindNames) };
        var value = new Argument<string>("VALUE") { Description = "The raw value, decimal or 0x hex" };
        var decode = new Command("decode", "Decode a register value field by field") { kind, value };
        decode.SetAction(p => Decode(p.GetValue(kind) ?? "", p.GetValue(value) ?? "", stdout, stderr));

        var explain = new Command("explain-profiles", "Print every difference between the kvm and architectural profiles");
        explain.SetAction(_ => ExplainProfiles(stdout));

        var seed = new Option<int>("--seed") { Description = "Campaign seed (program i uses seed + i)", DefaultValueFactory = _ => 1 };
        var iterations = new Option<int>("--iterations") { Description = "Programs to run", DefaultValueFactory = _ => 200 };
        var duration = new Option<string>("--duration") { Description = "Stop after this long (e.g. 30s, 5m)" };
        var cpus = new Option<int>("--cpus") { Description = "vCPUs per program (1-8)", DefaultValueFactory = _ => 3 };
        var fuzzProfile = new Option<string>("--profile") { Description = "kvm or architectural", DefaultValueFactory = _ => "kvm" };
        var outDir = new Option<string>("--out") { Description = "Directory for minimized failing programs", DefaultValueFactory = _ => "fuzz-findings" };
        var fuzz = new Command("fuzz", "Differential fuzzing: random guest programs under every backend") { seed, iterations, duration, cpus, fuzzProfile, outDir };
        fuzz.SetAction(p => FuzzCommand.Execute(
            p.GetValue(seed), p.GetValue(iterations), p.GetValue(duration), p.GetValue(cpus), p.GetValue(fuzzProfile) ?? "kvm", p.GetValue(outDir) ?? "fuzz-findings", stdout, stderr));

        var stressDuration = new Option<string>("--duration") { Description = "How long to send, per backend (e.g. 2s, 1m)", DefaultValueFactory = _ => "2s" };
        var stressCpus = new Option<int>("--cpus") { Description = "vCPU threads (2-64; the last one toggles inhibits)", DefaultValueFactory = _ => 4 };
        var stressAccel = new Option<string>("--accel") { Description = "none, apicv, avic, x2avic or all", DefaultValueFactory = _ => "all" };
        var devices = new Option<int>("--devices") { Description = "Device threads sending MSIs (0-16)", DefaultValueFactory = _ => 2 };
        var bind = new Option<bool>("--bind") { Description = "Bind each vCPU's IRR to its thread (plain owner updates, an inbox for other threads)" };
        var stress = new Command("stress", "vCPUs and devices on real threads: every interrupt sent must be taken exactly once") { stressDuration, stressCpus, stressAccel, devices, bind };
        stress.SetAction(p => StressCommand.Execute(p.GetValue(stressDuration) ?? "2s", p.GetValue(stressCpus), p.GetValue(stressAccel) ?? "all", p.GetValue(devices), p.GetValue(bind), stdout, stderr));

        var root = new RootCommand("vapic: run .vapic scenarios against the VirtualApic model") { run, decode, explain, fuzz, stress };
        root.SetAction(_ =>
        {
            stderr.WriteLine("vapic: a command is required: run, decode, explain-profiles, fuzz or stress (see --help)");
            return ExitUsage;
        });

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                stderr.WriteLine("vapic: " + error.Message);
            }

            return ExitUsage;
        }

        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    private sealed record RunOptions(string[] Paths, string? Accel, string? Profile, bool Log, string? Trace, bool Stats);

    private static int RunScenarios(RunOptions options, TextWriter stdout, TextWriter stderr)
    {
        AccelKind? accel = options.Accel?.ToLowerInvariant() switch
        {
            null or "all" => null,
            "none" => AccelKind.None,
            "apicv" => AccelKind.Apicv,
            "avic" => AccelKind.Avic,
            _ => AccelKind.X2Avic,
        };
        bool all = string.Equals(options.Accel, "all", StringComparison.OrdinalIgnoreCase);
        ApicProfile? profile = options.Profile is { } name && ApicProfile.TryParse(name, out var p) ? p : null;

        var paths = CollectFiles(options.Paths, stderr);
        if (paths is null)
        {
            return ExitUsage;
        }

        var scenarios = new List<Scenario>();
        bool bad = false;
        foreach (var path in paths)
        {
            var text = ReadScenarioText(path, stderr);
            if (text is null)
            {
                bad = true;
                continue;
            }

            var result = ScenarioParser.Parse(text, path);
            if (!result.Succeeded)
            {
                foreach (var d in result.Diagnostics)
                {
                    stderr.WriteLine(d.ToString());
                }

                bad = true;
                continue;
            }

            scenarios.Add(result.Scenario);
        }

        if (bad)
        {
            return ExitUsage;
        }

        ChromeTraceWriter? tracer = null;
        FileStream? traceStream = null;
        if (options.Trace is { } tracePath)
        {
            try
            {
                traceStream = new FileStream(tracePath, FileMode.Create, FileAccess.Write, FileShare.Read);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                stderr.WriteLine($"vapic: cannot write trace file '{tracePath}': {ex.Message}");
                return ExitUsage;
            }

            tracer = new ChromeTraceWriter(traceStream);
        }

        var exits = new List<ExitCount>();
        var backendsRun = new HashSet<string>(StringComparer.Ordinal);
        int runs = 0, failedRuns = 0, failedScenarios = 0;
        try
        {
            foreach (var scenario in scenarios)
            {
                bool scenarioFailed = false;
                IReadOnlyList<ScenarioResult> results;
                IReadOnlyList<Divergence> divergences = [];
                if (all)
                {
                    var cross = ScenarioRunner.RunAll(scenario, profile, tracer);
                    results = cross.Results;
                    divergences = cross.Divergences;
                }
                else
                {
                    results = [ScenarioRunner.Run(scenario, accel, profile, tracer)];
                }

                foreach (var result in results)
                {
                    runs++;
                    backendsRun.Add(result.Backend);
                    exits.AddRange(result.Exits);
                    foreach (var e in result.Exits)
                    {
                        backendsRun.Add(e.Backend); // a migrate adds the backends it moved to
                    }

                    if (!result.Passed)
                    {
                        failedRuns++;
                        scenarioFailed = true;
                    }

                    stdout.WriteLine($"{(result.Passed ? "PASS" : "FAIL")} {scenario.FileName} [{result.Backend}]");
                    foreach (var failure in result.Failures)
                    {
                        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {scenario.FileName}:{failure.Line}: {failure.Message}"));
                    }

                    if (options.Log)
                    {
                        foreach (var line in result.Log)
                        {
                            stdout.WriteLine("  " + line.Text);
                        }
                    }
                }

                foreach (var divergence in divergences)
                {
                    if (!divergence.IsKnown)
                    {
                        scenarioFailed = true;
                    }

                    stdout.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"{(divergence.IsKnown ? "KNOWN" : "FAIL")} {scenario.FileName}:{divergence.Difference.Line}: [{divergence.LeftBackend}] vs [{divergence.RightBackend}] {divergence}"));
                }

                if (scenarioFailed)
                {
                    failedScenarios++;
                }
            }
        }
        finally
        {
            tracer?.Dispose();
            traceStream?.Dispose();
        }

        if (options.Stats)
        {
            PrintStats(exits, backendsRun, stdout);
        }

        stdout.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{scenarios.Count} scenario(s), {runs} run(s): {scenarios.Count - failedScenarios} scenario(s) passed, {failedScenarios} failed ({failedRuns} failed run(s))"));
        return failedScenarios == 0 ? ExitPass : ExitFail;
    }

    private static List<string>? CollectFiles(string[] paths, TextWriter stderr)
    {
        var files = new List<string>();
        bool ok = true;
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                try
                {
                    var found = Directory.EnumerateFiles(path, "*.vapic", SearchOption.AllDirectories).ToList();
                    found.Sort(StringComparer.Ordinal);
                    if (found.Count == 0)
                    {
                        stderr.WriteLine($"vapic: {path}: no *.vapic files found");
                        ok = false;
                    }

                    files.AddRange(found);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    stderr.WriteLine($"vapic: {path}: cannot list directory: {ex.Message}");
                    ok = false;
                }
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
            else
            {
                stderr.WriteLine($"vapic: {path}: no such file or directory");
                ok = false;
            }
        }

        return ok ? files : null;
    }

    /// <summary>Reads a scenario file as strict UTF-8 text, refusing large, binary or unreadable files.</summary>
    private static string? ReadScenarioText(string path, TextWriter stderr)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Length > MaxFileBytes)
            {
                stderr.WriteLine($"vapic: {path}: file too large ({info.Length} bytes; the limit is {MaxFileBytes} bytes)");
                return null;
            }

            byte[] bytes;
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                // Read at most one byte past the limit, in case the file grew since it was measured.
                var buffer = new byte[MaxFileBytes + 1];
                int total = 0, n;
                while (total < buffer.Length && (n = stream.Read(buffer, total, buffer.Length - total)) > 0)
                {
                    total += n;
                }

                if (total > MaxFileBytes)
                {
                    stderr.WriteLine($"vapic: {path}: file too large (the limit is {MaxFileBytes} bytes)");
                    return null;
                }

                bytes = buffer.AsSpan(0, total).ToArray();
            }

            if (bytes.AsSpan().Contains((byte)0))
            {
                stderr.WriteLine($"vapic: {path}: not a text file (contains NUL bytes)");
                return null;
            }

            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            stderr.WriteLine($"vapic: {path}: not a text file (invalid UTF-8)");
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"vapic: {path}: cannot read: {ex.Message}");
            return null;
        }
    }

    private static void PrintStats(List<ExitCount> exits, HashSet<string> backendsRun, TextWriter stdout)
    {
        var reasons = ExitStatistics.Reasons.Select(ExitStatistics.NameOf).ToArray();
        var header = new List<string> { "backend" };
        header.AddRange(reasons);
        header.Add("total");
        var rows = new List<string[]> { header.ToArray() };
        foreach (var backend in ScenarioRunner.AllBackends.Select(ScenarioRunner.NameOf).Where(backendsRun.Contains))
        {
            var mine = exits.Where(e => e.Backend == backend).ToList();
            var row = new List<string> { backend };
            row.AddRange(reasons.Select(r => mine.Where(e => e.Reason == r).Sum(e => e.Count).ToString(CultureInfo.InvariantCulture)));
            row.Add(mine.Sum(e => e.Count).ToString(CultureInfo.InvariantCulture));
            rows.Add([.. row]);
        }

        stdout.WriteLine("VM exits by reason (all scenarios and vCPUs):");
        WriteTable(rows, stdout);
    }

    private static void WriteTable(List<string[]> rows, TextWriter stdout)
    {
        int columns = rows[0].Length;
        var widths = Enumerable.Range(0, columns).Select(c => rows.Max(r => r[c].Length)).ToArray();
        for (int i = 0; i < rows.Count; i++)
        {
            stdout.WriteLine(string.Join("  ", rows[i].Select((cell, c) => c == columns - 1 ? cell : cell.PadRight(widths[c]))).TrimEnd());
            if (i == 0)
            {
                stdout.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
            }
        }
    }

    private static int Decode(string kindText, string valueText, TextWriter stdout, TextWriter stderr)
    {
        if (!RegisterDecoder.TryParseKind(kindText, out var kind))
        {
            stderr.WriteLine($"vapic: unknown register kind '{kindText}'; kinds: {string.Join(", ", RegisterDecoder.KindNames)}");
            return ExitUsage;
        }

        if (!TryParseNumber(valueText, out ulong value))
        {
            stderr.WriteLine($"vapic: bad value '{valueText}': expected a 64-bit number, decimal or 0x hex; kinds: {string.Join(", ", RegisterDecoder.KindNames)}");
            return ExitUsage;
        }

        stdout.WriteLine(RegisterDecoder.Decode(kind, value).ToString());
        return ExitPass;
    }

    /// <summary>Parses a decimal or <c>0x</c> hex number with optional <c>_</c> separators.</summary>
    internal static bool TryParseNumber(string text, out ulong value)
    {
        value = 0;
        var s = text.Trim().Replace("_", "", StringComparison.Ordinal);
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return s.Length > 2 && ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        }

        return s.Length > 0 && ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static int ExplainProfiles(TextWriter stdout)
    {
        var rows = new List<string[]> { new[] { "switch", "kvm", "architectural", "sources" } };
        rows.AddRange(ProfileSwitches.All.Select(s => new[] { s.Name, s.Kvm, s.Architectural, s.Sources }));
        WriteRecords(rows, stdout);
        return ExitPass;
    }

    // The switch texts are long sentences: print each switch as a block rather than a wide table.
    private static void WriteRecords(List<string[]> rows, TextWriter stdout)
    {
        var header = rows[0];
        int width = header.Max(h => h.Length);
        stdout.WriteLine($"{ProfileSwitches.All.Count} profile switches ({string.Join(" | ", header)}):");
        foreach (var row in rows.Skip(1))
        {
            stdout.WriteLine();
            for (int c = 0; c < header.Length; c++)
            {
                stdout.WriteLine($"{header[c].PadRight(width)}  {row[c]}");
            }
        }
    }
}
