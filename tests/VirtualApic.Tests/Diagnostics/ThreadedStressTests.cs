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
        });

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
        });

        Assert.Equal(0, result.Sent);
        Assert.False(result.Passed);
    }
}
