// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Support;

/// <summary>A posted-interrupt stand-in: vectors wait in a PIR until <see cref="SyncToIrr"/> folds them in.</summary>
internal sealed class PostedDelivery : IVectorDelivery
{
    private readonly ulong[] _pir = new ulong[4];

    public List<string> Calls { get; } = [];

    public bool Deliver(LocalApic apic, int vector)
    {
        _pir[vector >> 6] |= 1ul << vector;
        return true;
    }

    public void SyncToIrr(LocalApic apic)
    {
        for (int v = 0; v < 256; v++)
        {
            if ((_pir[v >> 6] & (1ul << v)) != 0)
            {
                apic.Page.SetVector(ApicOffset.Irr, v);
            }
        }

        Array.Clear(_pir);
    }

    public void Reset(LocalApic apic)
    {
        Calls.Add("reset");
        Array.Clear(_pir);
    }

    public bool IsPosted(int vector) => (_pir[vector >> 6] & (1ul << vector)) != 0;
}
