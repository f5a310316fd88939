using System.Globalization;
using VirtualApic.Diagnostics;
using VirtualApic.Fabric;

namespace VirtualApic.Cli;

/// <summary><c>vapic stress</c>: the threaded exactly-once test under each backend, for as long as asked.</summary>
internal static class StressCommand
{
    public static int Execute(string duration, int cpus, string accel, int devices, bool bind, TextWriter stdout, TextWriter stderr)
    {
        if (!FuzzCommand.TryParseDuration(duration, out var d))
        {
            stderr.WriteLine($"vapic stress: bad --duration '{duration}' (e.g. 2s, 1m)");
            return 2;
        }

        AccelKind[] backends = accel.ToLowerInvariant() switch
        {
            "all" => [AccelKind.None, AccelKind.Apicv, AccelKind.Avic, AccelKind.X2Avic],
            "none" => [AccelKind.None],
            "apicv" => [AccelKind.Apicv],
            "avic" => [AccelKind.Avic],
            "x2avic" => [AccelKind.X2Avic],
            _ => [],
        };
        if (backends.Length == 0 || cpus is < 2 or > 64 || devices is < 0 or > 16)
        {
            stderr.WriteLine("vapic stress: --accel none|apicv|avic|x2avic|all, --cpus 2..64, --devices 0..16");
            return 2;
        }

        bool ok = true;
        stdout.WriteLine("backend   sent        received    lost  duplicated  inhibit-toggles  seconds");
        foreach (var backend in backends)
        {
            var r = ThreadedStress.Run(new StressOptions { Cpus = cpus, Accel = backend, Duration = d, DeviceThreads = devices, BindVcpuThreads = bind });
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Backend,-9} {r.Sent,-11} {r.Received,-11} {r.Lost,-5} {r.Duplicated,-11} {r.InhibitToggles,-16} {r.Elapsed.TotalSeconds:F1}"));
            foreach (var e in r.Errors)
            {
                stdout.WriteLine("  error: " + e);
            }

            ok &= r.Passed;
        }

        stdout.WriteLine(ok ? "stress: every interrupt sent was taken exactly once" : "stress: FAILED");
        return ok ? 0 : 1;
    }
}
