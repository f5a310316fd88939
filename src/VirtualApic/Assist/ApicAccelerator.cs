// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Assist;

/// <summary>
/// A hardware-assist model: where a guest's APIC accesses land first. Each access is either
/// completed in "hardware" on the register page, refused with #GP, or returned as a VM exit
/// (<see cref="ApicExit"/>) for the hypervisor's exit dispatcher to count, trace and handle.
/// A model never handles its own exits and sees other vCPUs only through <see cref="IVcpuPeers"/>.
/// </summary>
public abstract class ApicAccelerator
{
    /// <summary>The backend's name (<c>none</c>, <c>apicv</c>, <c>avic</c>, <c>x2avic</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Whether acceleration is active VM-wide now (no inhibit).</summary>
    public virtual bool IsActive => false;

    /// <summary>A guest RDMSR of an x2APIC register (0x800-0x8FF).</summary>
    public abstract ApicExit ReadX2ApicMsr(LocalApic apic, uint msr, out ulong value);

    /// <summary>A guest WRMSR of an x2APIC register (0x800-0x8FF).</summary>
    public abstract ApicExit WriteX2ApicMsr(LocalApic apic, uint msr, ulong value);

    /// <summary>
    /// A guest WRMSR of X2APIC_EOI (0x80B), the write every handler ends with: the exit dispatcher
    /// calls this for it, so that where the MSR is a constant the JIT inlines a model's EOI path
    /// alone, not its whole x2APIC write (ApicOffset.EoiMsr). The same as <see cref="WriteX2ApicMsr"/>.
    /// </summary>
    internal virtual ApicExit WriteX2ApicEoi(LocalApic apic, ulong value) => WriteX2ApicMsr(apic, ApicOffset.EoiMsr, value);

    /// <summary>A guest load from the APIC MMIO window.</summary>
    public abstract ApicExit ReadMmio(LocalApic apic, int offset, int size, out ulong value);

    /// <summary>A guest store to the APIC MMIO window.</summary>
    public abstract ApicExit WriteMmio(LocalApic apic, int offset, uint value, int size);

    /// <summary>vCPU <paramref name="vcpu"/>'s run state changed (IsRunning, the notification vector).</summary>
    public virtual void OnRunStateChanged(int vcpu)
    {
    }
}
