// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Guest.Kut;
using VirtualApic.Guest.Machine;

namespace VirtualApic.Guest.Tests.Kut;

public class KutRunTests
{
    private const string Good = "PASS: a\nSUMMARY: 1 tests\n";

    [Fact]
    public void A_run_passes_only_with_exit_status_zero_a_summary_no_failures_and_no_abort()
    {
        var pass = Run(GuestOutcome.Exited, 0, Good);
        Assert.True(pass.Passed);
        Assert.Null(pass.FailureReason);

        // Each condition alone makes the run fail.
        Assert.False(Run(GuestOutcome.Hang, null, Good).Passed);
        Assert.False(Run(GuestOutcome.Exited, 1, Good).Passed);
        Assert.False(Run(GuestOutcome.Exited, 0, "PASS: a\n").Passed);
        Assert.False(Run(GuestOutcome.Exited, 0, "FAIL: b\nSUMMARY: 1 tests, 1 unexpected failures\n").Passed);
        Assert.False(Run(GuestOutcome.Exited, 0, "ABORT: x\nSUMMARY: 1 tests\n").Passed);
    }

    [Theory]
    [InlineData(GuestOutcome.Timeout, null, Good, "Timeout: first line")]
    [InlineData(GuestOutcome.Exited, 3u, Good, "debug-exit status 3")]
    [InlineData(GuestOutcome.Exited, 0u, "PASS: a\n", "no SUMMARY line")]
    [InlineData(GuestOutcome.Exited, 0u, "FAIL: b\nXPASS: c\nSUMMARY: 2 tests, 2 unexpected failures\n", "2 FAIL line(s), first: FAIL: b")]
    [InlineData(GuestOutcome.Exited, 0u, "assert failed: x\nSUMMARY: 1 tests\n", "aborted")]
    public void The_failure_reason_names_the_first_unmet_condition(GuestOutcome outcome, uint? status, string serial, string expected)
    {
        Assert.Equal(expected, Run(outcome, status, serial).FailureReason);
    }

    internal static KutRun Run(GuestOutcome outcome, uint? status, string serial, AccelKind accel = AccelKind.None) =>
        new("t", accel, new GuestRunResult(outcome, status, serial, 0, 0, TimeSpan.Zero, "first line\nsecond line", "", []), KutReport.Parse(serial));
}
