// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using VirtualApic.Assist;

namespace VirtualApic.Tests.Support;

/// <summary>An <see cref="IVmTracer"/> that records every event.</summary>
internal sealed class RecordingTracer : IVmTracer
{
    public ConcurrentQueue<(int Vcpu, ExitReason Reason, int OffsetOrMsr, bool TrapLike)> Exits { get; } = new();

    public ConcurrentQueue<(int Vcpu, int Vector, bool Posted)> Deliveries { get; } = new();

    public ConcurrentQueue<(int Vcpu, int Vector)> Eois { get; } = new();

    public void OnExit(int vcpu, ExitReason reason, int offsetOrMsr, bool trapLike) => Exits.Enqueue((vcpu, reason, offsetOrMsr, trapLike));

    public void OnDelivery(int vcpu, int vector, bool posted) => Deliveries.Enqueue((vcpu, vector, posted));

    public void OnEoi(int vcpu, int vector) => Eois.Enqueue((vcpu, vector));
}
