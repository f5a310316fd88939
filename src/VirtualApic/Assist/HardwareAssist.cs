// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Assist;

/// <summary>
/// What the AVIC and APICv hardware models share: the vCPUs they accelerate, the VM-wide activation
/// switch (the VMCS/VMCB controls KVM sets), each vCPU's delivery path, and the tables the hardware
/// reads. When to switch and what to do with every vCPU then is KVM's policy, which lives in
/// <c>Hypervisor.ApicvInhibitPolicy</c>.
/// </summary>
public abstract class HardwareAssist : ApicAccelerator
{
    private volatile bool _active;

    /// <summary>Attaches the model to a VM's vCPUs; the hypervisor's policy activates it.</summary>
    protected HardwareAssist(IVcpuPeers peers)
    {
        ArgumentNullException.ThrowIfNull(peers);
        Peers = peers;
    }

    /// <summary>The vCPUs, as far as the hardware sees them.</summary>
    public IVcpuPeers Peers { get; }

    /// <inheritdoc/>
    public override bool IsActive => _active;

    /// <summary>The last physical ID the assist's tables can index (<see cref="int.MaxValue"/> when unlimited).</summary>
    public virtual int MaxPhysicalId => int.MaxValue;

    /// <summary>Turns acceleration on or off VM-wide; the caller then configures every vCPU (<see cref="ConfigureVcpu"/>).</summary>
    public void SetActive(bool active) => _active = active;

    /// <summary>Points a vCPU's delivery at the hardware path (active) or the emulated IRR (inactive), as <see cref="IsActive"/> says.</summary>
    public abstract void ConfigureVcpu(LocalApic apic);

    /// <summary>Rebuilds the hardware tables from every vCPU's registers (after activation).</summary>
    public virtual void RefreshTables()
    {
    }

    /// <summary>Rewrites one vCPU's table entries after its ID, LDR, DFR or mode changed while active. O(1).</summary>
    public virtual void RefreshVcpuTables(LocalApic apic)
    {
    }
}
