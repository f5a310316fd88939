// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

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
        foreach (var backend in backends)
        {
            stdout.WriteLine($"{Name(backend)} ({(bind ? "bound" : "unbound")} IRR), {cpus} vCPUs, {devices} MSI devices, timers, IOAPIC level pins, ID/LDR churn, snapshots:");
            var r = ThreadedStress.Run(new StressOptions
            {
                Cpus = cpus,
                Accel = backend,
                Duration = d,
                DeviceThreads = devices,
                BindVcpuThreads = bind,
                Progress = p => stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {p.Elapsed.TotalSeconds,6:F1}s  {string.Join("  ", p.Sources.Select(s => $"{Label(s.Source)} {s.Taken}/{s.Sent}"))}  stalls {p.Stalls}  snapshots {p.Snapshots}")),
            });
            stdout.WriteLine("  source   sent          taken         lost  duplicated");
            foreach (var s in r.Sources)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Label(s.Source),-8} {s.Sent,-13} {s.Taken,-13} {s.Lost,-5} {s.Duplicated}"));
            }

            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  stalls {r.Stalls.Count}, exceptions {r.Errors.Count}, inhibit toggles {r.InhibitToggles}, snapshots {r.Snapshots}, {r.Elapsed.TotalSeconds:F1} s: {(r.Passed ? "ok" : "FAILED")}"));
            foreach (var e in r.Stalls.Concat(r.Errors))
            {
                stdout.WriteLine("  " + e);
            }

            if (r.Sent == 0)
            {
                stdout.WriteLine("  nothing was sent");
            }

            ok &= r.Passed;
        }

        stdout.WriteLine(ok ? "stress: every interrupt sent was taken exactly once, no stall" : "stress: FAILED");
        return ok ? 0 : 1;
    }

    private static string Name(AccelKind kind) => kind switch
    {
        AccelKind.Apicv => "apicv",
        AccelKind.Avic => "avic",
        AccelKind.X2Avic => "x2avic",
        _ => "none",
    };

    private static string Label(StressSource source) => source switch
    {
        StressSource.Ipi => "ipi",
        StressSource.Msi => "msi",
        StressSource.IoApic => "ioapic",
        _ => "timer",
    };
}
