// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Support;

/// <summary>
/// An <see cref="IApicHost"/> that records what the APIC asks of the machine. With
/// <see cref="Loopback"/> (the default) self-addressed IPIs come back to the sender as
/// <see cref="StandaloneApicHost"/> delivers them.
/// </summary>
internal sealed class RecordingHost : IApicHost
{
    public bool Loopback { get; set; } = true;

    public List<InterruptMessage> Ipis { get; } = [];

    public List<(byte Vector, TriggerMode Trigger)> Eois { get; } = [];

    public int MapChanges { get; private set; }

    public int Kicks { get; private set; }

    public void SendIpi(LocalApic source, in InterruptMessage message)
    {
        Ipis.Add(message);
        if (Loopback)
        {
            StandaloneApicHost.Instance.SendIpi(source, message);
        }
    }

    public void EndOfInterrupt(LocalApic source, byte vector, TriggerMode trigger) => Eois.Add((vector, trigger));

    public void ApicMapChanged(LocalApic source) => MapChanges++;

    public void Kick(LocalApic target) => Kicks++;
}

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

/// <summary>An <see cref="IApicCpu"/> that records the non-vector events the APIC hands over.</summary>
internal sealed class RecordingCpu : IApicCpu
{
    public int Nmis { get; private set; }

    public int Smis { get; private set; }

    public int Inits { get; private set; }

    public List<byte> Sipis { get; } = [];

    public void OnNmi() => Nmis++;

    public void OnSmi() => Smis++;

    public void OnInit() => Inits++;

    public void OnSipi(byte vector) => Sipis.Add(vector);
}

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
