// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Runtime.CompilerServices;

namespace VirtualApic.Assist;

/// <summary>
/// The result of one guest APIC access in a hardware-assist model: completed, #GP, or a VM exit with
/// what the exit information fields would carry. The models never handle their own exits; the
/// hypervisor's dispatcher counts, traces and handles every one.
/// </summary>
/// <remarks>
/// Two 64-bit words (outcome, reason, trap-like and info in the first, the ICR in the second), so it
/// is returned in two registers: as five narrow fields it went through memory, written narrow and
/// copied wide, a store the CPU cannot forward, on every assisted access.
/// </remarks>
public readonly record struct ApicExit
{
    // Bits 7:0 the outcome, 15:8 the reason, bit 16 trap-like, bits 63:32 the info.
    private readonly ulong _head;
    private readonly ulong _icr;

    /// <summary>An access result.</summary>
    /// <param name="outcome">Completed, #GP or exit.</param>
    /// <param name="reason">The exit reason (meaningful for <see cref="AssistOutcome.Exit"/>).</param>
    /// <param name="info">The register offset or MSR, the EOI-induced vector, or the <see cref="AvicIpiFailure"/> cause.</param>
    /// <param name="trapLike">Whether the access already completed (trap-like) rather than being re-executed (fault-like).</param>
    /// <param name="icr">The ICR of an AVIC_INCOMPLETE_IPI exit (EXITINFO1).</param>
    public ApicExit(AssistOutcome outcome, ExitReason reason, int info, bool trapLike, ulong icr = 0)
        : this(Head(outcome, reason, trapLike, info), icr)
    {
    }

    // The two words as they are: small enough that the JIT inlines it even where an access path has
    // spent its inlining budget (a guest's EOI exit in a vCPU loop), so no exit is built in memory.
    private ApicExit(ulong head, ulong icr)
    {
        _head = head;
        _icr = icr;
    }

    /// <summary>Completed, #GP or exit.</summary>
    public AssistOutcome Outcome
    {
        get => (AssistOutcome)(byte)_head;
        init => _head = (_head & ~0xFFUL) | (byte)value;
    }

    /// <summary>The exit reason (meaningful for <see cref="AssistOutcome.Exit"/>).</summary>
    public ExitReason Reason
    {
        get => (ExitReason)(byte)(_head >> 8);
        init => _head = (_head & ~0xFF00UL) | ((ulong)(byte)value << 8);
    }

    /// <summary>The register offset or MSR, the EOI-induced vector, or the <see cref="AvicIpiFailure"/> cause.</summary>
    public int Info
    {
        get => (int)(_head >> 32);
        init => _head = (uint)_head | ((ulong)(uint)value << 32);
    }

    /// <summary>Whether the access already completed (trap-like) rather than being re-executed (fault-like).</summary>
    public bool TrapLike
    {
        // Forced in line: at 18 bytes of IL the JIT leaves it a call in the dispatcher's cold
        // branches (the tracer, the APIC-access exits), and a call on a local takes its address, so
        // every exit, the MSR EOI's included, would keep its ApicExit in memory.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (_head & TrapLikeBit) != 0;
        init => _head = value ? _head | TrapLikeBit : _head & ~TrapLikeBit;
    }

    /// <summary>The ICR of an AVIC_INCOMPLETE_IPI exit (EXITINFO1).</summary>
    public ulong Icr
    {
        get => _icr;
        init => _icr = value;
    }

    private const ulong TrapLikeBit = 1UL << 16;

    private static ulong Head(AssistOutcome outcome, ExitReason reason, bool trapLike, int info) =>
        (byte)outcome | ((ulong)(byte)reason << 8) | (trapLike ? TrapLikeBit : 0) | ((ulong)(uint)info << 32);

    /// <summary>Deconstructs into the five fields.</summary>
    /// <param name="outcome">Completed, #GP or exit.</param>
    /// <param name="reason">The exit reason.</param>
    /// <param name="info">The register offset or MSR, the EOI-induced vector, or the AVIC IPI failure cause.</param>
    /// <param name="trapLike">Whether the access was trap-like.</param>
    /// <param name="icr">The ICR of an AVIC_INCOMPLETE_IPI exit.</param>
    public void Deconstruct(out AssistOutcome outcome, out ExitReason reason, out int info, out bool trapLike, out ulong icr)
    {
        outcome = Outcome;
        reason = Reason;
        info = Info;
        trapLike = TrapLike;
        icr = Icr;
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"ApicExit {{ Outcome = {Outcome}, Reason = {Reason}, Info = {Info}, TrapLike = {TrapLike}, Icr = {Icr} }}");

    /// <summary>The access completed without an exit.</summary>
    public static ApicExit Completed => default;

    /// <summary>The processor raised #GP without an exit.</summary>
    public static ApicExit GeneralProtection => new(AssistOutcome.GeneralProtection, default, 0, false);

    /// <summary>Whether this is a VM exit.</summary>
    public bool IsExit => Outcome == AssistOutcome.Exit;

    // Head's packing written out (trap-like clear): the emulated path's exit on every guest access,
    // kept free of calls so it stays a constant where the caller's inlining budget is spent.
    // ApicExitPackingTests checks it against the constructor.

    /// <summary>A fault-like exit: the hypervisor emulates the instruction.</summary>
    public static ApicExit FaultLike(ExitReason reason, int offsetOrMsr) =>
        new((byte)AssistOutcome.Exit | ((ulong)(byte)reason << 8) | ((ulong)(uint)offsetOrMsr << 32), 0);

    /// <summary>A trap-like exit: the access already landed in the page; the hypervisor emulates its side effects.</summary>
    public static ApicExit TrapLikeExit(ExitReason reason, int offsetOrVector) => new(AssistOutcome.Exit, reason, offsetOrVector, true);

    /// <summary>An AVIC_INCOMPLETE_IPI exit (APM vol. 2 15.29.9.1).</summary>
    public static ApicExit IncompleteIpi(AvicIpiFailure cause, ulong icr) => new(AssistOutcome.Exit, ExitReason.AvicIncompleteIpi, (int)cause, true, icr);
}
