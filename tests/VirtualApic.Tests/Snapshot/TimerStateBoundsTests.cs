// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Snapshot;

namespace VirtualApic.Tests.Snapshot;

/// <summary>Crafted timer states in a snapshot: a clear error naming the field, or bounded host time; never a hang.</summary>
public class TimerStateBoundsTests
{
    private const ulong Base = 0xFEE0_0000;

    private static (VirtualMachine Vm, VcpuSnapshot Snapshot) PeriodicVm(ApicProfile profile)
    {
        var vm = new VirtualMachine(new VmOptions { Cpus = 1, Profile = profile });
        var v = vm.Vcpus[0];
        v.MmioWrite(Base + ApicOffset.Svr, 0x1FF, 4);
        v.MmioWrite(Base + ApicOffset.LvtTimer, (1u << 17) | 0xEC, 4);
        v.MmioWrite(Base + ApicOffset.Tmict, 1_000_000, 4);
        return (vm, VcpuSnapshot.Capture(v));
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(1L)]
    public void A_period_the_registers_cannot_program_is_rejected_naming_the_field(long period)
    {
        var (vm, snapshot) = PeriodicVm(ApicProfile.Kvm);
        using (vm)
        {
            var bad = snapshot with { Timer = snapshot.Timer with { PeriodNs = period } };
            var ex = Assert.Throws<SnapshotFormatException>(() => bad.Restore(vm.Vcpus[0]));
            Assert.Contains("timer.PeriodNs", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_longest_period_the_registers_can_program_is_accepted()
    {
        var (vm, snapshot) = PeriodicVm(ApicProfile.Kvm);
        using (vm)
        {
            long longest = ApicTimer.PeriodForCount(uint.MaxValue, 128, vm.Vcpus[0].Apic.Config.BusMhz);

            (snapshot with { Timer = snapshot.Timer with { PeriodNs = longest } }).Restore(vm.Vcpus[0]);

            Assert.Equal(longest, vm.Vcpus[0].Apic.Timer.Save().PeriodNs);
        }
    }

    [Fact]
    public void An_armed_timer_with_nothing_to_count_is_rejected()
    {
        var (vm, snapshot) = PeriodicVm(ApicProfile.Kvm);
        using (vm)
        {
            var bad = snapshot with { Timer = snapshot.Timer with { PeriodNs = 0 } };
            var ex = Assert.Throws<SnapshotFormatException>(() => bad.Restore(vm.Vcpus[0]));
            Assert.Contains("timer.Armed", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_one_ns_period_that_the_architectural_profile_allows_runs_in_bounded_host_time()
    {
        var (vm, snapshot) = PeriodicVm(ApicProfile.Architectural);
        using (vm)
        {
            var tiny = snapshot with { Timer = snapshot.Timer with { PeriodNs = 1, TargetNs = 0 } };
            tiny.Restore(vm.Vcpus[0]);
            var run = new Thread(() => vm.Clock.Advance(1_000_000_000_000)) { IsBackground = true };
            run.Start();
            Assert.True(run.Join(TimeSpan.FromSeconds(20)), "1000 s of a 1 ns period did not finish");
            Assert.Equal(GuestEventKind.None, vm.Vcpus[0].Take().Kind); // IF=0: pending, not taken
            Assert.True(vm.Vcpus[0].Apic.HighestIrr == 0xEC);
        }
    }
}
