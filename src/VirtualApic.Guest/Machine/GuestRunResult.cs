// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Machine;

/// <summary>The result of <see cref="GuestMachine.Run"/>.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="ExitStatus">The value written to the debug-exit port, if any.</param>
/// <param name="Serial">What the guest wrote to COM1 (CR of CR LF dropped), bounded as <see cref="Platform.Devices.Uart16550.Text"/> is.</param>
/// <param name="Instructions">Guest instructions retired by all vCPUs.</param>
/// <param name="VirtualNs">Virtual time at the end.</param>
/// <param name="HostTime">Wall-clock time of the run.</param>
/// <param name="Diagnosis">For anything but <see cref="GuestOutcome.Exited"/>: why, with a state dump.</param>
/// <param name="Statistics">VM exits per reason and per vCPU, slices, interrupts taken (for <c>--stats</c>).</param>
/// <param name="SerialLines">Each complete output line with the virtual time it ended at (for traces), the first <see cref="GuestMachine.MaxSerialLines"/> and then one line saying the rest were not kept.</param>
public sealed record GuestRunResult(
    GuestOutcome Outcome,
    uint? ExitStatus,
    string Serial,
    long Instructions,
    long VirtualNs,
    TimeSpan HostTime,
    string? Diagnosis,
    string Statistics,
    IReadOnlyList<(long VirtualNs, string Line)> SerialLines);
