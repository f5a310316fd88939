// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
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

    /// <summary>One entry per IOAPIC-handled rescan the APIC asked for: its highest in-service vector at that moment.</summary>
    public List<int> IoApicScans { get; } = [];

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

    public void ScanIoApicHandledVectors(LocalApic target) => IoApicScans.Add(target.HighestIsr);

    /// <summary>What <see cref="FindUnicastTarget"/> answers (null: the IPI goes through <see cref="SendIpi"/>).</summary>
    public Func<uint, LocalApic?>? UnicastTargets { get; set; }

    /// <summary>Every destination the APIC asked <see cref="FindUnicastTarget"/> about.</summary>
    public List<uint> UnicastLookups { get; } = [];

    public LocalApic? FindUnicastTarget(uint destination)
    {
        UnicastLookups.Add(destination);
        return UnicastTargets?.Invoke(destination);
    }
}
