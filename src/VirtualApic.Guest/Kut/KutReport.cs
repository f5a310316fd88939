// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text.RegularExpressions;

namespace VirtualApic.Guest.Kut;

/// <summary>
/// What a kvm-unit-tests run printed: its report lines (<c>PASS:</c>, <c>FAIL:</c>, <c>SKIP:</c>,
/// <c>XFAIL:</c>, <c>XPASS:</c>, <c>KFAIL:</c>), the <c>SUMMARY:</c> line and the counts in it
/// (lib/report.c <c>report_summary</c>).
/// </summary>
public sealed partial class KutReport
{
    private KutReport(IReadOnlyList<string> passes, IReadOnlyList<string> failures, IReadOnlyList<string> skips, string? summary, int? tests, int skipped, int unexpectedFailures, bool aborted)
    {
        Passes = passes;
        Failures = failures;
        Skips = skips;
        Summary = summary;
        TestsCounted = tests;
        Skipped = skipped;
        UnexpectedFailures = unexpectedFailures;
        Aborted = aborted;
    }

    /// <summary>The <c>PASS:</c> lines (text after the prefix).</summary>
    public IReadOnlyList<string> Passes { get; }

    /// <summary>The <c>FAIL:</c> and <c>XPASS:</c> lines.</summary>
    public IReadOnlyList<string> Failures { get; }

    /// <summary>The <c>SKIP:</c> lines.</summary>
    public IReadOnlyList<string> Skips { get; }

    /// <summary>The <c>SUMMARY:</c> line, without its prefix, or <see langword="null"/>.</summary>
    public string? Summary { get; }

    /// <summary>N of <c>SUMMARY: N tests</c>.</summary>
    public int? TestsCounted { get; }

    /// <summary>S of <c>, S skipped</c>.</summary>
    public int Skipped { get; }

    /// <summary>F of <c>, F unexpected failures</c>.</summary>
    public int UnexpectedFailures { get; }

    /// <summary>An <c>ABORT:</c> or <c>assert failed</c> line was printed.</summary>
    public bool Aborted { get; }

    /// <summary>Parses a serial log.</summary>
    public static KutReport Parse(string serial)
    {
        ArgumentNullException.ThrowIfNull(serial);
        var passes = new List<string>();
        var failures = new List<string>();
        var skips = new List<string>();
        string? summary = null;
        int? tests = null;
        int skipped = 0, failed = 0;
        bool aborted = false;
        foreach (string raw in serial.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.StartsWith("PASS: ", StringComparison.Ordinal))
            {
                passes.Add(line[6..]);
            }
            else if (line.StartsWith("FAIL: ", StringComparison.Ordinal) || line.StartsWith("XPASS: ", StringComparison.Ordinal))
            {
                failures.Add(line);
            }
            else if (line.StartsWith("SKIP: ", StringComparison.Ordinal))
            {
                skips.Add(line[6..]);
            }
            else if (line.StartsWith("SUMMARY: ", StringComparison.Ordinal))
            {
                summary = line[9..];
                var m = SummaryPattern().Match(summary);
                if (m.Success)
                {
                    tests = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                }

                skipped = Count(summary, SkippedPattern());
                failed = Count(summary, FailuresPattern());
            }
            else if (line.StartsWith("ABORT:", StringComparison.Ordinal) || line.Contains("assert failed", StringComparison.Ordinal))
            {
                aborted = true;
            }
        }

        return new KutReport(passes, failures, skips, summary, tests, skipped, failed, aborted);
    }

    private static int Count(string summary, Regex pattern)
    {
        var m = pattern.Match(summary);
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex(@"^(\d+) tests")]
    private static partial Regex SummaryPattern();

    [GeneratedRegex(@", (\d+) skipped")]
    private static partial Regex SkippedPattern();

    [GeneratedRegex(@", (\d+) unexpected failures")]
    private static partial Regex FailuresPattern();
}
