// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Devices;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using IoApicDevice = VirtualApic.Devices.IoApic;

namespace VirtualApic.Tests.Devices;

/// <summary>
/// The two halves of the <see cref="IIoApicSink"/> contract: a sink may not change the IOAPIC from inside
/// <see cref="IIoApicSink.Deliver"/>, and every operation that may deliver ends with
/// <see cref="IIoApicSink.DeliveriesCompleted"/>, after its deliveries and outside the IOAPIC's lock.
/// </summary>
public class IoApicSinkContractTests
{
    /// <summary>
    /// Version 0x20 (so the EOI register acts). Pin 0 edge 0x30 and pin 2 edge 0x32, idle; pin 1 level 0x31
    /// in service with its line high; pin 4 level 0x34 masked with its line held high; pin 5 level 0x35 line
    /// high, delivered but accepted by nobody, so Remote IRR clear (a delayed injection would retry it).
    /// </summary>
    private static IoApicRig Prepared()
    {
        var rig = new IoApicRig(IoApicVersion.Version20);
        rig.Route(0, 0x30);
        rig.Route(1, 0x31, TriggerMode.Level);
        rig.Device.SetLine(1, true);
        rig.Route(2, 0x32);
        rig.Route(4, 0x34, TriggerMode.Level, masked: true);
        rig.Device.SetLine(4, true);
        rig.Route(5, 0x35, TriggerMode.Level);
        rig.Sink.Result = 0;
        rig.Device.SetLine(5, true);
        rig.Sink.Result = 1;
        Assert.True(rig.Device.GetRemoteIrr(1));
        Assert.False(rig.Device.GetRemoteIrr(5));
        rig.Sink.Calls.Clear();
        rig.Messages.Clear();
        return rig;
    }

    // Every public member documented as throwing when "called from inside IIoApicSink.Deliver". Each
    // would change the prepared IOAPIC if it ran.
    private static readonly Dictionary<string, Action<IoApicRig>> s_mutators = new()
    {
        ["MmioWrite"] = rig => rig.Device.MmioWrite(IoApicDevice.RegisterSelectOffset, 0x12, 4),
        ["WriteRegister"] = rig => rig.Device.WriteRegister(IoApicDevice.IdIndex, 0x0500_0000),
        ["WriteEntry"] = rig => rig.Route(3, 0x33),
        ["WriteEoiRegister"] = rig => rig.Device.WriteEoiRegister(0x31),
        ["SetLine"] = rig => rig.Device.SetLine(3, true),
        ["SetLine (deassert)"] = rig => rig.Device.SetLine(1, false), // lock-free, still refused
        ["Pulse"] = rig => rig.Device.Pulse(2),
        ["OnLocalEoi"] = rig => rig.Eoi(0x31),
        ["Reset"] = rig => rig.Device.Reset(),
        ["Restore"] = rig => rig.Device.Restore(new IoApicRig(IoApicVersion.Version20).Device.Save()),
    };

    public static TheoryData<string> Mutators => [.. s_mutators.Keys];

    [Theory]
    [MemberData(nameof(Mutators))]
    public void A_sink_that_changes_the_ioapic_from_deliver_gets_an_error_and_changes_nothing(string mutator)
    {
        var rig = Prepared();
        var act = s_mutators[mutator];
        var attempt = TryFromDeliver(rig, () => act(rig));

        Assert.Equal(1, rig.Device.Pulse(0));
        var (before, after, error) = attempt();

        var invalid = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("IIoApicSink.Deliver", invalid.Message, StringComparison.Ordinal);
        Assert.NotNull(before);
        Assert.Equal(before, after);
        Assert.Equal(["deliver 0x30", "completed"], rig.Sink.Calls); // the refused call delivered nothing

        // Only the delivering call is refused: the same call from outside Deliver goes through.
        rig.Sink.OnDeliver = null;
        act(rig);
        Assert.NotEqual(before, rig.Device.Save());
    }

    [Fact]
    public void A_delayed_injection_falling_due_inside_deliver_is_refused_too()
    {
        // The injection runs on whichever thread advances the clock; a sink that advances it from inside
        // Deliver would re-enter the IOAPIC through the timer.
        var rig = Prepared();
        rig.Device.Restore(rig.Device.Save() with { DelayedInjectionDeadlineNs = rig.Clock.NowNs + 1000 });
        rig.Sink.Calls.Clear();
        var attempt = TryFromDeliver(rig, () => rig.Clock.Advance(1000));

        rig.Device.Pulse(0);
        var (before, after, error) = attempt();

        Assert.IsType<InvalidOperationException>(error);
        Assert.NotNull(before);
        Assert.NotNull(after);

        // The clock consumed the expiry, so no injection is pending any more; the rest is untouched, and in
        // particular pin 5 (line high, Remote IRR clear) was not delivered from inside the delivery.
        Assert.Null(after.DelayedInjectionDeadlineNs);
        Assert.Equal(before with { DelayedInjectionDeadlineNs = null }, after);
        Assert.Equal(["deliver 0x30", "completed"], rig.Sink.Calls);
    }

    // Arms the sink to run `call` from inside the delivery of vector 0x30 (the trigger's), once, and
    // returns what it saw: the state before and after the call (reading is allowed) and its exception.
    private static Func<(IoApicState? Before, IoApicState? After, Exception? Error)> TryFromDeliver(IoApicRig rig, Action call)
    {
        IoApicState? before = null;
        IoApicState? after = null;
        Exception? error = null;
        bool inside = false;
        rig.Sink.OnDeliver = message =>
        {
            if (message.Vector != 0x30 || inside)
            {
                return;
            }

            inside = true;
            before = rig.Device.Save();
            error = Record.Exception(call);
            after = rig.Device.Save();
            inside = false;
        };
        return () => (before, after, error);
    }

    private sealed record Case(Action<IoApicRig> Arrange, Action<IoApicRig> Act, string[] Calls);

    private static readonly Action<IoApicRig> s_nothing = _ => { };

    // Every public member that changes the IOAPIC, with the sink calls it makes on the prepared IOAPIC.
    private static readonly Dictionary<string, Case> s_cases = new()
    {
        // Unmasking a held level line delivers it; the table change comes after the deliveries.
        ["MmioWrite"] = new(s_nothing, rig => rig.GuestWrite(0x10 + (2 * 4), 0x0000_8034), ["completed", "deliver 0x34", "completed", "changed 4"]),
        ["WriteRegister"] = new(s_nothing, rig => rig.Device.WriteRegister(0x10 + (2 * 4), 0x0000_8034), ["deliver 0x34", "completed", "changed 4"]),
        ["WriteRegister (ID)"] = new(s_nothing, rig => rig.Device.WriteRegister(IoApicDevice.IdIndex, 0x0500_0000), ["completed"]),
        ["WriteEntry"] = new(s_nothing, rig => rig.Route(4, 0x34, TriggerMode.Level), ["deliver 0x34", "completed", "changed 4"]),
        ["WriteEoiRegister"] = new(s_nothing, rig => rig.Device.WriteEoiRegister(0x31), ["deliver 0x31", "completed"]),
        ["SetLine"] = new(s_nothing, rig => rig.Device.SetLine(2, true), ["deliver 0x32", "completed"]),
        ["SetLine (deassert)"] = new(s_nothing, rig => rig.Device.SetLine(1, false), []), // delivers nothing
        ["Pulse"] = new(s_nothing, rig => rig.Device.Pulse(2), ["deliver 0x32", "completed"]),
        ["OnLocalEoi"] = new(s_nothing, rig => rig.Eoi(0x31), ["deliver 0x31", "completed"]),
        ["Reset"] = new(s_nothing, rig => rig.Device.Reset(), ["completed", "changed -1"]),
        ["Restore"] = new(s_nothing, rig => rig.Device.Restore(rig.Device.Save()), ["completed", "changed -1"]),
        ["Delayed injection"] = new(
            rig => rig.Device.Restore(rig.Device.Save() with { DelayedInjectionDeadlineNs = rig.Clock.NowNs + 10 }),
            rig => rig.Clock.Advance(10),
            ["deliver 0x35", "completed"]),
    };

    public static TheoryData<string> Operations => [.. s_cases.Keys];

    [Theory]
    [MemberData(nameof(Operations))]
    public void Every_operation_ends_with_deliveries_completed_after_its_deliveries_and_outside_the_lock(string operation)
    {
        var rig = Prepared();
        var (arrange, act, expected) = s_cases[operation];
        arrange(rig);
        rig.Sink.Calls.Clear();
        bool lockFree = true;
        rig.Sink.OnDeliveriesCompleted = () =>
        {
            // Another thread can take the IOAPIC's lock: the embedder may block on a vCPU that is itself
            // calling into the IOAPIC (a kick, an EOI exit) without deadlocking.
            var other = new Thread(() => rig.Device.GetLine(0));
            other.Start();
            lockFree &= other.Join(TimeSpan.FromSeconds(30));
        };

        act(rig);

        Assert.Equal(expected, rig.Sink.Calls);
        Assert.True(lockFree);
    }
}
