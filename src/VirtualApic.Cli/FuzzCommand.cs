// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using VirtualApic.Profiles;
using VirtualApic.Scenarios.Fuzzing;

namespace VirtualApic.Cli;

/// <summary>
/// <c>vapic fuzz</c>: a seeded differential campaign. Each minimized finding is written to the
/// output directory the moment it is found, so stopping the campaign (Ctrl-C, or the token) loses
/// nothing; the summary is printed either way.
/// </summary>
internal static class FuzzCommand
{
    /// <summary>Exit code of a campaign stopped by Ctrl-C without findings (128 + SIGINT, as shells report it).</summary>
    public const int ExitInterrupted = Program.ExitInterrupted;

    public static int Execute(int seed, int iterations, string? duration, int cpus, string profileName, string outDir, TextWriter stdout, TextWriter stderr) =>
        Execute(seed, iterations, duration, cpus, profileName, outDir, new Terminal(stdout, stderr, Interactive: false), CancellationToken.None);

    public static int Execute(int seed, int iterations, string? duration, int cpus, string profileName, string outDir, Terminal console, CancellationToken cancellationToken, bool kvmConfigurations = false)
    {
        ArgumentNullException.ThrowIfNull(console);
        var (stdout, stderr) = (console.Out, console.Error);
        if (!ApicProfile.TryParse(profileName, out var profile))
        {
            stderr.WriteLine($"vapic fuzz: unknown profile '{profileName}' (kvm or architectural)");
            return 2;
        }

        if (cpus is < 1 or > 8 || iterations < 1)
        {
            stderr.WriteLine("vapic fuzz: --cpus must be 1..8 and --iterations at least 1");
            return 2;
        }

        TimeSpan? limit = null;
        if (duration is not null)
        {
            if (!TryParseDuration(duration, out var d))
            {
                stderr.WriteLine($"vapic fuzz: bad --duration '{duration}' (e.g. 90s, 10m, 1h)");
                return 2;
            }

            limit = d;
            iterations = int.MaxValue;
        }

        var progress = new ProgressLine(console, limit, iterations == int.MaxValue ? null : iterations);
        int written = 0;
        void Write(FuzzFinding f)
        {
            Directory.CreateDirectory(outDir);
            string path = Path.Combine(outDir, string.Create(CultureInfo.InvariantCulture, $"finding-{f.Seed}-{written++}.vapic"));
            File.WriteAllText(path, $"# vapic fuzz finding: {f.Kind}\n# seed {f.Seed}, profile {profile.Name}\n# {f.Description.Replace('\n', ' ')}\n{f.Program}");
            progress.Clear();
            stdout.WriteLine($"{f.Kind}: {f.Description}\n  minimized program: {path}");
            stdout.Flush();
        }

        var options = new FuzzOptions { Seed = seed, Iterations = iterations, Duration = limit, Cpus = cpus, Profile = profile, KvmConfigurations = kvmConfigurations };
        var summary = FuzzCampaign.Run(options, progress.Report, Write, cancellationToken);
        progress.Clear();
        bool interrupted = cancellationToken.IsCancellationRequested;
        if (interrupted)
        {
            stdout.WriteLine("fuzz: interrupted; every finding so far is written");
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fuzz: {summary.Programs} programs, {summary.Steps} steps, {summary.Findings.Count} findings, {summary.StepsPerSecond:F0} steps/s, seed {seed}, profile {profile.Name}"));
        stdout.WriteLine(summary.CoverageLine);
        if (summary.TimeToFirstFinding is { } first)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first finding after {first.TotalSeconds:F1} s (program {summary.ProgramsToFirstFinding})"));
        }

        return summary.Findings.Count > 0 ? 1 : interrupted ? ExitInterrupted : 0;
    }

    internal static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        if (text.Length < 2 || !double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || n <= 0)
        {
            return false;
        }

        value = text[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            _ => TimeSpan.Zero,
        };
        return value > TimeSpan.Zero;
    }

    /// <summary>
    /// Campaign progress: on a terminal, one status line on stderr redrawn in place a few times a
    /// second; otherwise (CI logs, pipes) a plain line on stdout every ten seconds.
    /// </summary>
    private sealed class ProgressLine(Terminal console, TimeSpan? limit, int? iterations)
    {
        private static readonly TimeSpan TerminalEvery = TimeSpan.FromMilliseconds(250);
        private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _last;
        private int _width;

        public void Report(int programs, long steps, int findings)
        {
            var now = _clock.Elapsed;
            if (now - _last < (console.Interactive ? TerminalEvery : LogEvery))
            {
                return;
            }

            _last = now;
            string done = limit is { } l ? $"{Math.Min(100, now / l * 100):F0}% of {l.TotalSeconds:F0}s"
                : iterations is { } n ? $"{programs * 100L / n}% of {n} programs"
                : "";
            string text = string.Create(CultureInfo.InvariantCulture,
                $"fuzz: {now.TotalSeconds:F0}s, {programs} programs, {steps} steps, {findings} findings{(done.Length > 0 ? ", " + done : "")}");
            if (console.Interactive)
            {
                console.Error.Write("\r" + text.PadRight(_width));
                _width = text.Length;
            }
            else
            {
                console.Out.WriteLine("  " + text);
            }
        }

        public void Clear()
        {
            if (console.Interactive && _width > 0)
            {
                console.Error.Write("\r" + new string(' ', _width) + "\r");
                _width = 0;
            }
        }
    }
}
