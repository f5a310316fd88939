// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Assist;

/// <summary>
/// The result of one guest APIC access in a hardware-assist model: completed, #GP, or a VM exit with
/// what the exit information fields would carry. The models never handle their own exits; the
/// hypervisor's dispatcher counts, traces and handles every one.
/// </summary>
/// <param name="Outcome">Completed, #GP or exit.</param>
/// <param name="Reason">The exit reason (meaningful for <see cref="AssistOutcome.Exit"/>).</param>
/// <param name="Info">The register offset or MSR, the EOI-induced vector, or the <see cref="AvicIpiFailure"/> cause.</param>
/// <param name="TrapLike">Whether the access already completed (trap-like) rather than being re-executed (fault-like).</param>
/// <param name="Icr">The ICR of an AVIC_INCOMPLETE_IPI exit (EXITINFO1).</param>
public readonly record struct ApicExit(AssistOutcome Outcome, ExitReason Reason, int Info, bool TrapLike, ulong Icr = 0)
{
    /// <summary>The access completed without an exit.</summary>
    public static ApicExit Completed => default;

    /// <summary>The processor raised #GP without an exit.</summary>
    public static ApicExit GeneralProtection => new(AssistOutcome.GeneralProtection, default, 0, false);

    /// <summary>Whether this is a VM exit.</summary>
    public bool IsExit => Outcome == AssistOutcome.Exit;

    /// <summary>A fault-like exit: the hypervisor emulates the instruction.</summary>
    public static ApicExit FaultLike(ExitReason reason, int offsetOrMsr) => new(AssistOutcome.Exit, reason, offsetOrMsr, false);

    /// <summary>A trap-like exit: the access already landed in the page; the hypervisor emulates its side effects.</summary>
    public static ApicExit TrapLikeExit(ExitReason reason, int offsetOrVector) => new(AssistOutcome.Exit, reason, offsetOrVector, true);

    /// <summary>An AVIC_INCOMPLETE_IPI exit (APM vol. 2 15.29.9.1).</summary>
    public static ApicExit IncompleteIpi(AvicIpiFailure cause, ulong icr) => new(AssistOutcome.Exit, ExitReason.AvicIncompleteIpi, (int)cause, true, icr);
}
