// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// One statement of a scenario, after the <c>vm</c> line. Every node keeps where it is written
/// (<see cref="Source"/>) so the runner can log and report it.
/// </summary>
/// <param name="Source">Where the statement is written.</param>
public abstract record Statement(SourceLine Source);

/// <summary>A vCPU statement, <c>cpuN OP ...</c>: something the guest does on vCPU <paramref name="Cpu"/>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
public abstract record CpuStatement(SourceLine Source, int Cpu) : Statement(Source);

/// <summary><c>cpuN wrmsr MSR VALUE</c>: a guest WRMSR; observes <c>ok</c> or <c>#GP</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Msr">The MSR.</param>
/// <param name="Value">The 64-bit value written.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record WrmsrStatement(SourceLine Source, int Cpu, MsrRef Msr, ulong Value, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN rdmsr MSR</c>: a guest RDMSR; observes the value or <c>#GP</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Msr">The MSR.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record RdmsrStatement(SourceLine Source, int Cpu, MsrRef Msr, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN mmio-write ADDR VALUE [size=1|2|4|8]</c>: a guest store to guest-physical <c>ADDR</c>; observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Address">The guest-physical address.</param>
/// <param name="Value">The value stored; it fits in <paramref name="Size"/> bytes.</param>
/// <param name="Size">The access size in bytes: 1, 2, 4 or 8 (default 4).</param>
public sealed record MmioWriteStatement(SourceLine Source, int Cpu, ulong Address, ulong Value, int Size)
    : CpuStatement(Source, Cpu);

/// <summary><c>cpuN mmio-read ADDR [size=1|2|4|8]</c>: a guest load from guest-physical <c>ADDR</c>; observes the value.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Address">The guest-physical address.</param>
/// <param name="Size">The access size in bytes: 1, 2, 4 or 8 (default 4).</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record MmioReadStatement(SourceLine Source, int Cpu, ulong Address, int Size, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN write REG VALUE</c>: writes an APIC register through the interface of the current mode (MMIO in xAPIC mode, MSR 0x800 + offset/16 in x2APIC mode); observes <c>ok</c> or <c>#GP</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Register">The register.</param>
/// <param name="Value">The value written.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record WriteRegisterStatement(SourceLine Source, int Cpu, RegisterRef Register, ulong Value, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN read REG</c>: reads an APIC register through the interface of the current mode; observes the value or <c>#GP</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Register">The register.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record ReadRegisterStatement(SourceLine Source, int Cpu, RegisterRef Register, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN eoi</c>: <c>write EOI 0</c>; observes <c>ok</c> or <c>#GP</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record EoiStatement(SourceLine Source, int Cpu, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN ipi VECTOR [dest=ID] [mode=fixed|lowest|smi|nmi|init|sipi] [logical] [shorthand=none|self|all|others] [level=assert|deassert] [trigger=edge|level]</c>: builds an ICR and sends it (xAPIC: ICR2 then ICR; x2APIC: one 64-bit ICR write); observes <c>ok</c> or <c>#GP</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Vector">The ICR vector, bits 7:0.</param>
/// <param name="Destination"><c>dest=</c>, default 0: the destination APIC ID or logical mask, 32 bits (ICR bits 63:32 in x2APIC mode; in xAPIC mode only its low 8 bits fit ICR2 bits 31:24).</param>
/// <param name="Mode"><c>mode=</c>, default <c>fixed</c> (<c>lowest</c> is <see cref="DeliveryMode.LowestPriority"/>, <c>sipi</c> is <see cref="DeliveryMode.StartUp"/>).</param>
/// <param name="DestinationMode"><see cref="DestinationMode.Logical"/> with the <c>logical</c> flag, else physical.</param>
/// <param name="Shorthand"><c>shorthand=</c>, default <c>none</c> (<c>all</c> is all-including-self, <c>others</c> all-excluding-self).</param>
/// <param name="Assert"><c>level=</c>: true for <c>assert</c> (the default), false for <c>deassert</c>.</param>
/// <param name="Trigger"><c>trigger=</c>, default <c>edge</c>.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record IpiStatement(SourceLine Source, int Cpu, byte Vector, uint Destination, DeliveryMode Mode, DestinationMode DestinationMode, DestinationShorthand Shorthand, bool Assert, TriggerMode Trigger, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN sti</c>: sets the interrupt flag (IF). Observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
public sealed record StiStatement(SourceLine Source, int Cpu)
    : CpuStatement(Source, Cpu);

/// <summary><c>cpuN cli</c>: clears the interrupt flag (IF). Observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
public sealed record CliStatement(SourceLine Source, int Cpu)
    : CpuStatement(Source, Cpu);

/// <summary><c>cpuN iret</c>: returns from the handler of the last event taken. Observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
public sealed record IretStatement(SourceLine Source, int Cpu)
    : CpuStatement(Source, Cpu);

/// <summary><c>cpuN hlt</c>: halts the vCPU until it takes an event. Observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
public sealed record HltStatement(SourceLine Source, int Cpu)
    : CpuStatement(Source, Cpu);

/// <summary><c>cpuN take</c>: takes the highest-priority event the vCPU would take now; observes <c>vector V</c>, <c>extint V</c>, <c>nmi</c>, <c>smi</c>, <c>init</c>, <c>sipi V</c> or <c>none</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record TakeStatement(SourceLine Source, int Cpu, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary>
/// <c>cpuN kick-cpu APICID</c>: the guest's <c>KVM_HC_KICK_CPU</c> hypercall (a <c>vmcall</c> exit): a
/// remote-read message to APIC ID <c>APICID</c> that wakes a halted vCPU there (KVM's PV unhalt,
/// profile switch <c>RemoteReadUnhalts</c>). Observes the hypercall's result, 0.
/// </summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="ApicId">The target APIC ID (RBX of the hypercall).</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record KickCpuStatement(SourceLine Source, int Cpu, uint ApicId, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary>
/// <c>cpuN pv-eoi enable ADDR|disable|eoi</c>: KVM's paravirtual EOI as a Linux guest uses it.
/// <c>enable ADDR</c> writes MSR_KVM_PV_EOI_EN (0x4b564d04) with ADDR | 1 and <c>disable</c> with 0
/// (observe <c>ok</c> or <c>#GP</c>); <c>eoi</c> is Linux <c>kvm_guest_apic_eoi_write</c>: clear bit 0 of the
/// guest's flag if set (no exit, KVM completes the EOI later), else write the EOI register through
/// the current mode (observes <c>ok</c> or <c>#GP</c> like <c>eoi</c>).
/// </summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Action">What the guest does.</param>
/// <param name="Address">The flag's guest-physical address for <see cref="PvEoiAction.Enable"/>, else 0.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record PvEoiStatement(SourceLine Source, int Cpu, PvEoiAction Action, ulong Address, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN rdtsc</c>: observes the TSC.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record RdtscStatement(SourceLine Source, int Cpu, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN host-wrmsr MSR VALUE</c>: an MSR write by the VMM (as KVM_SET_MSRS does); observes <c>ok</c> or <c>error</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Msr">The MSR.</param>
/// <param name="Value">The 64-bit value written.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record HostWrmsrStatement(SourceLine Source, int Cpu, MsrRef Msr, ulong Value, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN wrcr8 VALUE</c>: MOV to CR8 (TPR bits 7:4); observes <c>ok</c> or <c>#GP</c>.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Value">The 64-bit value moved to CR8.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record Wrcr8Statement(SourceLine Source, int Cpu, ulong Value, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN rdcr8</c>: MOV from CR8; observes the value.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record Rdcr8Statement(SourceLine Source, int Cpu, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN cpuid LEAF [SUBLEAF] eax|ebx|ecx|edx</c>: observes one CPUID output register.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Leaf">EAX on input.</param>
/// <param name="Subleaf">ECX on input, default 0.</param>
/// <param name="Register">The output register observed.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record CpuidStatement(SourceLine Source, int Cpu, uint Leaf, uint Subleaf, CpuidRegister Register, Expectation? Expect)
    : CpuStatement(Source, Cpu), IObservingStatement;

/// <summary><c>cpuN lint0|lint1 assert|deassert|pulse</c>: drives the vCPU's local interrupt pin; observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Cpu">The vCPU index (<c>cpuN</c>), below the <c>vm</c> line's <c>cpus</c>.</param>
/// <param name="Pin">0 for LINT0, 1 for LINT1.</param>
/// <param name="Action">What is done to the pin.</param>
public sealed record LintStatement(SourceLine Source, int Cpu, int Pin, LineAction Action)
    : CpuStatement(Source, Cpu);
