using System.Globalization;
using VirtualApic.Profiles;
using VirtualApic.Scenarios.Fuzzing;

namespace VirtualApic.Cli;

/// <summary><c>vapic fuzz</c>: a seeded differential campaign; minimized findings go to the output directory.</summary>
internal static class FuzzCommand
{
    public static int Execute(int seed, int iterations, string? duration, int cpus, string profileName, string outDir, TextWriter stdout, TextWriter stderr)
    {
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

        var options = new FuzzOptions { Seed = seed, Iterations = iterations, Duration = limit, Cpus = cpus, Profile = profile };
        var summary = FuzzCampaign.Run(options, (programs, steps, findings) =>
        {
            if (programs % 50 == 0)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {programs} programs, {steps} steps, {findings} findings"));
            }
        });

        if (summary.Findings.Count > 0)
        {
            Directory.CreateDirectory(outDir);
        }

        int n = 0;
        foreach (var f in summary.Findings)
        {
            string path = Path.Combine(outDir, string.Create(CultureInfo.InvariantCulture, $"finding-{f.Seed}-{n++}.vapic"));
            File.WriteAllText(path, $"# vapic fuzz finding: {f.Kind}\n# seed {f.Seed}, profile {profile.Name}\n# {f.Description.Replace('\n', ' ')}\n{f.Program}");
            stdout.WriteLine($"{f.Kind}: {f.Description}\n  minimized program: {path}");
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fuzz: {summary.Programs} programs, {summary.Steps} steps, {summary.Findings.Count} findings, {summary.StepsPerSecond:F0} steps/s, seed {seed}, profile {profile.Name}"));
        stdout.WriteLine(summary.CoverageLine);
        if (summary.TimeToFirstFinding is { } first)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first finding after {first.TotalSeconds:F1} s (program {summary.ProgramsToFirstFinding})"));
        }

        return summary.Findings.Count == 0 ? 0 : 1;
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
}
