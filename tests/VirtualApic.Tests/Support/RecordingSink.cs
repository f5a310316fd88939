// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Devices;

namespace VirtualApic.Tests.Support;

/// <summary>A sink that records every message, table-change and deliveries-completed notification.</summary>
internal sealed class RecordingSink : IIoApicSink
{
    public List<InterruptMessage> Messages { get; } = [];

    public List<int> TableChanges { get; } = [];

    /// <summary>Every call to the sink in order: "deliver 0x31", "completed", "changed 2".</summary>
    public List<string> Calls { get; } = [];

    /// <summary>What <see cref="Deliver"/> returns: the number of local APICs that "accepted".</summary>
    public int Result { get; set; } = 1;

    /// <summary>Runs inside <see cref="Deliver"/>, with the IOAPIC lock held.</summary>
    public Action<InterruptMessage>? OnDeliver { get; set; }

    /// <summary>Runs inside <see cref="RedirectionTableChanged"/>.</summary>
    public Action<int>? OnTableChanged { get; set; }

    /// <summary>Runs inside <see cref="DeliveriesCompleted"/>.</summary>
    public Action? OnDeliveriesCompleted { get; set; }

    public int Deliver(in InterruptMessage message)
    {
        Messages.Add(message);
        Calls.Add($"deliver 0x{message.Vector:x2}");
        OnDeliver?.Invoke(message);
        return Result;
    }

    public void RedirectionTableChanged(int pin)
    {
        TableChanges.Add(pin);
        Calls.Add($"changed {pin}");
        OnTableChanged?.Invoke(pin);
    }

    public void DeliveriesCompleted()
    {
        Calls.Add("completed");
        OnDeliveriesCompleted?.Invoke();
    }
}
