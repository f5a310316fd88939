// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Support;

/// <summary>A host that only counts, so that the hot paths can be measured for allocations.</summary>
internal sealed class CountingHost : IApicHost
{
    public int Ipis;
    public int Eois;
    public int Kicks;

    public void SendIpi(LocalApic source, in InterruptMessage message) => Ipis++;

    public void EndOfInterrupt(LocalApic source, byte vector, TriggerMode trigger) => Eois++;

    public void ApicMapChanged(LocalApic source)
    {
    }

    public void Kick(LocalApic target) => Kicks++;
}
