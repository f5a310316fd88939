// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>The outcome of one <see cref="X86Cpu.Run"/> call.</summary>
/// <param name="Reason">Why the run stopped.</param>
/// <param name="Retired">Instructions retired during this call.</param>
/// <param name="Unsupported">For <see cref="StopReason.Unsupported"/>: where and what; otherwise <see langword="null"/>.</param>
public readonly record struct RunResult(StopReason Reason, long Retired, UnsupportedStop? Unsupported = null);
