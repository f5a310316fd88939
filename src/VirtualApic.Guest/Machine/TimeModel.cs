// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Machine;

/// <summary>
/// How guest work turns into virtual time (docs/guest-engine.md, "Time"). Every retired instruction
/// costs <see cref="InstructionNs"/> of the machine's one virtual clock, whichever vCPU retires it;
/// an exit-class operation (port I/O, MMIO outside RAM, RDMSR/WRMSR, CPUID, CR8, HLT, VMCALL) costs
/// <see cref="ExitNs"/> more, the same on every backend so that all backends run the same instruction
/// stream; PAUSE ends the slice and costs an exponential back-off. The values are part of the
/// determinism contract: same image and options, same log, count and time.
/// </summary>
/// <param name="InstructionNs">Virtual nanoseconds per retired instruction.</param>
/// <param name="ExitNs">Extra virtual nanoseconds per exit-class operation.</param>
/// <param name="PauseBaseNs">The cost of a PAUSE that follows real work.</param>
/// <param name="PauseMaxNs">The cap of the PAUSE back-off.</param>
/// <param name="PauseStreakGap">A PAUSE within this many instructions of the previous one doubles the cost.</param>
/// <param name="Quantum">Instructions per scheduling slice.</param>
public sealed record TimeModel(
    long InstructionNs = 1,
    long ExitNs = 1_000,
    long PauseBaseNs = 100,
    long PauseMaxNs = 100_000,
    long PauseStreakGap = 64,
    int Quantum = 256)
{
    /// <summary>The default model.</summary>
    public static TimeModel Default { get; } = new();

    /// <summary>The cost of the <paramref name="streak"/>-th PAUSE in a row (0 for the first).</summary>
    /// <remarks>Doubling stops at the cap however long the streak: the base is compared with the cap
    /// shifted down, so the shift neither overflows nor wraps (a shift count is taken mod 64).</remarks>
    public long PauseCost(int streak) => streak < 63 && PauseBaseNs <= (PauseMaxNs >> streak) ? PauseBaseNs << streak : PauseMaxNs;
}
