// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Guest.Machine;

namespace VirtualApic.Guest.Kut;

/// <summary>One kvm-unit-tests binary run under one backend, with its verdict.</summary>
/// <param name="Name">The section (or image) name.</param>
/// <param name="Accel">The backend.</param>
/// <param name="Result">What the machine did.</param>
/// <param name="Report">What the guest printed.</param>
public sealed record KutRun(string Name, AccelKind Accel, GuestRunResult Result, KutReport Report)
{
    /// <summary>
    /// How many boots this run stands for (<see cref="KutRunner.RunRepeated"/>): its
    /// <see cref="GuestRunResult.HostTime"/> is then their median, everything else the first boot's.
    /// </summary>
    public int Repeats { get; init; } = 1;

    /// <summary>
    /// Where a later boot of the same image, options and backend did something else than the first
    /// (<see cref="KutRunner.FirstDifference"/>), or <see langword="null"/>: the guest engine is
    /// deterministic, so any difference is a bug, and the run fails.
    /// </summary>
    public string? RepeatDivergence { get; init; }

    /// <summary>
    /// PASS: the guest exited through isa-debug-exit with status 0, printed a SUMMARY line and no
    /// FAIL/XPASS line, and did not abort (run_tests.sh's verdict for QEMU exit code 1).
    /// </summary>
    public bool Passed =>
        Result.Outcome == GuestOutcome.Exited && Result.ExitStatus == 0 && Report.Summary is not null &&
        Report.Failures.Count == 0 && !Report.Aborted && RepeatDivergence is null;

    /// <summary>Why it failed, or <see langword="null"/> when it passed.</summary>
    public string? FailureReason =>
        Passed ? null
        : Result.Outcome != GuestOutcome.Exited ? $"{Result.Outcome}: {Result.Diagnosis?.Split('\n')[0]}"
        : Result.ExitStatus != 0 ? $"debug-exit status {Result.ExitStatus}"
        : Report.Summary is null ? "no SUMMARY line"
        : Report.Failures.Count > 0 ? $"{Report.Failures.Count} FAIL line(s), first: {Report.Failures[0]}"
        : Report.Aborted ? "aborted"
        : $"not deterministic: {RepeatDivergence}";
}
