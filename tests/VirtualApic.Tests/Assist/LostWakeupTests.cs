// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// Deterministic one-thread reproductions of the wake-ups a VMM's halting vCPU thread must never
/// lose (docs/threading.md, "How every wake-up is guaranteed"): each test plays the interleaving
/// that lost the kick, step by step, then asks whether the halted vCPU's event was signalled.
/// </summary>
public class LostWakeupTests
{
    private const byte Vector = 0x61;

    // Fixed, edge, physical: the IPI AVIC and IPI virtualization deliver in hardware.
    private static Icr FixedIpiTo(uint destination) => Icr.Create(Vector, destinationHigh: destination << 24);

    [Theory]
    [MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]
    public void An_ipi_between_the_last_check_and_hlt_wakes_the_halting_vcpu(AccelKind accel)
    {
        using var vm = EnabledVm(accel, cpus: 2);
        var sender = vm.Vcpus[0];
        var waiter = vm.Vcpus[1];
        waiter.Sti();

        waiter.PrepareToWait();
        Assert.Equal(GuestEventKind.None, waiter.Take().Kind); // the last check: nothing yet
        SendXApicIpi(sender, FixedIpiTo(1));                  // lands between the check and HLT
        waiter.Hlt();

        Assert.True(waiter.WaitForKick(TimeSpan.Zero), $"{accel}: the IPI's kick was lost, vector {Vector:X2} sleeps in the IRR");
        var e = waiter.Take();
        Assert.Equal(GuestEventKind.Vector, e.Kind);
        Assert.Equal(Vector, e.Vector);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Avic_is_running_is_clear_from_the_last_check_and_set_again_when_the_vcpu_runs(bool x2Avic)
    {
        using var vm = EnabledVm(x2Avic ? AccelKind.X2Avic : AccelKind.Avic, cpus: 2);
        var avic = (AvicModel)vm.Accelerator;
        var waiter = vm.Vcpus[1];
        waiter.Sti();
        const ulong isRunning = 1ul << 62;
        Assert.NotEqual(0ul, avic.PhysicalEntry(1) & isRunning);

        waiter.PrepareToWait();
        Assert.Equal(0ul, avic.PhysicalEntry(1) & isRunning); // avic_vcpu_blocking: before the last check

        SendXApicIpi(vm.Vcpus[0], FixedIpiTo(1));
        Assert.Equal(GuestEventKind.Vector, waiter.Take().Kind);
        Assert.NotEqual(0ul, avic.PhysicalEntry(1) & isRunning); // avic_vcpu_unblocking: it runs again
    }

    [Fact]
    public void An_inhibit_toggle_does_not_set_is_running_on_a_vcpu_that_is_blocking()
    {
        using var vm = EnabledVm(AccelKind.Avic, cpus: 3);
        var avic = (AvicModel)vm.Accelerator;
        var waiter = vm.Vcpus[1];
        var toggler = vm.Vcpus[2];
        waiter.Sti();

        waiter.PrepareToWait();
        Assert.Equal(GuestEventKind.None, waiter.Take().Kind);
        Write(toggler, ApicOffset.Id, 0x42u << 24); // APIC_ID_MODIFIED: AVIC off
        Write(toggler, ApicOffset.Id, 2u << 24);    // back on: re-evaluated on the toggler's thread
        Assert.True(avic.IsActive);
        Assert.Equal(0ul, avic.PhysicalEntry(1) & (1ul << 62));

        SendXApicIpi(vm.Vcpus[0], FixedIpiTo(1));
        waiter.Hlt();
        Assert.True(waiter.WaitForKick(TimeSpan.Zero), "the IPI after the toggle only rang a doorbell");
    }

    [Fact]
    public void An_apicv_inhibit_toggle_kicks_the_vcpus_whose_posted_vectors_it_moved()
    {
        using var vm = EnabledVm(AccelKind.Apicv, cpus: 3);
        var waiter = vm.Vcpus[1];
        var toggler = vm.Vcpus[2];
        waiter.Sti();

        // Posted while the waiter runs: ON is set and the notification is consumed by the running vCPU.
        SendXApicIpi(vm.Vcpus[0], FixedIpiTo(1));
        waiter.PrepareToWait(); // resets the wake-up event; the waiter has not looked at its PIR yet

        // The toggle moves the posted vector into the IRR and clears ON: a state move on another
        // thread that the waiter's next check must not miss (KVM_REQ_APICV_UPDATE kicks every vCPU).
        Write(toggler, ApicOffset.Id, 0x42u << 24);

        Assert.True(waiter.WaitForKick(TimeSpan.Zero), "the inhibit toggle moved a posted vector without a kick");
        Assert.Equal(Vector, waiter.Take().Vector);
    }

    [Fact]
    public void Kicks_from_an_ioapic_delivery_are_raised_after_the_ioapic_lock_is_released()
    {
        using var vm = EnabledVm(AccelKind.None, cpus: 2);
        vm.IoApic.WriteEntry(3, RedirectionEntry.Create(0x63, destination: 1));
        vm.IoApic.WriteEntry(4, RedirectionEntry.Create(0x64, destination: 0));
        bool otherThreadGotIn = true;
        vm.VcpuKicked += index =>
        {
            // An embedder's handler hands work to another thread that touches the IOAPIC (or takes a
            // lock that such a thread holds): it must not find the IOAPIC locked by this thread.
            if (index == 1)
            {
                var device = Task.Run(() => vm.IoApic.Pulse(4));
                otherThreadGotIn &= device.Wait(TimeSpan.FromSeconds(2));
            }
        };

        vm.IoApic.Pulse(3);

        Assert.True(otherThreadGotIn, "the kick handler ran with the IOAPIC lock held");
    }
}
