// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using System.CommandLine;
using System.Globalization;
using System.Text;
using VirtualApic.Assist;
using VirtualApic.Cli.Decoding;
using VirtualApic.Profiles;
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

    /// <summary>Exit code: <c>fuzz</c> or <c>stress</c> stopped by Ctrl-C with nothing found (128 + SIGINT, as shells report it).</summary>
    public const int ExitInterrupted = 130;

    /// <summary>Runs the command line; returns the process exit code. Ctrl-C stops a long command cleanly.</summary>
    public static int Main(string[] args)
    {
        // Lives as long as the process (not disposed): a Ctrl-C arriving while Main returns must not
        // meet a disposed source on the signal thread.
        var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // The first Ctrl-C asks the command to finish what it has and print its summary; a second one kills.
            e.Cancel = !stop.IsCancellationRequested;
            stop.Cancel();
        };
        return Run(args, new Terminal(Console.Out, Console.Error, Interactive: !Console.IsErrorRedirected), stop.Token);
    }

    /// <summary>Runs the command line with the given output writers; returns the process exit code.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors go.</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        return Run(args, new Terminal(stdout, stderr, Interactive: false), CancellationToken.None);
    }

    /// <summary>Runs the command line on <paramref name="terminal"/>; <paramref name="stop"/> ends a long command early.</summary>
    internal static int Run(string[] args, Terminal terminal, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(terminal);
        var (stdout, stderr) = (terminal.Out, terminal.Error);

        var files = new Argument<string[]>("FILE_OR_DIR") { Arity = ArgumentArity.OneOrMore, Description = "Scenario files, or directories searched recursively for *.vapic" };
        var accel = new Option<string>("--accel") { Description = $"Backend: {string.Join(", ", AccelNames.Names)} or all (default: the vm line's accel=)" };
        accel.AcceptOnlyFromAmong([.. AccelNames.Names, "all"]);
        var profile = new Option<string>("--profile") { Description = "Profile: kvm or architectural (default: the vm line's profile=)" };
        profile.AcceptOnlyFromAmong("kvm", "architectural");
        var log = new Option<bool>("--log") { Description = "Print the observation log" };
        var trace = new Option<string>("--trace") { Description = "Write a Chrome trace event JSON file" };
        var stats = new Option<bool>("--stats") { Description = "Print VM exits per reason per backend" };
        var run = new Command("run", "Run scenarios") { files, accel, profile, log, trace, stats };
        RefuseUnknownOptions(files, run);
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
        var kvmConfigs = new Option<bool>("--kvm-configs") { Description = "Also generate KVM's VMM configurations: split irqchip, X2APIC_API flags, PV EOI, kick-cpu, MSI routes" };
        var fuzz = new Command("fuzz", "Differential fuzzing: random guest programs under every backend") { seed, iterations, duration, cpus, fuzzProfile, outDir, kvmConfigs };
        fuzz.SetAction(p => FuzzCommand.Execute(
            p.GetValue(seed), p.GetValue(iterations), p.GetValue(duration), p.GetValue(cpus), p.GetValue(fuzzProfile) ?? "kvm", p.GetValue(outDir) ?? "fuzz-findings", terminal, stop, p.GetValue(kvmConfigs)));

        var stressDuration = new Option<string>("--duration") { Description = "How long to send, per backend (e.g. 2s, 1m)", DefaultValueFactory = _ => "2s" };
        var stressCpus = new Option<int>("--cpus") { Description = "vCPU threads (2-64; the last one toggles inhibits)", DefaultValueFactory = _ => 4 };
        var stressAccel = new Option<string>("--accel") { Description = $"{string.Join(", ", AccelNames.Names)} or all", DefaultValueFactory = _ => "all" };
        var devices = new Option<int>("--devices") { Description = "Device threads sending MSIs (0-16)", DefaultValueFactory = _ => 2 };
        var bind = new Option<bool>("--bind") { Description = "Bind each vCPU's IRR to its thread (plain owner updates, an inbox for other threads)" };
        var stress = new Command("stress", "vCPUs and devices on real threads: every interrupt sent must be taken exactly once") { stressDuration, stressCpus, stressAccel, devices, bind };
        stress.SetAction(p => StressCommand.Execute(p.GetValue(stressDuration) ?? "2s", p.GetValue(stressCpus), p.GetValue(stressAccel) ?? "all", p.GetValue(devices), p.GetValue(bind), terminal, stop));

        var dumpFile = new Argument<string>("FILE") { Description = "A scenario; its final state is printed" };
        var dumpCpu = new Option<int?>("--cpu") { Description = "Only this vCPU's APIC (default: every APIC and the IOAPIC)" };
        var dumpAccel = new Option<string>("--accel") { Description = $"Backend: {string.Join(", ", AccelNames.Names)} (default: the vm line's accel=)" };
        dumpAccel.AcceptOnlyFromAmong([.. AccelNames.Names]);
        var dump = new Command("dump", "Run a scenario and print its APICs and IOAPIC as QEMU's info lapic / info pic do") { dumpFile, dumpCpu, dumpAccel };
        dump.SetAction(p => DumpState(p.GetValue(dumpFile) ?? "", p.GetValue(dumpCpu), p.GetValue(dumpAccel), stdout, stderr));

        var image = new Argument<string>("IMAGE") { Description = "A 1 KiB kvm_lapic_state image (as KVM_GET_LAPIC returns it)" };
        var exportOut = new Option<string>("--out", "-o") { Description = "Write the text here instead of standard output" };
        var export = new Command("export", "Print a kvm_lapic_state image as text, one register a line") { image, exportOut };
        export.SetAction(p => StateCommand.ExecuteExport(p.GetValue(image) ?? "", p.GetValue(exportOut), stdout, stderr));
        var textFile = new Argument<string>("TEXT") { Description = "The text form (as export writes it)" };
        var importOut = new Option<string>("--out", "-o") { Description = "The image file to write", Required = true };
        var import = new Command("import", "Build a kvm_lapic_state image from its text form") { textFile, importOut };
        import.SetAction(p => StateCommand.ExecuteImport(p.GetValue(textFile) ?? "", p.GetValue(importOut) ?? "", stderr));
        var state = new Command("state", "Convert between the kvm_lapic_state image and readable text") { export, import };

        var root = new RootCommand("vapic: run .vapic scenarios against the VirtualApic model") { run, decode, explain, fuzz, stress, dump, state, BootCommand.Create(stdout, stderr), KutCommand.Create(stdout, stderr) };
        root.SetAction(_ =>
        {
            stderr.WriteLine("vapic: a command is required: run, decode, explain-profiles, fuzz, stress, dump, state, boot or kut (see --help)");
            return ExitUsage;
        });

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // System.CommandLine's own messages, then its kind of suggestion for each unknown word.
            foreach (var error in parsed.Errors)
            {
                stderr.WriteLine("vapic: " + error.Message);
            }

            foreach (string token in parsed.UnmatchedTokens)
            {
                Suggestions.Write(token, parsed.CommandResult.Command, stderr);
            }

            return ExitUsage;
        }

        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    /// <summary>
    /// System.CommandLine hands a word it does not know, such as <c>--acel</c>, to the FILE
    /// argument; a word that starts with <c>-</c> and names no file is refused there as an unknown
    /// option, with System.CommandLine's message and the nearest options.
    /// </summary>
    private static void RefuseUnknownOptions(Argument<string[]> files, Command command) =>
        files.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (token.Value.StartsWith('-') && token.Value.Length > 1 && !File.Exists(token.Value) && !Directory.Exists(token.Value))
                {
                    var near = Suggestions.For(token.Value, command);
                    result.AddError($"Unrecognized command or argument '{token.Value}' (unknown option)."
                        + (near.Count > 0 ? $" Did you mean {string.Join(" or ", near.Select(n => $"'{n}'"))}?" : ""));
                }
            }
        });

    /// <summary><c>vapic dump</c>: runs the scenario with a <c>dump</c> statement appended and prints what it printed.</summary>
    private static int DumpState(string path, int? cpu, string? accelName, TextWriter stdout, TextWriter stderr)
    {
        var paths = CollectFiles([path], stderr);
        if (paths is null)
        {
            return ExitUsage;
        }

        string? text = ReadScenarioText(paths[0], stderr);
        if (text is null)
        {
            return ExitUsage;
        }

        // Appended as a line of its own, so every line number of the file stays as written.
        string statement = cpu is { } n ? string.Create(CultureInfo.InvariantCulture, $"dump cpu{n}") : "dump";
        var parsed = ScenarioParser.Parse(text.TrimEnd('\n', '\r') + "\n" + statement + "\n", paths[0]);
        if (!parsed.Succeeded)
        {
            foreach (var d in parsed.Diagnostics)
            {
                stderr.WriteLine(d.ToString());
            }

            return ExitUsage;
        }

        AccelKind? accel = AccelNames.TryParse(accelName, out var named) ? named : null;
        var result = ScenarioRunner.Run(parsed.Scenario, accel, profileOverride: null);
        foreach (var failure in result.Failures)
        {
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"vapic dump: {paths[0]}:{failure.Line}: {failure.Message}"));
        }

        if (result.Dumps.Count > 0)
        {
            string last = result.Dumps[^1];
            stdout.Write(last[(last.IndexOf('\n', StringComparison.Ordinal) + 1)..]); // without the header line
        }

        return result.Passed ? ExitPass : ExitFail;
    }

    private sealed record RunOptions(string[] Paths, string? Accel, string? Profile, bool Log, string? Trace, bool Stats);

    private static int RunScenarios(RunOptions options, TextWriter stdout, TextWriter stderr)
    {
        AccelKind? accel = AccelNames.TryParse(options.Accel, out var named) ? named : null; // "all" and no --accel: null
        bool all = string.Equals(options.Accel, "all", StringComparison.OrdinalIgnoreCase);
        var profile = options.Profile is { } name && ApicProfile.TryParse(name, out var p) ? p : null;

        var paths = CollectFiles(options.Paths, stderr);
        if (paths is null)
        {
            return ExitUsage;
        }

        var scenarios = new List<Scenario>();
        bool bad = false;
        foreach (string path in paths)
        {
            string? text = ReadScenarioText(path, stderr);
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

                    foreach (string text in result.Dumps)
                    {
                        stdout.Write(text);
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
        foreach (string path in paths)
        {
            if (Directory.Exists(path))
            {
                try
                {
                    var found = new List<string>();
                    Walk(path, found, stderr);
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
                if (IsScenarioCandidate(new FileInfo(path), stderr))
                {
                    files.Add(path);
                }
                else
                {
                    ok = false;
                }
            }
            else
            {
                stderr.WriteLine($"vapic: {path}: no such file or directory");
                ok = false;
            }
        }

        return ok ? files : null;
    }

    // The *.vapic files under a directory. Directory symlinks are not followed (a link back up the
    // tree would loop forever), and only regular, non-empty files are taken: opening a FIFO or a
    // device would block or never end. Each skip says why.
    private static void Walk(string directory, List<string> found, TextWriter stderr)
    {
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
        {
            string path = Path.Join(directory, entry.Name);
            if (entry is DirectoryInfo sub)
            {
                if (sub.LinkTarget is not null)
                {
                    stderr.WriteLine($"vapic: {path}: directory symlink not followed");
                    continue;
                }

                Walk(path, found, stderr);
            }
            else if (entry is FileInfo file && file.Name.EndsWith(".vapic", StringComparison.Ordinal) && IsScenarioCandidate(file, stderr))
            {
                found.Add(path);
            }
        }
    }

    // A FIFO, socket or device shows as a zero-length file (.NET does not expose the file type): none
    // can hold a scenario, and reading one may block, so such entries are skipped with a message.
    private static bool IsScenarioCandidate(FileInfo file, TextWriter stderr)
    {
        if ((file.Attributes & FileAttributes.ReparsePoint) != 0 && file.ResolveLinkTarget(returnFinalTarget: true) is not FileInfo { Exists: true })
        {
            stderr.WriteLine($"vapic: {file.FullName}: dangling or looping symlink skipped");
            return false;
        }

        if (file.Length == 0)
        {
            stderr.WriteLine($"vapic: {file.FullName}: skipped: empty or not a regular file (FIFO, socket or device)");
            return false;
        }

        return true;
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
                byte[] buffer = new byte[MaxFileBytes + 1];
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

    /// <summary>
    /// The exits per backend laid out as <c>perf kvm stat report</c> lays them out: one row per exit
    /// reason with KVM's own name for it, the count and its share of the backend's total, most
    /// frequent first, then the total; the project's reason name closes each row.
    /// </summary>
    private static void PrintStats(List<ExitCount> exits, HashSet<string> backendsRun, TextWriter stdout)
    {
        foreach (string? backend in AccelNames.All.Select(AccelNames.Format).Where(backendsRun.Contains))
        {
            var rows = ExitStatistics.Reasons
                .Select(r => (Reason: r, Count: exits.Where(e => e.Backend == backend && e.Reason == ExitStatistics.NameOf(r)).Sum(e => e.Count)))
                .Where(r => r.Count > 0)
                .OrderByDescending(r => r.Count).ThenBy(r => r.Reason)
                .ToList();
            long total = rows.Sum(r => r.Count);
            stdout.WriteLine();
            stdout.WriteLine($"Analyze events for all VMs, all VCPUs (backend {backend}):");
            stdout.WriteLine();
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"VM-EXIT",28} {"Samples",10} {"Samples%",9}  vapic reason"));
            stdout.WriteLine();
            foreach (var (reason, count) in rows)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{KvmExitNames.Of(reason, backend),28} {count,10} {100.0 * count / total,8:F2}%  {ExitStatistics.NameOf(reason)}"));
            }

            stdout.WriteLine();
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Total Samples:{total}"));
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
        string s = text.Trim().Replace("_", "", StringComparison.Ordinal);
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
        string[] header = rows[0];
        int width = header.Max(h => h.Length);
        stdout.WriteLine($"{ProfileSwitches.All.Count} profile switches ({string.Join(" | ", header)}):");
        foreach (string[]? row in rows.Skip(1))
        {
            stdout.WriteLine();
            for (int c = 0; c < header.Length; c++)
            {
                stdout.WriteLine($"{header[c].PadRight(width)}  {row[c]}");
            }
        }
    }
}
