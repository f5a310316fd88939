// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The 8259's INTR output on every LINT0 (<see cref="ExternalPic"/>): a lowered INTR is no request any
/// more, and a snapshot's raised INTR, restored, wakes a halted vCPU as a raise does (KVM re-evaluates
/// pending events after KVM_SET_IRQCHIP; a vCPU must not sleep on an interrupt it can take).
/// </summary>
public class ExternalPicTests
{
    private const uint ExtIntMode = 0x700;

    [Fact]
    public void A_lowered_intr_is_not_taken()
    {
        using var vm = TestGuest.Vm(1, x2Apic: false);
        var bsp = vm.Vcpus[0];
        bsp.Write(ApicOffset.LvtLint0, ExtIntMode);
        vm.Pic.Raise(0x36);
        vm.Pic.Lower();
        Assert.False(vm.Pic.HasInterrupt);
        Assert.Equal(GuestEvent.None, bsp.StiTake());
        Assert.Equal((false, (byte)0x36), vm.Pic.Save());
    }

    [Fact]
    public void A_restored_raised_intr_kicks_a_halted_vcpu_and_is_taken_with_its_vector()
    {
        using var vm = TestGuest.Vm(2, x2Apic: false);
        var ap = vm.Vcpus[1];
        ap.HaltWaitingForExtInt();

        vm.Pic.Restore((false, 0x37));
        Assert.False(ap.WaitForKick(TimeSpan.Zero)); // a lowered INTR wakes nobody
        vm.Pic.Restore((true, 0x38));
        Assert.True(ap.WaitForKick(TimeSpan.Zero));
        Assert.Equal((true, (byte)0x38), vm.Pic.Save());
        Assert.Equal(0x38, vm.Pic.Vector);
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x38), ap.Take());
    }
}
