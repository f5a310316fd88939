// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Assist;

/// <summary>
/// Receives the events of a run, for traces: each VM exit (from the hypervisor's exit dispatcher),
/// and each delivery and EOI (from the local APIC core, <see cref="IApicTracer"/>).
/// </summary>
public interface IVmTracer : IApicTracer
{
    /// <summary>A VM exit of <paramref name="vcpu"/>.</summary>
    void OnExit(int vcpu, ExitReason reason, int offsetOrMsr, bool trapLike);
}
