// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Diagnostics;
using VirtualApic.Fabric;

namespace VirtualApic.Tests.Diagnostics;

/// <summary>
/// The VMM-shaped harness, short (CI) version: vCPU threads blocking in HLT with untimed waits, every
/// vCPU's LAPIC timer running against a clock thread, IOAPIC level lines, MSI storms, IPIs, ID/LDR
/// churn and snapshots of the running VM, under every backend, bound and unbound IRR.
/// </summary>
public class ThreadedStressTests
{
    [Theory]
    [InlineData(AccelKind.None, false)]
    [InlineData(AccelKind.Apicv, false)]
    [InlineData(AccelKind.Avic, false)]
    [InlineData(AccelKind.X2Avic, false)]
    [InlineData(AccelKind.None, true)]
    [InlineData(AccelKind.Apicv, true)]
    [InlineData(AccelKind.Avic, true)]
    [InlineData(AccelKind.X2Avic, true)]
    public void Every_interrupt_is_taken_exactly_once_with_no_stall(AccelKind accel, bool bound)
    {
        var progress = new List<StressProgress>();
        var result = ThreadedStress.Run(new StressOptions
        {
            Cpus = 4,
            Accel = accel,
            Duration = TimeSpan.FromMilliseconds(1200),
            BindVcpuThreads = bound,
            Progress = p =>
            {
                lock (progress)
                {
                    progress.Add(p);
                }
            },
        }, TestContext.Current.CancellationToken);

        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        Assert.True(result.Stalls.Count == 0, string.Join("\n", result.Stalls));
        foreach (var source in new[] { StressSource.Ipi, StressSource.Msi, StressSource.IoApic, StressSource.Timer })
        {
            Assert.True(result[source].Taken > 0, $"nothing taken from {source}");
        }

        Assert.Equal(0, result.Lost);
        Assert.Equal(0, result.Duplicated);
        Assert.Equal(result.Sent, result.Received);
        Assert.True(result.Snapshots >= 1, "the running VM was never snapshotted");
        Assert.True(result.Passed);
        Assert.NotEmpty(progress);
        if (accel != AccelKind.None)
        {
            Assert.True(result.InhibitToggles >= 2, $"the assist toggled {result.InhibitToggles} times");
        }
    }

    [Fact]
    public void A_run_that_sends_nothing_fails()
    {
        var result = ThreadedStress.Run(new StressOptions
        {
            Cpus = 2,
            DeviceThreads = 0,
            IoApicPins = 0,
            Timers = false,
            ToggleInhibits = true, // the only worker has nobody to send IPIs to
            SnapshotInterval = TimeSpan.Zero,
            Duration = TimeSpan.FromMilliseconds(100),
        }, TestContext.Current.CancellationToken);

        Assert.Equal(0, result.Sent);
        Assert.False(result.Passed);
    }

    [Fact]
    public void A_cancelled_run_stops_early_drains_and_joins_every_thread_and_keeps_exact_counts()
    {
        using var stop = new CancellationTokenSource();
        int reports = 0;
        var result = ThreadedStress.Run(
            new StressOptions
            {
                Cpus = 3,
                Accel = AccelKind.X2Avic,
                Duration = TimeSpan.FromMinutes(10),
                DeviceThreads = 1,
                IoApicPins = 2,
                ProgressInterval = TimeSpan.FromMilliseconds(100),
                // Cancelled from the harness's own monitor thread once something is under way, so the
                // cancellation lands mid-run however slowly a loaded machine starts the threads.
                Progress = p =>
                {
                    if (Interlocked.Increment(ref reports) >= 3 && p.Sources.Sum(s => s.Sent) > 0)
                    {
                        stop.Cancel();
                    }
                },
            },
            stop.Token);

        Assert.True(result.Interrupted);
        Assert.InRange(result.Elapsed, TimeSpan.Zero, TimeSpan.FromMinutes(2));
        // Every thread stopped within its join (a thread still running would be an error here) and the
        // drain left nothing in flight: the counts are as exact as a run that used its whole duration.
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        Assert.True(result.Stalls.Count == 0, string.Join("\n", result.Stalls));
        Assert.True(result.Sent > 0);
        Assert.Equal(0, result.Lost);
        Assert.Equal(result.Sent, result.Received);
        Assert.True(result.Passed);
    }

    [Theory]
    [InlineData(AccelKind.None)]
    [InlineData(AccelKind.X2Avic)]
    public void The_watchdog_reports_a_lost_kick_as_a_stall_even_when_the_interrupt_arrives_later(AccelKind accel)
    {
        // One vCPU, one MSI device and nothing else that could wake it: the device sets the IRR
        // without the kick it owes, and kicks only once the watchdog has reported the stall.
        var result = ThreadedStress.Run(new StressOptions
        {
            Cpus = 1,
            Accel = accel,
            DeviceThreads = 1,
            IoApicPins = 0,
            Timers = false,
            ToggleInhibits = false,
            SnapshotInterval = TimeSpan.Zero,
            Duration = TimeSpan.FromMilliseconds(400),
            LoseMsiKicks = true,
        }, TestContext.Current.CancellationToken);

        // The run lasts until the watchdog has reported the fault (AwaitsInjectedStall): a run the
        // host slowed so much that the vCPU first blocked near its end still injects and sees it.
        Assert.True(result.Stalls.Count == 1, $"stalls: [{string.Join("; ", result.Stalls)}], errors: [{string.Join("; ", result.Errors)}], sent {result.Sent}, received {result.Received}, {result.Elapsed}");
        string stall = result.Stalls[0];
        Assert.StartsWith("cpu0: blocked ", stall, StringComparison.Ordinal);
        Assert.Contains("an MSI from device 0 is pending", stall, StringComparison.Ordinal);
        Assert.Contains("IRR top 0x80", stall, StringComparison.Ordinal);
        Assert.Empty(result.Errors);
        Assert.Equal(result.Sent, result.Received); // the late kick: nothing lost, still a failure
        Assert.False(result.Passed);
    }

    [Fact]
    public void A_run_not_cancelled_is_not_interrupted()
    {
        using var stop = new CancellationTokenSource();
        var result = ThreadedStress.Run(new StressOptions { Cpus = 2, DeviceThreads = 1, IoApicPins = 0, Duration = TimeSpan.FromMilliseconds(200) }, stop.Token);
        Assert.False(result.Interrupted);
        Assert.True(result.Elapsed >= TimeSpan.FromMilliseconds(200));
    }
}
