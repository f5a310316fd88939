// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Cpu;

/// <summary>
/// A VMM's MSR write (<see cref="Vcpu.HostWriteMsr"/>, KVM_SET_MSRS) into a halted vCPU that makes
/// an event deliverable wakes it, as KVM's next KVM_RUN asks kvm_vcpu_has_events again; one that
/// uncovers nothing leaves it asleep (campaign seed 10035076, scenarios/found/16).
/// </summary>
public class HostMsrWakeTests
{
    private const uint X2ApicTprMsr = ApicOffset.X2ApicMsrBase + (ApicOffset.Tpr >> 4);
    private const uint X2ApicLint0Msr = ApicOffset.X2ApicMsrBase + (ApicOffset.LvtLint0 >> 4);

    [Fact]
    public void A_hardware_disable_hands_lint0_to_a_raised_intr_and_wakes_the_halted_vcpu()
    {
        using var vm = TestGuest.Vm(2, x2Apic: false);
        var ap = vm.Vcpus[1];
        vm.Pic.Raise(0x24);
        HaltWithNothingToTake(ap); // LINT0 masked: the INTR is not this vCPU's

        Assert.True(ap.HostWriteMsr(ApicBase.Msr, 0));

        Assert.True(ap.WaitForKick(TimeSpan.Zero));
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x24), ap.Take());
    }

    [Fact]
    public void Unmasking_lint0_in_extint_mode_wakes_the_halted_vcpu()
    {
        using var vm = TestGuest.Vm(2, x2Apic: true);
        var ap = vm.Vcpus[1];
        vm.Pic.Raise(0x25);
        HaltWithNothingToTake(ap);

        Assert.True(ap.HostWriteMsr(X2ApicLint0Msr, 0x700));

        Assert.True(ap.WaitForKick(TimeSpan.Zero));
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x25), ap.Take());
    }

    [Theory]
    [InlineData(0x00u, true)]  // PPR 0x00: vector 0x61 can be taken
    [InlineData(0x50u, true)]  // class 5 below class 6
    [InlineData(0x60u, false)] // class 6 still blocks 0x61: no wake-up
    public void Lowering_tpr_wakes_the_halted_vcpu_only_when_the_pending_vector_clears_ppr(uint tpr, bool wakes)
    {
        using var vm = TestGuest.Vm(2, x2Apic: true);
        var ap = vm.Vcpus[1];
        ap.SetTpr(0xF0);
        vm.Vcpus[0].SendFixed(0x61, destination: 1);
        HaltWithNothingToTake(ap); // 0x61 pending, held off by TPR

        Assert.True(ap.HostWriteMsr(X2ApicTprMsr, tpr));

        Assert.Equal(wakes, ap.WaitForKick(TimeSpan.Zero));
        Assert.Equal(wakes ? new GuestEvent(GuestEventKind.Vector, 0x61) : GuestEvent.None, ap.Take());
    }

    [Fact]
    public void A_refused_host_write_still_reports_false()
    {
        using var vm = TestGuest.Vm(1, x2Apic: false);
        var bsp = vm.Vcpus[0];
        HaltWithNothingToTake(bsp);

        Assert.False(bsp.HostWriteMsr(0x1234, 1)); // an MSR this model does not implement
        Assert.False(bsp.WaitForKick(TimeSpan.Zero));
    }

    private static void HaltWithNothingToTake(Vcpu v)
    {
        v.Sti();
        v.Hlt();
        v.PrepareToWait();
        Assert.False(v.WaitForKick(TimeSpan.Zero));
    }
}
