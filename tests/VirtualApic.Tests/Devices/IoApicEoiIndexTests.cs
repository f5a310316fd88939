// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Devices;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Devices;

/// <summary>
/// An EOI visits only the pins whose entry has its vector (the IOAPIC keeps them per vector), so the
/// set must follow every way an entry's vector changes: a guest write of either half, a whole-entry
/// write, a reset and a restore. And a deassert, which takes no lock, is refused only from inside the
/// delivering thread's own sink call, never because another thread is delivering.
/// </summary>
public class IoApicEoiIndexTests
{
    [Fact]
    public void A_revectored_entry_answers_the_eoi_of_its_new_vector_only()
    {
        var rig = new IoApicRig(IoApicVersion.Version20);
        rig.Route(7, 0x41, TriggerMode.Level);
        rig.Device.SetLine(7, true);
        Assert.True(rig.Device.GetRemoteIrr(7));

        rig.GuestWrite(0x10 + (2 * 7), 0x0000_8042); // low half: level, vector 0x42, Remote IRR kept

        rig.Eoi(0x41);
        Assert.True(rig.Device.GetRemoteIrr(7)); // the old vector is not this pin's any more
        rig.Device.WriteEoiRegister(0x41);
        Assert.True(rig.Device.GetRemoteIrr(7));
        rig.Device.SetLine(7, false);
        rig.Eoi(0x42);
        Assert.False(rig.Device.GetRemoteIrr(7));
    }

    [Fact]
    public void An_eoi_reaches_every_pin_sharing_the_vector_lowest_first()
    {
        var rig = new IoApicRig();
        foreach (int pin in new[] { 20, 3, 11 })
        {
            rig.Route(pin, 0x51, TriggerMode.Level, destination: (byte)pin);
            rig.Device.SetLine(pin, true);
        }

        rig.Messages.Clear();
        rig.Eoi(0x51); // every line still high: each pin is delivered again

        Assert.Equal([3u, 11u, 20u], rig.Messages.Select(m => m.Destination));
    }

    [Fact]
    public void After_a_restore_the_eoi_follows_the_restored_vectors()
    {
        var source = new IoApicRig(IoApicVersion.Version20);
        source.Route(5, 0x61, TriggerMode.Level);
        source.Device.SetLine(5, true);
        var target = new IoApicRig(IoApicVersion.Version20);
        target.Route(5, 0x62, TriggerMode.Level);

        target.Device.Restore(source.Device.Save());
        target.Device.SetLine(5, false);
        target.Eoi(0x62);
        Assert.True(target.Device.GetRemoteIrr(5)); // the replaced vector
        target.Eoi(0x61);
        Assert.False(target.Device.GetRemoteIrr(5));
    }

    [Fact]
    public void After_a_reset_only_vector_0_names_the_pins()
    {
        var rig = new IoApicRig(IoApicVersion.Version20);
        rig.Route(6, 0x71, TriggerMode.Level, masked: true);
        rig.Device.Reset(); // every entry masked with vector 0

        rig.GuestWrite(0x10 + (2 * 6), 0x0000_8000); // unmask as level, the vector stays 0
        rig.Device.SetLine(6, true);
        Assert.True(rig.Device.GetRemoteIrr(6));
        rig.Device.SetLine(6, false);

        rig.Eoi(0x71); // the vector the pin had before the reset
        Assert.True(rig.Device.GetRemoteIrr(6));
        rig.Eoi(0x00);
        Assert.False(rig.Device.GetRemoteIrr(6));
    }

    [Fact]
    public void A_deassert_on_another_thread_during_a_delivery_is_not_refused()
    {
        var rig = new IoApicRig();
        rig.Route(2, 0x32);
        rig.Route(9, 0x39, TriggerMode.Level);
        rig.Device.SetLine(9, true);
        using var inDeliver = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        rig.Sink.OnDeliver = m =>
        {
            if (m.Vector == 0x32)
            {
                inDeliver.Set();
                release.Wait(); // holds the IOAPIC's lock, with its delivering flag set
            }
        };
        var delivering = new Thread(() => rig.Device.SetLine(2, true));
        delivering.Start();
        inDeliver.Wait(TestContext.Current.CancellationToken);

        int status = rig.Device.SetLine(9, false); // this thread: no lock needed, no error

        release.Set();
        delivering.Join();
        Assert.Equal(1, status);
        Assert.False(rig.Device.GetLine(9));
        Assert.True(rig.Device.GetLine(2));
    }
}
