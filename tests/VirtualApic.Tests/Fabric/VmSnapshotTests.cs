// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Snapshot;

namespace VirtualApic.Tests.Fabric;

/// <summary>The public whole-VM snapshot: capture, restore (KVM's order, then due timers) and migration across backends.</summary>
public class VmSnapshotTests
{
    private static VirtualMachine Guest(AccelKind accel)
    {
        var vm = new VirtualMachine(new VmOptions { Cpus = 2, Accel = accel });
        foreach (var cpu in vm.Vcpus)
        {
            cpu.MmioWrite(0xFEE00000 + ApicOffset.Svr, 0x1FF, 4);
        }

        return vm;
    }

    public static TheoryData<AccelKind, AccelKind> Pairs()
    {
        var data = new TheoryData<AccelKind, AccelKind>();
        foreach (var from in Enum.GetValues<AccelKind>())
        {
            foreach (var to in Enum.GetValues<AccelKind>())
            {
                data.Add(from, to);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Migration_keeps_pending_vectors_time_and_an_armed_timer(AccelKind from, AccelKind to)
    {
        using var source = Guest(from);
        var sender = source.Vcpus[0];
        sender.MmioWrite(0xFEE00000 + ApicOffset.Icr2, 1u << 24, 4);
        sender.MmioWrite(0xFEE00000 + ApicOffset.Icr, 0x51, 4); // fixed IPI 0x51 to vCPU 1
        var target = source.Vcpus[1];
        target.MmioWrite(0xFEE00000 + ApicOffset.LvtTimer, 0x60, 4); // one-shot, vector 0x60
        target.MmioWrite(0xFEE00000 + ApicOffset.Tmict, 1000, 4);     // 1000 x 2 ns
        source.Clock.Advance(500);

        using var next = VmSnapshot.Migrate(source, source.Options with { Accel = to });
        Assert.Equal(to, next.Options.Accel);
        Assert.Equal(500, next.Clock.NowNs);
        var moved = next.Vcpus[1];
        moved.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x51), moved.Take());
        next.Clock.Advance(1500); // the timer is due at 2000 ns
        moved.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x60), moved.Take());
    }

    [Fact]
    public void Restore_fires_a_timer_that_was_due_at_the_saved_time()
    {
        using var vm = Guest(AccelKind.None);
        var cpu = vm.Vcpus[0];
        cpu.MmioWrite(0xFEE00000 + ApicOffset.LvtTimer, 0x60, 4);
        cpu.MmioWrite(0xFEE00000 + ApicOffset.Tmict, 100, 4);
        var early = VmSnapshot.Capture(vm);   // armed, due at 200 ns
        vm.Clock.Advance(1000);
        cpu.Sti();
        Assert.Equal(0x60, cpu.Take().Vector); // fired and taken
        early.Restore(vm);                     // back to t = 0 with the timer armed
        Assert.Equal(0, vm.Clock.NowNs);
        Assert.False(vm.Vcpus[0].Apic.Page.TestVector(ApicOffset.Isr, 0x60));
        vm.Clock.Advance(200);
        Assert.True(vm.Vcpus[0].Apic.Page.TestVector(ApicOffset.Irr, 0x60));
    }

    [Fact]
    public void Restore_runs_the_timers_already_due_at_the_restored_time()
    {
        using var vm = Guest(AccelKind.Apicv);
        var cpu = vm.Vcpus[1];
        cpu.MmioWrite(0xFEE00000 + ApicOffset.LvtTimer, 0x60, 4);
        cpu.MmioWrite(0xFEE00000 + ApicOffset.Tmict, 100, 4);     // due at 200 ns
        var saved = VmSnapshot.Capture(vm);
        using var other = Guest(AccelKind.Avic);
        (saved with { TimeNs = 1000 }).Restore(other);            // a paused VM resumed late: the timer is overdue
        Assert.True(other.Vcpus[1].Apic.Page.TestVector(ApicOffset.Irr, 0x60) || other.Vcpus[1].Apic.HighestIrr == 0x60);
    }

    [Fact]
    public void A_snapshot_of_another_vcpu_count_is_refused_before_anything_changes()
    {
        using var two = Guest(AccelKind.Apicv);
        using var three = new VirtualMachine(new VmOptions { Cpus = 3 });
        three.Clock.Advance(77);
        var ex = Assert.Throws<SnapshotFormatException>(() => VmSnapshot.Capture(two).Restore(three));
        Assert.Contains("2 vCPUs", ex.Message, StringComparison.Ordinal);
        Assert.Equal(77, three.Clock.NowNs);
    }
}
