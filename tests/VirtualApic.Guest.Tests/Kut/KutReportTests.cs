// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Kut;

namespace VirtualApic.Guest.Tests.Kut;

public class KutReportTests
{
    [Fact]
    public void Counts_report_lines_and_reads_the_summary()
    {
        var r = KutReport.Parse("enabling apic\nPASS: a\nSKIP: b: not detected\nFAIL: c\nXPASS: d\nSUMMARY: 45 tests, 2 unexpected failures, 1 skipped\n");
        Assert.Equal(["a"], r.Passes);
        Assert.Equal(["b: not detected"], r.Skips);
        Assert.Equal(["FAIL: c", "XPASS: d"], r.Failures);
        Assert.Equal(45, r.TestsCounted);
        Assert.Equal(1, r.Skipped);
        Assert.Equal(2, r.UnexpectedFailures);
        Assert.False(r.Aborted);
    }

    [Fact]
    public void No_summary_and_aborts_are_noticed()
    {
        var r = KutReport.Parse("PASS: a\nx86/apic.c:942: assert failed: is_apic_hw_enabled()\n");
        Assert.Null(r.Summary);
        Assert.Null(r.TestsCounted);
        Assert.True(r.Aborted);
    }

    [Fact]
    public void A_summary_without_skips_or_failures_counts_zero_of_each()
    {
        var r = KutReport.Parse("PASS: a\nSUMMARY: 30 tests\n");
        Assert.Equal("30 tests", r.Summary);
        Assert.Equal(30, r.TestsCounted);
        Assert.Equal(0, r.Skipped);
        Assert.Equal(0, r.UnexpectedFailures);
    }

    [Fact]
    public void A_null_log_is_refused_by_name()
    {
        Assert.Equal("serial", Assert.Throws<ArgumentNullException>(() => KutReport.Parse(null!)).ParamName);
    }
}
