// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Devices;
using VirtualApic.Registers;
using VirtualApic.Time;
using IoApicDevice = VirtualApic.Devices.IoApic;

namespace VirtualApic.Tests.Devices;

public class IoApicAllocationTests
{
    private sealed class CountingSink : IIoApicSink
    {
        public int Delivered { get; private set; }

        public int VectorSum { get; private set; }

        public int Deliver(in InterruptMessage message)
        {
            Delivered++;
            VectorSum += message.Vector;
            return 1;
        }

        public void RedirectionTableChanged(int pin)
        {
        }
    }

    [Fact]
    public void Deliver_and_eoi_paths_allocate_nothing_once_warm()
    {
        var sink = new CountingSink();
        var device = new IoApicDevice(sink, new VirtualClock(), new IoApicOptions { Version = IoApicVersion.Version20 });
        device.WriteEntry(9, RedirectionEntry.Create(0x51, trigger: TriggerMode.Level, destination: 1));
        device.WriteEntry(4, RedirectionEntry.Create(0x31, destination: 2));

        void Round()
        {
            device.SetLine(9, true); // level delivery
            device.OnLocalEoi(0, 0x51, TriggerMode.Level, false); // re-delivery: the line is held
            device.MmioWrite(IoApicDevice.EoiOffset, 0x51, 4); // EOI register: re-delivery again
            device.SetLine(9, false);
            device.OnLocalEoi(0, 0x51, TriggerMode.Level, false); // clears, nothing to re-deliver
            device.Pulse(4); // edge delivery
            device.MmioWrite(IoApicDevice.RegisterSelectOffset, 0x12, 4);
            _ = device.MmioRead(IoApicDevice.WindowOffset, 4);
        }

        for (int i = 0; i < 100; i++)
        {
            Round();
        }

        int delivered = sink.Delivered;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Round();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(delivered + (4 * 1000), sink.Delivered);
    }
}
