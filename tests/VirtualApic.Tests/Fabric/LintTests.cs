// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The local interrupt pins: LINT1 programmed as NMI (SDM vol. 3A 11.5.1), and LINT0 in ExtINT
/// mode carrying the 8259's INTR (virtual wire; KVM kvm_apic_accept_pic_intr: LINT0 unmasked in
/// ExtINT mode, or the APIC hardware-disabled), taken only with IF=1.
/// </summary>
public class LintTests
{
    private const uint Masked = 1u << 16;
    private const uint NmiMode = 0x400;
    private const uint ExtIntMode = 0x700;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lint1_programmed_as_nmi_delivers_an_nmi_on_the_rising_edge(bool x2)
    {
        using var vm = TestGuest.Vm(2, x2);
        var v = vm.Vcpus[1];
        Assert.Equal(Masked, v.Read(ApicOffset.LvtLint1)); // masked after RESET
        v.SetLint(1, true);
        Assert.Equal(GuestEvent.None, v.Take());
        v.SetLint(1, false);

        v.Write(ApicOffset.LvtLint1, NmiMode);
        Assert.Equal(NmiMode, v.Read(ApicOffset.LvtLint1));
        v.SetLint(1, true);
        Assert.Equal(GuestEventKind.Nmi, v.Take().Kind);
        v.Iret();
        v.SetLint(1, true); // still high: no new edge
        Assert.Equal(GuestEvent.None, v.Take());
        v.SetLint(1, false);
        v.SetLint(1, true);
        Assert.Equal(GuestEventKind.Nmi, v.Take().Kind);
        Assert.Equal(GuestEvent.None, vm.Vcpus[0].Take()); // per-vCPU pin
    }

    [Fact]
    public void Lint1_cannot_be_unmasked_while_the_apic_is_software_disabled()
    {
        using var vm = TestGuest.Vm(1, x2Apic: false);
        var v = vm.Vcpus[0];
        v.SoftwareDisable();
        v.Write(ApicOffset.LvtLint1, NmiMode);
        Assert.Equal(NmiMode | Masked, v.Read(ApicOffset.LvtLint1)); // SDM 11.4.7.2: the mask is forced
        v.SetLint(1, true);
        Assert.Equal(GuestEvent.None, v.Take());
    }

    [Fact]
    public void Kvm_bsp_is_in_virtual_wire_mode_after_reset_and_takes_extint_with_if_set()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2 });
        var bsp = vm.Vcpus[0];
        Assert.Equal(ExtIntMode, bsp.Read(ApicOffset.LvtLint0)); // KVM_X86_QUIRK_LINT0_REENABLED
        Assert.Equal(Masked, vm.Vcpus[1].Read(ApicOffset.LvtLint0));

        vm.Pic.Raise(0x30);
        Assert.Equal(GuestEvent.None, bsp.Take()); // IF=0
        Assert.Equal(GuestEvent.None, vm.Vcpus[1].StiTake()); // LINT0 masked on the AP
        Assert.True(vm.Pic.HasInterrupt);
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x30), bsp.StiTake());
        Assert.False(vm.Pic.HasInterrupt); // INTA lowered INTR
        bsp.Iret();
        Assert.Equal(GuestEvent.None, bsp.Take());
    }

    [Fact]
    public void Architectural_lint0_is_masked_after_reset_until_the_guest_programs_extint()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 1, Profile = ApicProfile.Architectural });
        var bsp = vm.Vcpus[0];
        Assert.Equal(Masked, bsp.Read(ApicOffset.LvtLint0));
        vm.Pic.Raise(0x31);
        Assert.Equal(GuestEvent.None, bsp.StiTake());

        bsp.SoftwareEnable();
        bsp.Write(ApicOffset.LvtLint0, ExtIntMode | Masked);
        Assert.Equal(GuestEvent.None, bsp.Take());
        bsp.Write(ApicOffset.LvtLint0, ExtIntMode);
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x31), bsp.Take());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_ap_takes_extint_once_its_lint0_is_unmasked_extint(bool x2)
    {
        using var vm = TestGuest.Vm(2, x2);
        var ap = vm.Vcpus[1];
        ap.Write(ApicOffset.LvtLint0, NmiMode); // unmasked but not ExtINT
        vm.Pic.Raise(0x32);
        Assert.Equal(GuestEvent.None, ap.StiTake());
        Assert.Equal(PendingEvents.None, ap.PendingEvents);

        ap.Write(ApicOffset.LvtLint0, ExtIntMode);
        Assert.Equal(PendingEvents.ExtInt, ap.PendingEvents);
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x32), ap.Take());
    }

    [Fact]
    public void A_hardware_disabled_apic_passes_intr_through_whatever_lint0_says()
    {
        using var vm = TestGuest.Vm(2, x2Apic: true);
        var ap = vm.Vcpus[1];
        Assert.Equal(Masked, ap.Read(ApicOffset.LvtLint0));
        vm.Pic.Raise(0x33);
        Assert.Equal(GuestEvent.None, ap.StiTake());

        ap.HardwareDisable();
        ap.Cli();
        Assert.Equal(GuestEvent.None, ap.Take()); // still needs IF=1
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x33), ap.StiTake());
    }

    [Fact]
    public void The_8259_is_asked_before_the_apic()
    {
        using var vm = TestGuest.Vm(1, x2Apic: false);
        var bsp = vm.Vcpus[0];
        bsp.Write(ApicOffset.LvtLint0, ExtIntMode);
        vm.Vcpus[0].SendFixed(0xE0, 0);
        vm.Pic.Raise(0x34);
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x34), bsp.StiTake());
        bsp.Iret();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0xE0), bsp.Take());
    }

    [Fact]
    public void Raising_intr_kicks_a_halted_vcpu()
    {
        using var vm = TestGuest.Vm(2, x2Apic: false);
        var ap = vm.Vcpus[1];
        ap.Write(ApicOffset.LvtLint0, ExtIntMode);
        ap.Sti();
        ap.Hlt();
        ap.PrepareToWait();
        Assert.Equal(GuestEvent.None, ap.Take());
        Assert.False(ap.WaitForKick(TimeSpan.Zero));
        vm.Pic.Raise(0x35);
        Assert.True(ap.WaitForKick(TimeSpan.Zero));
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x35), ap.Take());
        Assert.Equal(VcpuRunState.Running, ap.State);
    }
}
