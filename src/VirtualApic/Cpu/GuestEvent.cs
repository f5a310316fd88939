// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;

namespace VirtualApic.Cpu;

/// <summary>What kind of event a vCPU took.</summary>
public enum GuestEventKind : byte
{
    /// <summary>Nothing was deliverable.</summary>
    None,
    /// <summary>A fixed interrupt from the local APIC (acknowledged: IRR to ISR).</summary>
    Vector,
    /// <summary>An external interrupt from the 8259 through LINT0 in virtual-wire mode.</summary>
    ExtInt,
    /// <summary>A non-maskable interrupt.</summary>
    Nmi,
    /// <summary>A system-management interrupt.</summary>
    Smi,
    /// <summary>INIT: the vCPU was reset (APs then wait for SIPI).</summary>
    Init,
    /// <summary>A start-up IPI taken by a vCPU waiting for SIPI.</summary>
    Sipi,
}

/// <summary>An event a vCPU took, as the scenario log prints it (<c>vector 0x51</c>, <c>nmi</c>, <c>none</c>...).</summary>
/// <remarks>
/// Kind and vector share one 16-bit word: the JIT keeps a one-field struct in a register, where two
/// byte fields were spilled and reloaded as one wider word on every take, a store the CPU cannot
/// forward (a stall of a dozen cycles on each interrupt taken).
/// </remarks>
public readonly record struct GuestEvent
{
    private readonly ushort _bits;

    /// <summary>An event of <paramref name="kind"/> with <paramref name="vector"/>.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="vector">The vector for <see cref="GuestEventKind.Vector"/>, <see cref="GuestEventKind.ExtInt"/> and <see cref="GuestEventKind.Sipi"/>.</param>
    public GuestEvent(GuestEventKind kind, byte vector = 0) => _bits = (ushort)((uint)kind | ((uint)vector << 8));

    /// <summary>The kind.</summary>
    public GuestEventKind Kind
    {
        get => (GuestEventKind)(byte)_bits;
        init => _bits = (ushort)((_bits & 0xFF00) | (byte)value);
    }

    /// <summary>The vector for <see cref="GuestEventKind.Vector"/>, <see cref="GuestEventKind.ExtInt"/> and <see cref="GuestEventKind.Sipi"/>.</summary>
    public byte Vector
    {
        get => (byte)(_bits >> 8);
        init => _bits = (ushort)((_bits & 0xFF) | (value << 8));
    }

    /// <summary>Deconstructs into kind and vector.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="vector">The vector.</param>
    public void Deconstruct(out GuestEventKind kind, out byte vector)
    {
        kind = Kind;
        vector = Vector;
    }

    /// <summary>No event.</summary>
    public static readonly GuestEvent None = new(GuestEventKind.None);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        GuestEventKind.Vector => string.Create(CultureInfo.InvariantCulture, $"vector 0x{Vector:x2}"),
        GuestEventKind.ExtInt => string.Create(CultureInfo.InvariantCulture, $"extint 0x{Vector:x2}"),
        GuestEventKind.Sipi => string.Create(CultureInfo.InvariantCulture, $"sipi 0x{Vector:x2}"),
        GuestEventKind.Nmi => "nmi",
        GuestEventKind.Smi => "smi",
        GuestEventKind.Init => "init",
        _ => "none",
    };
}

/// <summary>The run state of a vCPU (KVM's mp_state, reduced to what a guest can be in).</summary>
public enum VcpuRunState : byte
{
    /// <summary>Executing.</summary>
    Running,
    /// <summary>Stopped by HLT until it takes an event.</summary>
    Halted,
    /// <summary>After INIT on an AP: waiting for a start-up IPI (KVM INIT_RECEIVED).</summary>
    WaitForSipi,
}

/// <summary>The events pending on a vCPU besides fixed vectors.</summary>
[Flags]
public enum PendingEvents : byte
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>An NMI is pending.</summary>
    Nmi = 1,
    /// <summary>An SMI is pending.</summary>
    Smi = 2,
    /// <summary>An INIT is pending.</summary>
    Init = 4,
    /// <summary>A SIPI is pending.</summary>
    Sipi = 8,
    /// <summary>The 8259 has an interrupt this vCPU would take through LINT0.</summary>
    ExtInt = 16,
    /// <summary>A PV unhalt (KVM <c>pv_unhalted</c>): the next HLT completes at once, a halted vCPU is runnable.</summary>
    PvUnhalt = 32,
}

/// <summary>An external 8259-style interrupt controller wired to LINT0 (virtual-wire mode).</summary>
public interface IExternalInterruptController
{
    /// <summary>Whether INTR is asserted.</summary>
    bool HasInterrupt { get; }

    /// <summary>The INTA cycle: returns the vector and lets the controller lower INTR.</summary>
    byte Acknowledge();
}
