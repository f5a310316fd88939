// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;

namespace VirtualApic.Tests.Support;

/// <summary>An 8259 stand-in: INTR is asserted while vectors are queued; INTA pops one.</summary>
internal sealed class FakePic : IExternalInterruptController
{
    public Queue<byte> Pending { get; } = new();

    public int Acknowledged { get; private set; }

    public bool HasInterrupt => Pending.Count > 0;

    public byte Acknowledge()
    {
        Acknowledged++;
        return Pending.Dequeue();
    }
}
