// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Devices;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using IoApicDevice = VirtualApic.Devices.IoApic;

namespace VirtualApic.Tests.Devices;

public class IoApicStateTests
{
    /// <summary>An IOAPIC with something in every field of its state.</summary>
    private static IoApicRig Busy(IoApicVersion version = IoApicVersion.Version11)
    {
        var rig = new IoApicRig(version);
        rig.GuestWrite(IoApicDevice.IdIndex, 0x0900_0000);
        rig.Route(1, 0x41, TriggerMode.Edge, destination: 1);
        rig.Route(2, 0x42, TriggerMode.Level, destination: 2, destinationMode: DestinationMode.Logical);
        rig.Route(3, 0x43, TriggerMode.Level, masked: true, activeLow: true);
        rig.Route(4, 0x44, TriggerMode.Level);
        rig.Device.WriteRegister(0x11 + (2 * 5), 0x07AB_0000); // bits 55:48 too
        rig.Device.SetLine(1, true); // edge delivered, line still high
        rig.Device.SetLine(2, true); // level in service
        rig.Device.SetLine(3, true); // masked, held
        for (int i = 0; i < IoApicDevice.StormThreshold + 3; i++)
        {
            rig.Eoi(0x42); // storm on pin 2: delayed injection pending, counter 3
        }

        rig.Sink.Result = 0;
        rig.Device.SetLine(4, true); // level nobody accepted: Remote IRR clear, line high
        rig.Sink.Result = 1;
        rig.Device.MmioWrite(IoApicDevice.RegisterSelectOffset, 0x15, 4);
        return rig;
    }

    [Fact]
    public void Save_captures_every_field()
    {
        var rig = Busy();
        var state = rig.Device.Save();
        Assert.Equal(IoApicVersion.Version11, state.Version);
        Assert.Equal(9, state.Id);
        Assert.Equal(0x15, state.IoRegSel);
        Assert.Equal(IoApicDevice.PinCount, state.Entries.Length);
        Assert.Equal(0b1_1110u, state.Lines);
        Assert.Equal(0b10u, state.IrrDelivered);
        Assert.Equal(0b1_1100u, state.KvmIrr);
        Assert.Equal(3u, state.EoiCounters[2]);
        Assert.Equal(IoApicDevice.StormDelayNs, state.DelayedInjectionDeadlineNs);
        Assert.True(new RedirectionEntry(state.Entries[2]).RemoteIrr);
        Assert.Equal(0x07AB_0000_0001_0000ul, state.Entries[5]);
    }

    [Fact]
    public void Irr_delivered_marks_an_edge_until_the_next_rising_edge_as_kvm_reports_it()
    {
        var rig = new IoApicRig();
        rig.Route(1, 0x41);
        rig.Device.SetLine(1, true);
        Assert.Equal(0b10u, rig.Device.Save().IrrDelivered);
        Assert.Equal(0u, rig.Device.Save().KvmIrr); // delivered: KVM would not re-inject it

        rig.Device.SetLine(1, false);
        Assert.Equal(0b10u, rig.Device.Save().IrrDelivered); // a deassert leaves it

        rig.Route(1, 0x41, masked: true);
        rig.Device.SetLine(1, true); // a new edge, lost to the mask
        var state = rig.Device.Save();
        Assert.Equal(0u, state.IrrDelivered);
        Assert.Equal(0b10u, state.KvmIrr);
    }

    [Fact]
    public void Restore_then_save_round_trips_and_the_restored_ioapic_behaves_the_same()
    {
        var original = Busy();
        var state = original.Device.Save();
        var copy = new IoApicRig();
        copy.Device.Restore(state);
        Assert.Equal(state, copy.Device.Save());
        Assert.Equal(state.GetHashCode(), copy.Device.Save().GetHashCode());
        Assert.Empty(copy.Messages); // nothing is re-injected, not even pin 4's undelivered level
        Assert.Equal([-1], copy.Sink.TableChanges);

        foreach (var rig in new[] { original, copy })
        {
            rig.Messages.Clear();
            rig.Device.SetLine(1, true); // coalesced in both
            rig.Eoi(0x42);
            rig.Clock.Advance(IoApicDevice.StormDelayNs);
            rig.Route(3, 0x43, TriggerMode.Level);
        }

        Assert.Equal(original.Messages, copy.Messages);
        Assert.NotEmpty(copy.Messages);
        Assert.Equal(original.Device.Save(), copy.Device.Save());
    }

    [Fact]
    public void A_restored_delayed_injection_fires_at_its_saved_deadline()
    {
        var state = Busy().Device.Save();
        var copy = new IoApicRig();
        copy.Clock.SetTime(4_000_000);
        copy.Device.Restore(state);
        Assert.True(copy.Device.IsDelayedInjectionPending);
        copy.Clock.Advance(5_999_999);
        Assert.Empty(copy.Messages);
        copy.Clock.Advance(1);

        // The injection retries every asserted level pin with Remote IRR clear: pin 4, whose earlier
        // delivery nobody accepted (pin 2 is in service again, pin 3 masked).
        Assert.Equal((byte)0x44, Assert.Single(copy.Messages).Vector);
    }

    [Fact]
    public void Restoring_a_state_without_a_pending_injection_cancels_one()
    {
        var rig = Busy();
        var quiet = new IoApicRig().Device.Save();
        rig.Device.Restore(quiet);
        Assert.False(rig.Device.IsDelayedInjectionPending);
        rig.Messages.Clear();
        rig.Clock.Advance(IoApicDevice.StormDelayNs);
        Assert.Empty(rig.Messages);
    }

    [Fact]
    public void Reset_masks_every_entry_and_clears_the_rest()
    {
        var rig = Busy();
        rig.Device.Reset();
        var state = rig.Device.Save();
        Assert.Equal(new IoApicRig().Device.Save(), state);
        Assert.All(state.Entries, e => Assert.Equal(RedirectionEntry.ResetValue, e));
        Assert.Equal(-1, rig.Sink.TableChanges[^1]);
        rig.Messages.Clear();
        rig.Clock.Advance(IoApicDevice.StormDelayNs);
        Assert.Empty(rig.Messages);
    }

    public static TheoryData<string> MalformedFields =>
    [
        "Version", "Id", "Entries (default)", "Entries (length)", "Entries (delivery status)",
        "Entries (edge remote irr)", "Lines", "IrrDelivered", "EoiCounters (default)",
        "EoiCounters (length)", "EoiCounters (value)", "DelayedInjectionDeadlineNs",
    ];

    private static IoApicState Break(IoApicState s, string field) => field switch
    {
        "Version" => s with { Version = IoApicVersion.Version20 },
        "Id" => s with { Id = 16 },
        "Entries (default)" => s with { Entries = default },
        "Entries (length)" => s with { Entries = s.Entries.RemoveAt(23) },
        "Entries (delivery status)" => s with { Entries = s.Entries.SetItem(7, s.Entries[7] | RedirectionEntry.DeliveryStatusBit) },
        "Entries (edge remote irr)" => s with { Entries = s.Entries.SetItem(1, s.Entries[1] | RedirectionEntry.RemoteIrrBit) },
        "Lines" => s with { Lines = s.Lines | (1u << 24) },
        "IrrDelivered" => s with { IrrDelivered = 1u << 31 },
        "EoiCounters (default)" => s with { EoiCounters = default },
        "EoiCounters (length)" => s with { EoiCounters = s.EoiCounters.Add(0) },
        "EoiCounters (value)" => s with { EoiCounters = s.EoiCounters.SetItem(2, IoApicDevice.StormThreshold) },
        "DelayedInjectionDeadlineNs" => s with { DelayedInjectionDeadlineNs = -1 },
        _ => throw new ArgumentOutOfRangeException(nameof(field)),
    };

    [Theory]
    [MemberData(nameof(MalformedFields))]
    public void A_malformed_state_is_rejected_naming_the_field_and_changes_nothing(string field)
    {
        var good = Busy().Device.Save();
        var target = new IoApicRig();
        target.Route(6, 0x66, TriggerMode.Level);
        var before = target.Device.Save();
        target.Sink.TableChanges.Clear();

        var error = Assert.Throws<ArgumentException>(() => target.Device.Restore(Break(good, field)));

        Assert.Equal("state", error.ParamName);
        Assert.Contains("IoApicState." + field.Split(' ')[0], error.Message, StringComparison.Ordinal);
        Assert.Equal(before, target.Device.Save());
        Assert.Empty(target.Sink.TableChanges);
        Assert.False(target.Device.IsDelayedInjectionPending);
    }

    public static TheoryData<string> FieldsAtTheirLimit => ["Id", "Lines", "IrrDelivered", "DelayedInjectionDeadlineNs"];

    [Theory]
    [MemberData(nameof(FieldsAtTheirLimit))]
    public void A_field_at_the_edge_of_its_range_is_accepted_and_round_trips(string field)
    {
        var rig = new IoApicRig();
        var fresh = rig.Device.Save();
        var state = field switch
        {
            "Id" => fresh with { Id = 15 },
            "Lines" => fresh with { Lines = 0x00FF_FFFF }, // all 24 pins
            "IrrDelivered" => fresh with { IrrDelivered = 0x00FF_FFFF },
            "DelayedInjectionDeadlineNs" => fresh with { DelayedInjectionDeadlineNs = 0 }, // due at time zero
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };

        rig.Device.Restore(state);

        Assert.Equal(state, rig.Device.Save());
    }

    public static TheoryData<string, string> MalformedValues => new()
    {
        { "Id", "IoApicState.Id must be 0..15 (a 4-bit ID); got 16." },
        { "Entries (default)", "got none." },
        { "Entries (length)", "must hold 24 entries; got 23." },
        { "Lines", "IoApicState.Lines has bits above pin 23: 0x1000000." },
        { "IrrDelivered", "IoApicState.IrrDelivered has bits above pin 23: 0x1000000." },
        { "EoiCounters (default)", "got none." },
        { "EoiCounters (length)", "must hold 24 counters; got 25." },
        { "DelayedInjectionDeadlineNs", "must not be negative; got -1." },
    };

    [Theory]
    [MemberData(nameof(MalformedValues))]
    public void A_malformed_state_is_rejected_just_past_the_limit_quoting_the_value(string field, string quoted)
    {
        var fresh = new IoApicRig().Device.Save();
        var state = field switch
        {
            "Id" => fresh with { Id = 16 },
            "Entries (default)" => fresh with { Entries = default },
            "Entries (length)" => fresh with { Entries = fresh.Entries.RemoveAt(23) },
            "Lines" => fresh with { Lines = 1u << 24 }, // pin 24, one past the last
            "IrrDelivered" => fresh with { IrrDelivered = 1u << 24 },
            "EoiCounters (default)" => fresh with { EoiCounters = default },
            "EoiCounters (length)" => fresh with { EoiCounters = fresh.EoiCounters.Add(0) },
            "DelayedInjectionDeadlineNs" => fresh with { DelayedInjectionDeadlineNs = -1 },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };

        var error = Assert.Throws<ArgumentException>(() => new IoApicRig().Device.Restore(state));

        Assert.Contains("IoApicState." + field.Split(' ')[0], error.Message, StringComparison.Ordinal);
        Assert.Contains(quoted, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_null_state_is_rejected()
    {
        var rig = new IoApicRig();
        Assert.Throws<ArgumentNullException>(() => rig.Device.Restore(null!));
    }

    [Fact]
    public void State_equality_compares_array_contents()
    {
        var a = new IoApicRig().Device.Save();
        var b = a with { Entries = [.. a.Entries], EoiCounters = [.. a.EoiCounters] };
        Assert.Equal(a, b);
        Assert.NotEqual(a, b with { Entries = b.Entries.SetItem(0, 0) });
        Assert.NotEqual(a, b with { Entries = default });
        Assert.NotEqual(a, b with { DelayedInjectionDeadlineNs = 5 });
    }

    public static TheoryData<string> StateFields =>
    [
        "Version", "Id", "IoRegSel", "Entries", "Lines", "IrrDelivered", "EoiCounters",
        "DelayedInjectionDeadlineNs", "DelayedInjectionDeadlineNs (none)",
    ];

    [Theory]
    [MemberData(nameof(StateFields))]
    public void States_differing_in_one_field_are_not_equal(string field)
    {
        var a = Busy().Device.Save();
        var b = field switch
        {
            "Version" => a with { Version = IoApicVersion.Version20 },
            "Id" => a with { Id = 1 },
            "IoRegSel" => a with { IoRegSel = 1 },
            "Entries" => a with { Entries = a.Entries.SetItem(23, 0) },
            "Lines" => a with { Lines = a.Lines ^ 1 },
            "IrrDelivered" => a with { IrrDelivered = a.IrrDelivered ^ 1 },
            "EoiCounters" => a with { EoiCounters = a.EoiCounters.SetItem(23, 1) },
            "DelayedInjectionDeadlineNs" => a with { DelayedInjectionDeadlineNs = a.DelayedInjectionDeadlineNs + 1 },
            "DelayedInjectionDeadlineNs (none)" => a with { DelayedInjectionDeadlineNs = null },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };

        Assert.False(a.Equals(b));
        Assert.False(b.Equals(a));
        Assert.False(a == b);
        Assert.True(a.Equals(a with { }));
    }

    [Fact]
    public void A_state_does_not_equal_null()
    {
        var a = new IoApicRig().Device.Save();
        Assert.False(a.Equals(null));
        Assert.False(a.Equals((object?)null));
        Assert.False(a == null);
    }

    [Fact]
    public void A_missing_array_equals_only_a_missing_array_not_an_empty_one()
    {
        var a = new IoApicRig().Device.Save();
        var noEntries = a with { Entries = default };
        var noCounters = a with { EoiCounters = default };

        Assert.NotEqual(noEntries, a with { Entries = [] });
        Assert.NotEqual(a with { Entries = [] }, noEntries);
        Assert.NotEqual(noCounters, a with { EoiCounters = [] });
        Assert.Equal(noEntries, a with { Entries = default });
        Assert.Equal(noCounters, a with { EoiCounters = default });
        Assert.Equal(a with { Entries = [] }, a with { Entries = [] });

        // Equal states hash equally, missing arrays included.
        Assert.Equal(noEntries.GetHashCode(), (a with { Entries = default }).GetHashCode());
        Assert.Equal(noCounters.GetHashCode(), (a with { EoiCounters = default }).GetHashCode());
    }

    [Fact]
    public void State_prints_every_field_with_the_deadline_or_none()
    {
        var fresh = new IoApicRig().Device.Save() with { Id = 3, IoRegSel = 0x12, Lines = 0x20, IrrDelivered = 0x4 };
        string entries = string.Join(", ", Enumerable.Repeat("0x10000", IoApicDevice.PinCount));
        string counters = string.Join(", ", Enumerable.Repeat("0x0", IoApicDevice.PinCount));
        string fields = $"Version = 0x11, Id = 3, IoRegSel = 0x12, Entries = [{entries}], Lines = 0x000020, "
            + $"IrrDelivered = 0x000004, EoiCounters = [{counters}], DelayedInjectionDeadlineNs = ";

        Assert.Equal("IoApicState { " + fields + "none }", fresh.ToString());
        Assert.Equal("IoApicState { " + fields + "12345 }", (fresh with { DelayedInjectionDeadlineNs = 12345 }).ToString());
    }

    [Fact]
    public void State_prints_its_arrays_in_hex()
    {
        string text = new IoApicRig().Device.Save().ToString();
        Assert.Contains("Entries = [0x10000, 0x10000,", text, StringComparison.Ordinal);
        Assert.Contains("EoiCounters = [0x0, 0x0,", text, StringComparison.Ordinal);
        Assert.Contains("DelayedInjectionDeadlineNs = none", text, StringComparison.Ordinal);
        Assert.Contains("default", (new IoApicRig().Device.Save() with { Entries = default }).ToString(), StringComparison.Ordinal);
    }

    private enum Op
    {
        Assert,
        Deassert,
        Pulse,
        Eoi,
        WriteLow,
        WriteHigh,
        EoiRegister,
        Advance,
    }

    [Fact]
    public void Any_operation_sequence_keeps_the_invariants_and_round_trips()
    {
        var op = Gen.Select(Gen.Int[0, 7], Gen.Int[0, 3], Gen.UInt, (kind, pin, value) => ((Op)kind, pin, value));
        op.Array[0, 60].Sample(ops =>
        {
            var rig = new IoApicRig(IoApicVersion.Version20);
            foreach (var (kind, pin, value) in ops)
            {
                // Four pins and four vectors (0x40..0x43) so that EOIs and shared vectors actually meet.
                byte vector = (byte)(0x40 | (value & 3));
                switch (kind)
                {
                    case Op.Assert: rig.Device.SetLine(pin, true); break;
                    case Op.Deassert: rig.Device.SetLine(pin, false); break;
                    case Op.Pulse: rig.Device.Pulse(pin); break;
                    case Op.Eoi: rig.Device.OnLocalEoi(0, vector, (value & 4) != 0 ? TriggerMode.Level : TriggerMode.Edge, (value & 8) != 0); break;
                    case Op.WriteLow: rig.Device.WriteRegister(0x10 + (2 * (uint)pin), (value & 0xFFFF_FF00) | vector); break;
                    case Op.WriteHigh: rig.Device.WriteRegister(0x11 + (2 * (uint)pin), value); break;
                    case Op.EoiRegister: rig.Device.WriteEoiRegister(vector); break;
                    case Op.Advance: rig.Clock.Advance(value % 20_000_000); break;
                }

                for (int p = 0; p < IoApicDevice.PinCount; p++)
                {
                    var entry = rig.Device.GetEntry(p);
                    Assert.False(entry.DeliveryStatus);
                    Assert.False(entry.RemoteIrr && entry.TriggerMode == TriggerMode.Edge);
                }
            }

            var state = rig.Device.Save();
            var copy = new IoApicRig(IoApicVersion.Version20);
            copy.Device.Restore(state);
            Assert.Equal(state, copy.Device.Save());
        });
    }
}
