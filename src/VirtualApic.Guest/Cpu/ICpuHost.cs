// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>
/// What one <c>X86Cpu</c> needs from the machine around it: memory outside RAM, ports, MSRs, CPUID,
/// the TSC, CR8 and the interrupt controller. One instance per vCPU. The CPU knows nothing of
/// VirtualApic; the platform implements this on top of the library's <c>Vcpu</c>, and CPU tests
/// implement it with a small fake.
/// </summary>
/// <remarks>
/// Every call is made on the thread running the CPU, between instructions or in the middle of the
/// one being executed (never concurrently). A call that must fault returns <see langword="false"/>;
/// the CPU then raises the fault precisely (RIP at the instruction, no architectural state changed).
/// </remarks>
public interface ICpuHost
{
    /// <summary>Whether the 4 KiB physical page holding <paramref name="physicalAddress"/> is not plain
    /// RAM for this CPU (outside RAM, this CPU's APIC window, the IOAPIC window). The CPU may cache the
    /// answer per page until <c>X86Cpu.FlushMemoryMap</c> is called.</summary>
    /// <param name="physicalAddress">A guest-physical address.</param>
    bool IsMmioPage(ulong physicalAddress);

    /// <summary>Reads 1, 2, 4 or 8 bytes at an MMIO address (never crossing an 8-byte-aligned boundary
    /// of the request as split by the CPU).</summary>
    /// <param name="physicalAddress">The guest-physical address.</param>
    /// <param name="size">1, 2, 4 or 8.</param>
    ulong MmioRead(ulong physicalAddress, int size);

    /// <summary>Writes 1, 2, 4 or 8 bytes at an MMIO address.</summary>
    /// <param name="physicalAddress">The guest-physical address.</param>
    /// <param name="value">The value, in the low <paramref name="size"/> bytes.</param>
    /// <param name="size">1, 2, 4 or 8.</param>
    void MmioWrite(ulong physicalAddress, ulong value, int size);

    /// <summary>IN: reads a port.</summary>
    /// <param name="port">The port.</param>
    /// <param name="size">1, 2 or 4.</param>
    uint PortIn(ushort port, int size);

    /// <summary>OUT: writes a port.</summary>
    /// <param name="port">The port.</param>
    /// <param name="value">The value, in the low <paramref name="size"/> bytes.</param>
    /// <param name="size">1, 2 or 4.</param>
    void PortOut(ushort port, uint value, int size);

    /// <summary>RDMSR for every MSR the CPU itself does not own (EFER, FS/GS bases and the like are the
    /// CPU's). <see langword="false"/> raises #GP(0).</summary>
    /// <param name="msr">ECX.</param>
    /// <param name="value">EDX:EAX.</param>
    bool TryReadMsr(uint msr, out ulong value);

    /// <summary>WRMSR for every MSR the CPU itself does not own. <see langword="false"/> raises #GP(0).</summary>
    /// <param name="msr">ECX.</param>
    /// <param name="value">EDX:EAX.</param>
    bool TryWriteMsr(uint msr, ulong value);

    /// <summary>CPUID.</summary>
    /// <param name="leaf">EAX.</param>
    /// <param name="subleaf">ECX.</param>
    /// <param name="eax">Result EAX.</param>
    /// <param name="ebx">Result EBX.</param>
    /// <param name="ecx">Result ECX.</param>
    /// <param name="edx">Result EDX.</param>
    void Cpuid(uint leaf, uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx);

    /// <summary>RDTSC: the time-stamp counter now (the host brings virtual time up to this instruction first).</summary>
    ulong ReadTsc();

    /// <summary>MOV to CR8. <see langword="false"/> raises #GP(0).</summary>
    /// <param name="value">The value written.</param>
    bool TryWriteCr8(ulong value);

    /// <summary>MOV from CR8.</summary>
    ulong ReadCr8();

    /// <summary>RFLAGS.IF changed (STI, CLI, POPF, IRET, a gate that clears IF, an event taken).</summary>
    /// <param name="interruptFlag">The new IF.</param>
    void InterruptFlagChanged(bool interruptFlag);

    /// <summary>An IRET completed: architecturally, any IRET ends NMI blocking.</summary>
    /// <param name="interruptFlagAfter">RFLAGS.IF as popped.</param>
    void Iret(bool interruptFlagAfter);

    /// <summary>
    /// At an instruction boundary outside any STI/MOV SS shadow, after <c>X86Cpu.RequestEventCheck</c>:
    /// the event to deliver now, if any. Maskable interrupts are offered only when
    /// <paramref name="interruptsEnabled"/>; the host performs the acknowledge (INTA) itself.
    /// </summary>
    /// <param name="interruptsEnabled">RFLAGS.IF.</param>
    CpuEvent TakeEvent(bool interruptsEnabled);

    /// <summary>HLT executed at CPL 0: the CPU stops until an event is delivered.</summary>
    void Halt();

    /// <summary>VMCALL / VMMCALL: the host reads and writes the registers it needs (KVM's ABI: RAX the
    /// number, RBX, RCX, RDX, RSI the arguments, RAX the result).</summary>
    /// <param name="registers">The CPU's general-purpose registers, indexed as in the ModRM encoding (RAX = 0 … R15 = 15).</param>
    void Hypercall(Span<ulong> registers);
}
