// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// A probe, <c>expect ...</c>: reads the model's architectural state (the same under every
/// backend) and fails the scenario at its line when the state differs.
/// </summary>
/// <param name="Source">Where the statement is written.</param>
public abstract record Probe(SourceLine Source) : Statement(Source);

/// <summary><c>expect cpuN irr|isr|tmr has V|lacks V|empty</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Register">The vector register tested.</param>
/// <param name="Check">The test.</param>
/// <param name="Vector">The vector for <c>has</c> and <c>lacks</c>; 0 for <c>empty</c>.</param>
public sealed record ExpectVectorsProbe(SourceLine Source, int Cpu, ApicVectorRegister Register, VectorSetCheck Check, byte Vector)
    : Probe(Source);

/// <summary><c>expect cpuN reg REG [&amp; MASK] == V</c>: an APIC register, read without side effects.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Register">The register.</param>
/// <param name="Value">The expected value.</param>
/// <param name="Mask">The mask of a masked compare, or <c>null</c>.</param>
public sealed record ExpectRegisterProbe(SourceLine Source, int Cpu, RegisterRef Register, ulong Value, ulong? Mask)
    : Probe(Source);

/// <summary><c>expect cpuN pending has|lacks nmi|smi|init|sipi|extint</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Has">True for <c>has</c>, false for <c>lacks</c>.</param>
/// <param name="Event">The event.</param>
public sealed record ExpectPendingProbe(SourceLine Source, int Cpu, bool Has, PendingEvent Event)
    : Probe(Source);

/// <summary><c>expect cpuN mode == disabled|xapic|x2apic</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Mode">The expected APIC mode (never <see cref="ApicMode.Invalid"/>).</param>
public sealed record ExpectModeProbe(SourceLine Source, int Cpu, ApicMode Mode)
    : Probe(Source);

/// <summary><c>expect cpuN state == running|halted|wait-for-sipi</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="State">The expected run state.</param>
public sealed record ExpectStateProbe(SourceLine Source, int Cpu, VcpuRunState State)
    : Probe(Source);

/// <summary><c>expect cpuN if == 0|1</c>: the interrupt flag.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Set">True for <c>1</c>.</param>
public sealed record ExpectInterruptFlagProbe(SourceLine Source, int Cpu, bool Set)
    : Probe(Source);

/// <summary><c>expect accel=KIND[,KIND...] cpuN exits [REASON] == N</c>: the VM-exit count of vCPU N so far, all reasons or one; skipped under backends not in <paramref name="Accels"/>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Accels">The backends the probe applies to (never empty).</param>
/// <param name="Reason">The exit reason name in lower case (the project documents the names), or <c>null</c> for all exits.</param>
/// <param name="Count">The expected count.</param>
public sealed record ExpectExitsProbe(SourceLine Source, int Cpu, AccelFilter Accels, string? Reason, ulong Count)
    : Probe(Source);

/// <summary>
/// <c>expect accel=KIND[,KIND...] cpuN pv-eoi == 0|1</c>: bit 0 of vCPU N's PV EOI flag in guest memory
/// (0 when PV EOI is off); skipped under backends not in <paramref name="Accels"/>, because KVM sets
/// the flag only on its software injection path (docs/kvm-configurations.md).
/// </summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Accels">The backends the probe applies to (never empty).</param>
/// <param name="Set">True for <c>1</c>.</param>
public sealed record ExpectPvEoiProbe(SourceLine Source, int Cpu, AccelFilter Accels, bool Set)
    : Probe(Source);

/// <summary><c>expect ioapic pin N line == 0|1</c>: the input level the IOAPIC sees.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Pin">The IOAPIC pin, 0..23.</param>
/// <param name="High">True for <c>1</c>.</param>
public sealed record ExpectIoApicLineProbe(SourceLine Source, int Pin, bool High)
    : Probe(Source);

/// <summary><c>expect ioapic pin N remote-irr == 0|1</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Pin">The IOAPIC pin, 0..23.</param>
/// <param name="Set">True for <c>1</c>.</param>
public sealed record ExpectIoApicRemoteIrrProbe(SourceLine Source, int Pin, bool Set)
    : Probe(Source);

/// <summary><c>expect ioapic pin N entry [&amp; MASK] == V</c>: the 64-bit redirection entry.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Pin">The IOAPIC pin, 0..23.</param>
/// <param name="Value">The expected value.</param>
/// <param name="Mask">The mask of a masked compare, or <c>null</c>.</param>
public sealed record ExpectIoApicEntryProbe(SourceLine Source, int Pin, ulong Value, ulong? Mask)
    : Probe(Source);

/// <summary><c>expect vm running|dead</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="State">The expected VM state.</param>
public sealed record ExpectVmProbe(SourceLine Source, VmRunState State)
    : Probe(Source);
