// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Devices;
using VirtualApic.Registers;
using VirtualApic.Time;
using IoApicDevice = VirtualApic.Devices.IoApic;

namespace VirtualApic.Tests.Support;

/// <summary>An IOAPIC wired to a recording sink and a virtual clock.</summary>
internal sealed class IoApicRig
{
    public IoApicRig(IoApicVersion version = IoApicVersion.Version11)
    {
        Device = new IoApicDevice(Sink, Clock, new IoApicOptions { Version = version });
    }

    public VirtualClock Clock { get; } = new();

    public RecordingSink Sink { get; } = new();

    public IoApicDevice Device { get; }

    public List<InterruptMessage> Messages => Sink.Messages;

    /// <summary>Writes a whole entry, as `ioapic route` does.</summary>
    public void Route(
        int pin,
        byte vector,
        TriggerMode trigger = TriggerMode.Edge,
        bool masked = false,
        byte destination = 0,
        DestinationMode destinationMode = DestinationMode.Physical,
        DeliveryMode mode = DeliveryMode.Fixed,
        bool activeLow = false) =>
        Device.WriteEntry(pin, RedirectionEntry.Create(vector, mode, destinationMode, trigger, activeLow, masked, destination));

    /// <summary>The guest's view through IOREGSEL/IOWIN.</summary>
    public uint GuestRead(uint index)
    {
        Device.MmioWrite(IoApicDevice.RegisterSelectOffset, index, 4);
        return Device.MmioRead(IoApicDevice.WindowOffset, 4);
    }

    /// <summary>The guest's store through IOREGSEL/IOWIN.</summary>
    public void GuestWrite(uint index, uint value)
    {
        Device.MmioWrite(IoApicDevice.RegisterSelectOffset, index, 4);
        Device.MmioWrite(IoApicDevice.WindowOffset, value, 4);
    }

    /// <summary>A level EOI broadcast from vCPU 0.</summary>
    public void Eoi(byte vector, bool directed = false) => Device.OnLocalEoi(0, vector, TriggerMode.Level, directed);
}
