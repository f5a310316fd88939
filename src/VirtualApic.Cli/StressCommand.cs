// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using VirtualApic.Diagnostics;
using VirtualApic.Fabric;

namespace VirtualApic.Cli;

/// <summary>
/// <c>vapic stress</c>: the threaded exactly-once test under each backend, for as long as asked.
/// Ctrl-C (the token) ends the backend that is running as its duration would (sources stop, what is
/// in flight is taken, every thread joined), prints its counts and the summary, and runs no further
/// backend; the exit code is then 130, or 1 if something was lost, duplicated or stalled.
/// </summary>
internal static class StressCommand
{
    public static int Execute(string duration, int cpus, string accel, int devices, bool bind, Terminal console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(console);
        var (stdout, stderr) = (console.Out, console.Error);
        if (!FuzzCommand.TryParseDuration(duration, out var d))
        {
            stderr.WriteLine($"vapic stress: bad --duration '{duration}' (e.g. 2s, 1m)");
            return 2;
        }

        var backends =
            string.Equals(accel, "all", StringComparison.OrdinalIgnoreCase) ? AccelNames.All
            : AccelNames.TryParse(accel, out var kind) ? [kind]
            : [];
        if (backends.Count == 0 || cpus is < 2 or > 64 || devices is < 0 or > 16)
        {
            stderr.WriteLine($"vapic stress: --accel {string.Join('|', AccelNames.Names)}|all, --cpus 2..64, --devices 0..16");
            return 2;
        }

        bool ok = true;
        int run = 0;
        foreach (var backend in backends)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            run++;
            var progress = new ProgressLine(console);
            stdout.WriteLine($"{AccelNames.Format(backend)} ({(bind ? "bound" : "unbound")} IRR), {cpus} vCPUs, {devices} MSI devices, timers, IOAPIC level pins, ID/LDR churn, snapshots:");
            var r = ThreadedStress.Run(new StressOptions
            {
                Cpus = cpus,
                Accel = backend,
                Duration = d,
                DeviceThreads = devices,
                BindVcpuThreads = bind,
                Progress = progress.Report,
            }, cancellationToken);
            progress.Clear();
            stdout.WriteLine("  source   sent          taken         lost  duplicated");
            foreach (var s in r.Sources)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Label(s.Source),-8} {s.Sent,-13} {s.Taken,-13} {s.Lost,-5} {s.Duplicated}"));
            }

            // Interrupted before anything was sent is not a failure: there is nothing to check.
            bool passed = r.Passed || (r.Interrupted && r.Sent == 0 && r.Lost == 0 && r.Duplicated == 0 && r.Stalls.Count == 0 && r.Errors.Count == 0);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  stalls {r.Stalls.Count}, exceptions {r.Errors.Count}, inhibit toggles {r.InhibitToggles}, snapshots {r.Snapshots}, {r.Elapsed.TotalSeconds:F1} s{(r.Interrupted ? " (interrupted)" : "")}: {(passed ? "ok" : "FAILED")}"));
            foreach (string? e in r.Stalls.Concat(r.Errors))
            {
                stdout.WriteLine("  " + e);
            }

            if (r.Sent == 0)
            {
                stdout.WriteLine(r.Interrupted ? "  nothing was sent before the interrupt" : "  nothing was sent");
            }

            ok &= passed;
        }

        bool interrupted = cancellationToken.IsCancellationRequested;
        if (interrupted)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"stress: interrupted; {run} of {backends.Count} backend(s) run, the last one stopped early"));
        }

        stdout.WriteLine(ok ? "stress: every interrupt sent was taken exactly once, no stall" : "stress: FAILED");
        return !ok ? Program.ExitFail : interrupted ? Program.ExitInterrupted : Program.ExitPass;
    }

    /// <summary>
    /// A backend's progress: on a terminal, one status line on stderr redrawn in place; otherwise
    /// (CI logs, pipes) a plain line on stdout after the first second, then every ten seconds, so a
    /// long run neither looks hung nor floods the log. Called from the harness's monitor thread.
    /// </summary>
    private sealed class ProgressLine(Terminal console)
    {
        private static readonly TimeSpan LogFirst = TimeSpan.FromSeconds(1);
        private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);
        private readonly Lock _gate = new();
        private TimeSpan _next = LogFirst;
        private int _width;

        public void Report(StressProgress p)
        {
            string text = string.Create(CultureInfo.InvariantCulture,
                $"  {p.Elapsed.TotalSeconds,6:F1}s  {string.Join("  ", p.Sources.Select(s => $"{Label(s.Source)} {s.Taken}/{s.Sent}"))}  stalls {p.Stalls}  snapshots {p.Snapshots}");
            lock (_gate)
            {
                if (console.Interactive)
                {
                    console.Error.Write("\r" + text.PadRight(_width));
                    _width = text.Length;
                }
                else if (p.Elapsed >= _next)
                {
                    console.Out.WriteLine(text);
                    _next = p.Elapsed + LogEvery;
                }
            }
        }

        public void Clear()
        {
            lock (_gate)
            {
                if (console.Interactive && _width > 0)
                {
                    console.Error.Write("\r" + new string(' ', _width) + "\r");
                    _width = 0;
                }
            }
        }
    }

    private static string Label(StressSource source) => source switch
    {
        StressSource.Ipi => "ipi",
        StressSource.Msi => "msi",
        StressSource.IoApic => "ioapic",
        _ => "timer",
    };
}
