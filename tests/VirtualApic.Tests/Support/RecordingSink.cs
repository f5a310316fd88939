// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Devices;

namespace VirtualApic.Tests.Support;

/// <summary>A sink that records every message and table-change notification.</summary>
internal sealed class RecordingSink : IIoApicSink
{
    public List<InterruptMessage> Messages { get; } = [];

    public List<int> TableChanges { get; } = [];

    /// <summary>What <see cref="Deliver"/> returns: the number of local APICs that "accepted".</summary>
    public int Result { get; set; } = 1;

    /// <summary>Runs inside <see cref="Deliver"/>, with the IOAPIC lock held.</summary>
    public Action<InterruptMessage>? OnDeliver { get; set; }

    /// <summary>Runs inside <see cref="RedirectionTableChanged"/>.</summary>
    public Action<int>? OnTableChanged { get; set; }

    public int Deliver(in InterruptMessage message)
    {
        Messages.Add(message);
        OnDeliver?.Invoke(message);
        return Result;
    }

    public void RedirectionTableChanged(int pin)
    {
        TableChanges.Add(pin);
        OnTableChanged?.Invoke(pin);
    }
}
