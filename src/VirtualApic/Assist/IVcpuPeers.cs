// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Assist;

/// <summary>
/// The VM as a hardware-assist model (and the hypervisor's policy) may see it: the vCPUs' APICs and
/// run states, and the APIC bus's destination rule. The models never see the VM itself; the fabric
/// implements this.
/// </summary>
public interface IVcpuPeers
{
    /// <summary>The number of vCPUs.</summary>
    int Count { get; }

    /// <summary>The local APIC of vCPU <paramref name="index"/>.</summary>
    LocalApic Apic(int index);

    /// <summary>Whether vCPU <paramref name="index"/> runs in guest mode (loaded, not blocking, not waiting for SIPI).</summary>
    bool IsInGuestMode(int index);

    /// <summary>Whether vCPU <paramref name="index"/> blocks in HLT or has started its wait sequence (<c>Vcpu.PrepareToWait</c>).</summary>
    bool IsBlocked(int index);

    /// <summary>
    /// Whether the emulated APIC bus delivers <paramref name="message"/> to <paramref name="target"/>: KVM's
    /// logical map where its fast path answers, <c>kvm_apic_match_dest</c> otherwise; hardware models keep
    /// to these targets so that guests cannot tell backends apart.
    /// </summary>
    bool MatchesDestination(LocalApic target, in InterruptMessage message, LocalApic? sender);
}
