// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

// The backends, the VM options, CPUID registers and vCPU run states are the library's own types
// (VirtualApic.Fabric.AccelKind and VmOptions, VirtualApic.Cpu.CpuidRegister, VirtualApic.Cpu.VcpuRunState).
global using AccelKind = VirtualApic.Fabric.AccelKind;
global using VmOptions = VirtualApic.Fabric.VmOptions;
global using CpuidRegister = VirtualApic.Cpu.CpuidRegister;
global using VcpuRunState = VirtualApic.Cpu.VcpuRunState;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>What a statement does to an interrupt input line (<c>irq PIN ...</c>, <c>cpuN lint0 ...</c>).</summary>
public enum LineAction : byte
{
    /// <summary><c>assert</c>: drive the line active and leave it so.</summary>
    Assert = 0,
    /// <summary><c>deassert</c>: drive the line inactive.</summary>
    Deassert = 1,
    /// <summary><c>pulse</c>: assert then de-assert at once (an edge).</summary>
    Pulse = 2,
}

/// <summary>An IOAPIC input pin polarity (<c>polarity=high|low</c>).</summary>
public enum PinPolarity : byte
{
    /// <summary><c>high</c>: active high (RTE bit 13 clear).</summary>
    ActiveHigh = 0,
    /// <summary><c>low</c>: active low (RTE bit 13 set).</summary>
    ActiveLow = 1,
}

/// <summary>The 256-bit vector registers a probe can test (<c>expect cpuN irr|isr|tmr ...</c>).</summary>
public enum ApicVectorRegister : byte
{
    /// <summary><c>irr</c>: interrupt request register (posted but not yet synced vectors included).</summary>
    Irr = 0,
    /// <summary><c>isr</c>: in-service register.</summary>
    Isr = 1,
    /// <summary><c>tmr</c>: trigger mode register.</summary>
    Tmr = 2,
}

/// <summary>The test of a vector-register probe.</summary>
public enum VectorSetCheck : byte
{
    /// <summary><c>has V</c>: the vector's bit is set.</summary>
    Has = 0,
    /// <summary><c>lacks V</c>: the vector's bit is clear.</summary>
    Lacks = 1,
    /// <summary><c>empty</c>: no bit is set.</summary>
    Empty = 2,
}

/// <summary>An event a vCPU can have pending (<c>expect cpuN pending has|lacks ...</c>).</summary>
public enum PendingEvent : byte
{
    /// <summary><c>nmi</c>.</summary>
    Nmi = 0,
    /// <summary><c>smi</c>.</summary>
    Smi = 1,
    /// <summary><c>init</c>.</summary>
    Init = 2,
    /// <summary><c>sipi</c>.</summary>
    Sipi = 3,
    /// <summary><c>extint</c>: an external (8259) interrupt.</summary>
    ExtInt = 4,
}

/// <summary>The VM's state (<c>expect vm running|dead</c>).</summary>
public enum VmRunState : byte
{
    /// <summary><c>running</c>.</summary>
    Running = 0,
    /// <summary><c>dead</c>: the hypervisor killed the VM.</summary>
    Dead = 1,
}

/// <summary>What a <see cref="PvEoiStatement"/> does.</summary>
public enum PvEoiAction : byte
{
    /// <summary><c>enable ADDR</c>: WRMSR MSR_KVM_PV_EOI_EN, ADDR | 1.</summary>
    Enable = 0,

    /// <summary><c>disable</c>: WRMSR MSR_KVM_PV_EOI_EN, 0.</summary>
    Disable = 1,

    /// <summary><c>eoi</c>: the guest's PV EOI (clear the flag, else an EOI register write).</summary>
    Eoi = 2,
}
