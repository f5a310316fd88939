// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Snapshot;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Snapshot;

/// <summary>Whole-vCPU save/restore and the binary format's validation.</summary>
public class VcpuSnapshotTests
{
    private const int Index = 3;

    private static ApicConfig Config(ApicProfile? profile = null) => new() { Profile = profile ?? ApicProfile.Kvm, CmciSupported = true };

    private static Vcpu NewVcpu(VirtualClock clock, ApicConfig? config = null)
    {
        var vcpu = new Vcpu(Index, config ?? Config(), clock);
        vcpu.Apic.Host = new RecordingHost { Loopback = true };
        return vcpu;
    }

    private static void Send(Vcpu vcpu, DeliveryMode mode, byte vector = 0, TriggerMode trigger = TriggerMode.Edge) =>
        vcpu.Apic.AcceptInterrupt(new InterruptMessage(vector, mode, DestinationMode.Physical, 0, trigger, true, DestinationShorthand.None, InterruptSource.Ipi, 0));

    /// <summary>A vCPU with something in every corner of its interrupt state.</summary>
    private static Vcpu Busy(VirtualClock clock, string shape)
    {
        var vcpu = NewVcpu(clock);
        var apic = vcpu.Apic;
        Assert.True(vcpu.TryWriteMsr(ApicBase.Msr, shape == "x2apic" ? TestApic.X2ApicBase : TestApic.XApicBase | 0x1_0000_0000));
        Assert.True(apic.Write(ApicOffset.Svr, 0x1FF));
        Assert.True(apic.Write(ApicOffset.Tpr, 0x21));
        Assert.True(apic.Write(ApicOffset.LvtLint1, 0x400));
        Assert.True(apic.Write(ApicOffset.LvtError, 0xE9));
        Assert.True(apic.Write(ApicOffset.LvtCmci, 0x1_00E8));
        Assert.True(apic.Write(ApicOffset.Tdcr, 0x3));
        switch (shape)
        {
            case "deadline":
                Assert.True(apic.Write(ApicOffset.LvtTimer, 0x4_00EC));
                Assert.True(vcpu.TryWriteMsr(Vcpu.MsrTscDeadline, 5_000_000));
                break;
            case "oneshot":
                Assert.True(apic.Write(ApicOffset.LvtTimer, 0xEC));
                Assert.True(apic.Write(ApicOffset.Tmict, 70_000));
                break;
            default:
                Assert.True(apic.Write(ApicOffset.LvtTimer, 0x2_00EC));
                Assert.True(apic.Write(ApicOffset.Tmict, 20_000));
                break;
        }

        vcpu.Sti();
        apic.Raise(0x61, TriggerMode.Level);
        Assert.Equal(0x61, vcpu.Take().Vector);
        apic.Raise(0x45);
        apic.Raise(0x99, TriggerMode.Level);
        Send(vcpu, DeliveryMode.Nmi);
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
        Send(vcpu, DeliveryMode.Nmi);
        Send(vcpu, DeliveryMode.Smi);
        vcpu.SetLint(0, true);
        clock.Advance(333_333);
        return vcpu;
    }

    /// <summary>Everything the guest can observe, as one comparable string per item.</summary>
    private static List<string> Observe(Vcpu vcpu)
    {
        var apic = vcpu.Apic;
        var seen = new List<string> { $"base {apic.ApicBaseMsr:x}", $"mode {apic.Mode}", $"state {vcpu.State}", $"if {vcpu.InterruptFlag}" };
        seen.Add($"nmi {vcpu.NmiBlocked} {vcpu.NmiQueued} pending {vcpu.PendingEvents} sipi {vcpu.SipiVector}");
        seen.Add($"lint {vcpu.GetLint(0)} {vcpu.GetLint(1)} cr8 {vcpu.ReadCr8()}");
        vcpu.TryReadMsr(Vcpu.MsrTscDeadline, out ulong deadline);
        seen.Add($"deadline {deadline} timer {apic.Timer.Save()} div {apic.Timer.DivideCount}");
        for (int offset = 0; offset <= 0x3F0; offset += 0x10)
        {
            if (apic.IsX2Apic)
            {
                bool ok = vcpu.TryReadMsr(ApicOffset.ToMsr(offset), out ulong v);
                seen.Add($"msr {ApicOffset.ToMsr(offset):x} {ok} {v:x}");
            }
            else
            {
                seen.Add($"mmio {offset:x} {apic.MmioRead(offset, 4):x}");
            }
        }

        var events = vcpu.SaveEvents();
        seen.Add($"handlers {string.Join(',', events.HandlerStack)}");
        return seen;
    }

    /// <summary>Drives the vCPU through the same guest actions and records what it takes.</summary>
    private static List<string> Run(Vcpu vcpu, VirtualClock clock)
    {
        var log = new List<string>();
        for (int step = 0; step < 40; step++)
        {
            var e = vcpu.Take();
            log.Add($"{clock.NowNs}: {e}");
            if (e.Kind == GuestEventKind.Vector)
            {
                vcpu.Apic.EndOfInterrupt();
            }

            if (e.Kind != GuestEventKind.None)
            {
                vcpu.Iret();
            }
            else
            {
                clock.Advance(50_000);
            }
        }

        return log;
    }

    [Theory]
    [InlineData("xapic")]
    [InlineData("x2apic")]
    [InlineData("deadline")]
    [InlineData("oneshot")]
    public void Restore_gives_an_identical_vcpu(string shape)
    {
        var clock = new VirtualClock();
        var source = Busy(clock, shape);
        var snapshot = VcpuSnapshot.Capture(source);

        var clock2 = new VirtualClock();
        clock2.SetTime(clock.NowNs);
        var target = NewVcpu(clock2);
        snapshot.Restore(target);

        Assert.Equal(Observe(source), Observe(target));
        Assert.Equal(Run(source, clock), Run(target, clock2));
        Assert.Equal(Observe(source), Observe(target));
    }

    [Theory]
    [InlineData("xapic")]
    [InlineData("x2apic")]
    [InlineData("deadline")]
    public void Serialize_then_deserialize_round_trips(string shape)
    {
        var snapshot = VcpuSnapshot.Capture(Busy(new VirtualClock(), shape));

        byte[] bytes = snapshot.Serialize();
        var back = VcpuSnapshot.Deserialize(bytes);

        Assert.Equal(snapshot.Index, back.Index);
        Assert.Equal(snapshot.ApicBase, back.ApicBase);
        Assert.Equal(snapshot.LapicImage, back.LapicImage);
        Assert.Equal(snapshot.Timer, back.Timer);
        Assert.Equal(snapshot.Events with { HandlerStack = [] }, back.Events with { HandlerStack = [] });
        Assert.Equal(snapshot.Events.HandlerStack, back.Events.HandlerStack);
        Assert.Equal(bytes, back.Serialize());
    }

    [Fact]
    public void A_deserialized_snapshot_restores_like_the_original()
    {
        var clock = new VirtualClock();
        var source = Busy(clock, "x2apic");
        byte[] bytes = VcpuSnapshot.Capture(source).Serialize();

        var clock2 = new VirtualClock();
        clock2.SetTime(clock.NowNs);
        var target = NewVcpu(clock2);
        VcpuSnapshot.Deserialize(bytes).Restore(target);

        Assert.Equal(Observe(source), Observe(target));
    }

    // ------------------------------------------------------------------ malformed input

    /// <summary>The binary layout: field name, start offset and length (the handler list follows).</summary>
    private static List<(string Field, int Start, int Length)> Layout(int handlers)
    {
        var fields = new List<(string, int, int)>();
        int at = 0;
        void Add(string name, int length)
        {
            fields.Add((name, at, length));
            at += length;
        }

        Add("magic", 8);
        Add("version", 2);
        Add("reserved", 2);
        Add("index", 4);
        Add("apic_base", 8);
        Add("lapic_image", KvmLapicState.Size);
        Add("timer.mode", 1);
        Add("timer.armed", 1);
        Add("timer.period_ns", 8);
        Add("timer.target_ns", 8);
        Add("timer.tsc_deadline", 8);
        Add("events.state", 1);
        Add("events.flags", 1);
        Add("events.nmi_queued", 1);
        Add("events.pending", 1);
        Add("events.sipi_vector", 1);
        Add("events.reserved", 1);
        Add("esr.pending", 4);
        Add("pv_eoi.msr", 8);
        Add("pv_eoi.pending", 1);
        Add("lint.remote_irr", 1);
        Add("ioapic_scan.flags", 1);
        for (int i = 0; i < 4; i++)
        {
            Add("ioapic_scan.handled", 8);
        }

        Add("events.handler_count", 2);
        for (int i = 0; i < handlers; i++)
        {
            Add("events.handler", 1);
        }

        return fields;
    }

    private static byte[] ValidBytes() => VcpuSnapshot.Capture(Busy(new VirtualClock(), "x2apic")).Serialize();

    private static int Offset(string field) => Layout(0).First(f => f.Field == field).Start;

    // A refusal names the field (or the group of fields it checks together) and its offset, then says
    // what is wrong (not only where).
    private static void AssertNamesFieldAndProblem(SnapshotFormatException ex, string field)
    {
        Assert.True(ex.Message.Contains(field, StringComparison.Ordinal), $"\"{ex.Message}\" does not name {field}");
        var parts = Regex.Match(ex.Message, @"^vCPU snapshot: [a-z_.]+ \(offset (\d+)\): (.+)$", RegexOptions.Singleline);
        Assert.True(parts.Success, $"\"{ex.Message}\" is not \"vCPU snapshot: FIELD (offset N): PROBLEM\"");
        Assert.Equal(ex.Offset.ToString(CultureInfo.InvariantCulture), parts.Groups[1].Value);
        Assert.True(parts.Groups[2].Length > 3, $"\"{ex.Message}\" does not say what is wrong with {field}");
    }

    [Fact]
    public void The_layout_table_matches_the_writer()
    {
        var snapshot = VcpuSnapshot.Capture(Busy(new VirtualClock(), "x2apic"));
        var layout = Layout(snapshot.Events.HandlerStack.Count);
        Assert.Equal(layout[^1].Start + layout[^1].Length, snapshot.Serialize().Length);
    }

    [Fact]
    public void Every_truncation_is_rejected_naming_the_field_it_cuts()
    {
        byte[] bytes = ValidBytes();
        var layout = Layout(VcpuSnapshot.Deserialize(bytes).Events.HandlerStack.Count);
        for (int length = 0; length < bytes.Length; length++)
        {
            var field = layout.First(f => length < f.Start + f.Length);
            var ex = Assert.Throws<SnapshotFormatException>(() => VcpuSnapshot.Deserialize(bytes.AsSpan(0, length)));
            Assert.True(ex.Message.Contains(field.Field, StringComparison.Ordinal), $"length {length}: \"{ex.Message}\" does not name {field.Field}");
            Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
            Assert.Contains($"need {field.Length} bytes, have {length - field.Start}", ex.Message, StringComparison.Ordinal);
            Assert.Equal(field.Start, ex.Offset);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void Trailing_bytes_are_rejected(int extra)
    {
        byte[] bytes = ValidBytes();
        var ex = Assert.Throws<SnapshotFormatException>(() => VcpuSnapshot.Deserialize([.. bytes, .. new byte[extra]]));
        AssertNamesFieldAndProblem(ex, "end");
        Assert.Contains($"{extra} trailing bytes", ex.Message, StringComparison.Ordinal);
        Assert.Equal(bytes.Length, ex.Offset);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(7)]
    public void A_bad_magic_is_rejected(int at)
    {
        byte[] bytes = ValidBytes();
        bytes[at] ^= 0x20;
        var ex = Assert.Throws<SnapshotFormatException>(() => VcpuSnapshot.Deserialize(bytes));
        AssertNamesFieldAndProblem(ex, "magic");
        Assert.Equal(0, ex.Offset);
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)(VcpuSnapshot.FormatVersion + 1))]
    [InlineData(ushort.MaxValue)]
    public void An_unknown_version_is_rejected(ushort version)
    {
        byte[] bytes = ValidBytes();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), version);
        var ex = Assert.Throws<SnapshotFormatException>(() => VcpuSnapshot.Deserialize(bytes));
        AssertNamesFieldAndProblem(ex, "version");
        Assert.Contains($"version {version}", ex.Message, StringComparison.Ordinal);
        Assert.Equal(8, ex.Offset);
    }

    /// <summary>One byte (or a little-endian value) out of range, and the field the error must name.</summary>
    public static TheoryData<string, long, int> OutOfRange() => new()
    {
        { "reserved", 1, 2 },
        { "index", -1, 4 },
        { "index", int.MinValue, 4 },
        { "timer.mode", 4, 1 },
        { "timer.mode", 0xFF, 1 },
        { "timer.armed", 2, 1 },
        { "timer.period_ns", -1, 8 },
        { "timer.target_ns", long.MinValue, 8 },
        { "events.state", 3, 1 },
        { "events.flags", 0x10, 1 },
        { "events.flags", 0x80, 1 },
        { "events.nmi_queued", 3, 1 },
        { "events.pending", (long)PendingEvents.Nmi, 1 },
        { "events.pending", (long)PendingEvents.ExtInt, 1 },
        { "events.pending", 0x80, 1 },
        { "events.reserved", 1, 1 },
        { "events.reserved", 0x80, 1 },
        { "esr.pending", 0x10, 4 },       // ESR bit 4 is reserved
        { "esr.pending", 0x100, 4 },
        { "pv_eoi.msr", 2, 8 },
        { "pv_eoi.msr", 0x1003, 8 },
        { "pv_eoi.pending", 2, 1 },
        { "lint.remote_irr", 4, 1 },
        { "lint.remote_irr", 0xFF, 1 },
        { "ioapic_scan.flags", 2, 1 },    // a rescan owed without the set
        { "ioapic_scan.flags", 4, 1 },
        { "ioapic_scan.flags", 0xFF, 1 },
    };

    [Theory]
    [InlineData("timer.mode", 3)]
    [InlineData("events.state", (long)VcpuRunState.WaitForSipi)]
    [InlineData("events.nmi_queued", 2)]
    public void The_largest_value_of_a_bounded_field_is_read(string field, long value)
    {
        // The other side of OutOfRange: a range check one too tight refuses a snapshot a VMM wrote.
        byte[] bytes = ValidBytes();
        bytes[Offset(field)] = (byte)value;

        var back = VcpuSnapshot.Deserialize(bytes);

        Assert.Equal(value, field switch
        {
            "timer.mode" => (long)back.Timer.Mode,
            "events.state" => (long)back.Events.State,
            _ => back.Events.NmiQueued,
        });
    }

    [Fact]
    public void Two_queued_nmis_restore()
    {
        // KVM's limit (process_nmi): one injecting and one latched.
        var source = NewVcpu(new VirtualClock());
        Send(source, DeliveryMode.Nmi);
        Send(source, DeliveryMode.Nmi);
        var saved = VcpuSnapshot.Capture(source);
        Assert.Equal(2, saved.Events.NmiQueued);

        var target = NewVcpu(new VirtualClock());
        saved.Restore(target);

        Assert.Equal(2, target.NmiQueued);
    }

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void An_out_of_range_field_is_rejected_by_name(string field, long value, int size)
    {
        byte[] bytes = ValidBytes();
        int at = Offset(field);
        switch (size)
        {
            case 1: bytes[at] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), (ushort)value); break;
            case 4: BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), (int)value); break;
            default: BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), value); break;
        }

        var ex = Assert.Throws<SnapshotFormatException>(() => VcpuSnapshot.Deserialize(bytes));

        AssertNamesFieldAndProblem(ex, field);
        Assert.Equal(at, ex.Offset);
    }

    [Theory]
    [InlineData((byte)GuestEventKind.None)]
    [InlineData((byte)GuestEventKind.ExtInt)]
    [InlineData((byte)GuestEventKind.Smi)]
    [InlineData((byte)99)]
    public void A_handler_of_an_unknown_kind_is_rejected(byte kind)
    {
        byte[] bytes = ValidBytes();
        int count = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(Offset("events.handler_count")));
        Assert.True(count > 0);
        bytes[^1] = kind;
        var ex = Assert.Throws<SnapshotFormatException>(() => VcpuSnapshot.Deserialize(bytes));
        AssertNamesFieldAndProblem(ex, "events.handler");
        Assert.Equal(bytes.Length - 1, ex.Offset);
    }

    [Fact]
    public void A_version_1_snapshot_without_the_esr_and_pv_eoi_fields_is_still_read()
    {
        byte[] v3 = V4Bytes();
        int esr = Offset("esr.pending");
        byte[] v1 = [.. v3.AsSpan(0, esr), .. v3.AsSpan(esr + 4 + 9 + 1)];
        BinaryPrimitives.WriteUInt16LittleEndian(v1.AsSpan(8), 1);

        var snapshot = VcpuSnapshot.Deserialize(v1);

        Assert.Equal(0u, snapshot.EsrPending);
        Assert.Equal(0, snapshot.LintRemoteIrr);
        Assert.Equal(VcpuSnapshot.Deserialize(v3).Events.HandlerStack, snapshot.Events.HandlerStack);
    }

    [Fact]
    public void A_version_2_snapshot_without_the_pv_eoi_fields_is_still_read_with_pv_eoi_off()
    {
        byte[] v3 = V4Bytes();
        int pv = Offset("pv_eoi.msr");
        BinaryPrimitives.WriteUInt64LittleEndian(v3.AsSpan(pv), 0x2001);   // would be enabled in v3
        byte[] v2 = [.. v3.AsSpan(0, pv), .. v3.AsSpan(pv + 9 + 1)];
        BinaryPrimitives.WriteUInt16LittleEndian(v2.AsSpan(8), 2);

        var snapshot = VcpuSnapshot.Deserialize(v2);

        Assert.Equal(0ul, snapshot.PvEoiMsr);
        Assert.False(snapshot.PvEoiPending);
        Assert.Equal(VcpuSnapshot.Deserialize(ValidBytes()).Events.HandlerStack, snapshot.Events.HandlerStack);
        Assert.Equal(0, snapshot.LintRemoteIrr);
    }

    [Fact]
    public void A_version_3_snapshot_without_the_lint_remote_irr_is_still_read()
    {
        byte[] v4 = V4Bytes();
        int lint = Offset("lint.remote_irr");
        byte[] v3 = [.. v4.AsSpan(0, lint), .. v4.AsSpan(lint + 1)];
        BinaryPrimitives.WriteUInt16LittleEndian(v3.AsSpan(8), 3);

        var snapshot = VcpuSnapshot.Deserialize(v3);

        Assert.Equal(0, snapshot.LintRemoteIrr);
        Assert.Equal(VcpuSnapshot.Deserialize(v4).EsrPending, snapshot.EsrPending);
        Assert.Equal(VcpuSnapshot.Deserialize(v4).Events.HandlerStack, snapshot.Events.HandlerStack);
    }

    // The valid bytes as format 4 wrote them: no IOAPIC-handled set.
    private static byte[] V4Bytes()
    {
        byte[] v5 = ValidBytes();
        int scan = Offset("ioapic_scan.flags");
        byte[] v4 = [.. v5.AsSpan(0, scan), .. v5.AsSpan(scan + 1 + 32)];
        BinaryPrimitives.WriteUInt16LittleEndian(v4.AsSpan(8), 4);
        return v4;
    }

    [Fact]
    public void A_version_4_snapshot_without_the_ioapic_handled_set_is_still_read_without_one()
    {
        byte[] v5 = ValidBytes();

        var snapshot = VcpuSnapshot.Deserialize(V4Bytes());

        Assert.True(snapshot.IoApicHandledVectors.IsDefault);
        Assert.False(snapshot.IoApicScanOwed);
        Assert.False(VcpuSnapshot.Deserialize(v5).IoApicHandledVectors.IsDefault);
        Assert.Equal(VcpuSnapshot.Deserialize(v5).Events.HandlerStack, snapshot.Events.HandlerStack);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_ioapic_handled_set_and_an_owed_rescan_survive_the_binary_format(bool owed)
    {
        var vcpu = Busy(new VirtualClock(), "x2apic");
        vcpu.Apic.SetIoApicHandled(0x46, true);
        vcpu.Apic.SetIoApicHandled(0xFF, true);
        if (owed)
        {
            vcpu.Apic.RequestIoApicScan();
        }

        var copy = VcpuSnapshot.Deserialize(VcpuSnapshot.Capture(vcpu).Serialize());

        Assert.Equal([0ul, 1ul << 6, 0ul, 1ul << 63], copy.IoApicHandledVectors);
        Assert.Equal(owed, copy.IoApicScanOwed);

        var target = NewVcpu(new VirtualClock());
        target.Apic.SetIoApicHandled(0x31, true);
        target.Apic.RequestIoApicScan();
        copy.Restore(target);
        Assert.True(target.Apic.IsIoApicHandled(0x46));
        Assert.False(target.Apic.IsIoApicHandled(0x31));
        Assert.Equal(owed, target.Apic.IoApicScanRequested);
    }

    [Fact]
    public void A_snapshot_without_the_ioapic_handled_set_is_written_without_one()
    {
        // A format-4 snapshot carries no set; writing it again must not claim one: a carried set of
        // zeros would stand in for the rescan its restore owes, and no EOI would reach the IOAPIC.
        var old = VcpuSnapshot.Deserialize(V4Bytes());

        byte[] written = old.Serialize();

        Assert.Equal(0, written[Offset("ioapic_scan.flags")]);
        Assert.True(VcpuSnapshot.Deserialize(written).IoApicHandledVectors.IsDefault);
    }

    [Fact]
    public void Handled_vectors_are_rejected_when_the_flags_say_the_set_is_not_carried()
    {
        byte[] bytes = ValidBytes();
        int flags = Offset("ioapic_scan.flags");
        bytes[flags] = 0;
        Assert.True(VcpuSnapshot.Deserialize(bytes).IoApicHandledVectors.IsDefault);
        bytes[flags + 1 + 8 + 3] = 0x10;

        var ex = Assert.Throws<SnapshotFormatException>(() => VcpuSnapshot.Deserialize(bytes));

        AssertNamesFieldAndProblem(ex, "ioapic_scan.handled");
        Assert.Equal(flags + 1, ex.Offset);
    }

    [Fact]
    public void A_set_of_the_wrong_size_or_a_rescan_owed_without_one_is_rejected_at_restore()
    {
        var good = VcpuSnapshot.Capture(Busy(new VirtualClock(), "x2apic"));
        var vcpu = NewVcpu(new VirtualClock());

        var ex = Assert.Throws<SnapshotFormatException>(() => (good with { IoApicHandledVectors = [1ul, 2ul] }).Restore(vcpu));
        Assert.Contains("ioapic_scan.handled has 2 words", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<SnapshotFormatException>(() => (good with { IoApicHandledVectors = default, IoApicScanOwed = true }).Restore(vcpu));
        Assert.Contains("ioapic_scan.owed", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void A_level_lint_remote_irr_survives_a_snapshot_under_the_architectural_profile(int pin)
    {
        // SDM 11.5.1: a level-triggered fixed LINT delivery sets the LVT's remote IRR until the EOI;
        // while it is set, the asserted line is not delivered again, and a guest LVT write keeps it.
        var config = new ApicConfig { Profile = ApicProfile.Architectural };
        int lvt = pin == 0 ? ApicOffset.LvtLint0 : ApicOffset.LvtLint1;
        using var vcpu = new Vcpu(0, config, new VirtualClock());
        vcpu.MmioWrite(0xFEE0_00F0, 0x1FF, 4);
        vcpu.MmioWrite(0xFEE0_0000 + (ulong)lvt, Lvt.LevelBit | 0x31, 4);
        vcpu.Sti();
        vcpu.SetLint(pin, true);
        Assert.Equal(0x31, vcpu.Take().Vector);
        byte[] bytes = VcpuSnapshot.Capture(vcpu).Serialize();
        Assert.Equal(1 << pin, VcpuSnapshot.Deserialize(bytes).LintRemoteIrr);

        using var copy = new Vcpu(0, config, new VirtualClock());
        VcpuSnapshot.Deserialize(bytes).Restore(copy);
        copy.MmioWrite(0xFEE0_0000 + (ulong)lvt, Lvt.LevelBit | 0x31, 4); // the guest rewrites the LVT
        Assert.Equal(Lvt.LevelBit | Lvt.RemoteIrrBit | 0x31ul, copy.MmioRead(0xFEE0_0000 + (ulong)lvt, 4));
        copy.SetLint(pin, true); // still asserted: held off until the EOI
        Assert.False(copy.Apic.IrrHas(0x31));

        copy.MmioWrite(0xFEE0_00B0, 0, 4); // EOI of the in-service 0x31 clears it
        Assert.Equal(Lvt.LevelBit | 0x31ul, copy.MmioRead(0xFEE0_0000 + (ulong)lvt, 4));
    }

    [Fact]
    public void A_restore_does_not_keep_the_remote_irr_of_the_state_it_replaces()
    {
        var config = new ApicConfig { Profile = ApicProfile.Architectural };
        using var idle = new Vcpu(0, config, new VirtualClock());
        idle.MmioWrite(0xFEE0_00F0, 0x1FF, 4);
        idle.MmioWrite(0xFEE0_0350, Lvt.LevelBit | 0x31, 4);
        var clean = VcpuSnapshot.Capture(idle);

        using var busy = new Vcpu(0, config, new VirtualClock());
        busy.MmioWrite(0xFEE0_00F0, 0x1FF, 4);
        busy.MmioWrite(0xFEE0_0350, Lvt.LevelBit | 0x31, 4);
        busy.SetLint(0, false);
        busy.Sti();
        busy.SetLint(0, true);
        Assert.Equal(0x31, busy.Take().Vector);

        clean.Restore(busy);
        busy.MmioWrite(0xFEE0_0350, Lvt.LevelBit | 0x31, 4); // a guest LVT write keeps only a real remote IRR
        Assert.Equal(Lvt.LevelBit | 0x31ul, busy.MmioRead(0xFEE0_0350, 4));
    }

    [Fact]
    public void A_lint_remote_irr_is_rejected_where_it_cannot_exist()
    {
        var config = new ApicConfig { Profile = ApicProfile.Architectural };
        using var vcpu = new Vcpu(0, config, new VirtualClock());
        var good = VcpuSnapshot.Capture(vcpu);

        var ex = Assert.Throws<SnapshotFormatException>(() => (good with { LintRemoteIrr = 4 }).Restore(vcpu));
        Assert.Contains("lint.remote_irr", ex.Message, StringComparison.Ordinal);

        using var kvm = new Vcpu(0, new ApicConfig { Profile = ApicProfile.Kvm }, new VirtualClock());
        ex = Assert.Throws<SnapshotFormatException>(() => (VcpuSnapshot.Capture(kvm) with { LintRemoteIrr = 1 }).Restore(kvm));
        Assert.Contains("lint.remote_irr", ex.Message, StringComparison.Ordinal);
        Assert.Contains("kvm", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unlatched_esr_errors_survive_a_snapshot_under_the_architectural_profile()
    {
        var config = new ApicConfig { Profile = VirtualApic.Profiles.ApicProfile.Architectural };
        using var vcpu = new Vcpu(0, config, new VirtualClock());
        vcpu.MmioWrite(0xFEE0_00F0, 0x1FF, 4);
        vcpu.MmioWrite(0xFEE0_0040, 1, 4);              // a reserved offset: illegal register address
        byte[] bytes = VcpuSnapshot.Capture(vcpu).Serialize();

        using var copy = new Vcpu(0, config, new VirtualClock());
        VcpuSnapshot.Deserialize(bytes).Restore(copy);
        copy.MmioWrite(0xFEE0_0280, 0, 4);              // latch
        Assert.Equal(0x80ul, copy.MmioRead(0xFEE0_0280, 4));
    }

    [Fact]
    public void A_handler_count_beyond_the_data_is_a_truncation()
    {
        byte[] bytes = ValidBytes();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(Offset("events.handler_count")), 500);
        var ex = Assert.Throws<SnapshotFormatException>(() => VcpuSnapshot.Deserialize(bytes));
        Assert.Contains("events.handler", ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ restore validation

    /// <summary>How a snapshot is spoiled, and what the refusal must name (the first check that fails, not a later one that happens to catch it too).</summary>
    public static TheoryData<string, string> BadSnapshots() => new()
    {
        { "index", "snapshot of vCPU 4 cannot be restored onto vCPU 3" },
        { "invalid-mode", "has reserved bits or EN=0/EXTD=1" },
        { "reserved-bit", "has reserved bits or EN=0/EXTD=1" },
        { "maxphyaddr", "has reserved bits or EN=0/EXTD=1" },
        { "image-size", "register image must be 1024 bytes" },
        { "x2apic-id", "x2APIC ID in the register image is not 3" },
        { "nmi-queued", "event state out of range" },
        { "period", "timer state out of range" },
        { "target", "timer state out of range" },
        { "run-state", "event state out of range" },
        { "deadline-zero", "TSC-deadline mode with timer.TscDeadline 0" },
    };

    private static VcpuSnapshot Spoil(VcpuSnapshot s, string how) => how switch
    {
        "index" => s with { Index = Index + 1 },
        "invalid-mode" => s with { ApicBase = ApicBase.DefaultAddress | ApicBase.ExtdBit },
        "reserved-bit" => s with { ApicBase = s.ApicBase | 1 },
        "maxphyaddr" => s with { ApicBase = s.ApicBase | (1ul << 50) },
        "image-size" => s with { LapicImage = new byte[KvmLapicState.Size - 4] },
        "x2apic-id" => s with { LapicImage = WithId(s.LapicImage, Index + 1) },
        "nmi-queued" => s with { Events = s.Events with { NmiQueued = 3 } },
        "period" => s with { Timer = s.Timer with { PeriodNs = -5 } },
        "target" => s with { Timer = s.Timer with { TargetNs = -5 } },
        "deadline-zero" => s with { Timer = new ApicTimerState(TimerMode.TscDeadline, 0, true, 1_000, 0) },
        _ => s with { Events = s.Events with { State = (VcpuRunState)7 } },
    };

    private static byte[] WithId(byte[] image, int id)
    {
        byte[] copy = [.. image];
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(ApicOffset.Id), (uint)id);
        return copy;
    }

    [Theory]
    [MemberData(nameof(BadSnapshots))]
    public void Restore_rejects_a_snapshot_that_does_not_fit_and_changes_nothing(string how, string named)
    {
        var good = VcpuSnapshot.Capture(Busy(new VirtualClock(), "x2apic"));
        var clock = new VirtualClock();
        var target = Busy(clock, "xapic");
        var before = Observe(target);

        var ex = Assert.Throws<SnapshotFormatException>(() => Spoil(good, how).Restore(target));

        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, Observe(target));
    }

    [Fact]
    public void Null_arguments_are_refused_by_name()
    {
        var snapshot = VcpuSnapshot.Capture(NewVcpu(new VirtualClock()));

        Assert.Equal("vcpu", Assert.Throws<ArgumentNullException>(() => VcpuSnapshot.Capture(null!)).ParamName);
        Assert.Equal("vcpu", Assert.Throws<ArgumentNullException>(() => snapshot.Restore(null!)).ParamName);
        Assert.Equal("apic", Assert.Throws<ArgumentNullException>(() => KvmLapicState.Capture(null!)).ParamName);
        Assert.Equal("apic", Assert.Throws<ArgumentNullException>(() => KvmLapicState.Apply(null!, snapshot.LapicImage)).ParamName);
    }

    [Fact]
    public void Restore_rejects_x2apic_mode_on_a_vm_without_x2apic()
    {
        var good = VcpuSnapshot.Capture(Busy(new VirtualClock(), "x2apic"));
        var target = NewVcpu(new VirtualClock(), new ApicConfig { X2ApicSupported = false });
        var ex = Assert.Throws<SnapshotFormatException>(() => good.Restore(target));
        Assert.Contains("IA32_APIC_BASE", ex.Message, StringComparison.Ordinal);
        Assert.Equal(ApicMode.XApic, target.Apic.Mode);
    }
}
