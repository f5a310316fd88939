// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Cpu;

/// <summary>
/// What a halting vCPU checks before it sleeps, and the processor-side registers the vCPU keeps
/// (CR8, CPUID's APIC bits, the LINT inputs, the MMIO hole): each test stands for a mutant of
/// <see cref="Vcpu"/> that the rest of the suite let live (docs/reliability.md, "Cpu, twenty-ninth
/// session").
/// </summary>
public class HaltAndCpuRegisterTests
{
    public static TheoryData<string, bool> EventsHeldAtHlt() => new()
    {
        { "init", true },
        { "smi", true },
        { "nmi", true },
        { "nmi-while-blocked", false },
        { "fixed-with-if", true },
        { "fixed-without-if", false },
        { "nothing", false },
    };

    [Theory]
    [MemberData(nameof(EventsHeldAtHlt))]
    public void Hlt_with_an_event_already_held_latches_the_wake_up_and_without_one_sleeps(string held, bool runnable)
    {
        // KVM kvm_vcpu_check_block asks kvm_arch_vcpu_runnable before it blocks: an event that came
        // before the HLT (its kick found nobody waiting) must not be slept on. WaitForKick(Zero)
        // only reads the latch.
        using var vm = EnabledVm(AccelKind.None, cpus: 2);
        var cpu = vm.Vcpus[0];
        switch (held)
        {
            case "init":
                cpu.OnInit();
                break;
            case "smi":
                cpu.OnSmi();
                break;
            case "nmi":
                cpu.OnNmi();
                break;
            case "nmi-while-blocked":
                cpu.OnNmi();
                Assert.Equal(GuestEventKind.Nmi, cpu.Take().Kind); // NMIs blocked until IRET
                cpu.OnNmi();
                break;
            case "fixed-with-if":
                cpu.Sti();
                vm.Vcpus[1].SendFixed(0x40, 0);
                break;
            case "fixed-without-if":
                cpu.Cli();
                vm.Vcpus[1].SendFixed(0x40, 0);
                break;
            default:
                break;
        }

        long hltExits = cpu.Exits[ExitReason.Hlt];

        cpu.Hlt();

        Assert.Equal(VcpuRunState.Halted, cpu.State);
        Assert.Equal(hltExits + 1, cpu.Exits[ExitReason.Hlt]);
        Assert.Equal(runnable, cpu.WaitForKick(TimeSpan.Zero));
    }

    [Fact]
    public void A_run_state_the_host_sets_keeps_the_wait_the_wake_and_avics_is_running_bit_in_step()
    {
        // KVM_SET_MP_STATE: a vCPU the host marks halted waits for a kick, is not running for
        // AVIC (an IPI to it exits as target-not-running), and an event it already holds wakes it.
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        var target = vm.Vcpus[1];
        target.Sti();

        target.SetRunState(VcpuRunState.Halted);

        Assert.True(target.IsBlocking);
        Assert.False(target.WaitForKick(TimeSpan.Zero));
        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x44, destinationHigh: 1u << 24));
        Assert.Equal(1, vm.Vcpus[0].Exits[ExitReason.AvicIncompleteIpi]);
        Assert.True(target.WaitForKick(TimeSpan.Zero));

        target.SetRunState(VcpuRunState.Running);
        Assert.False(target.IsBlocking);
        target.PrepareToWait(); // resets the wake-up
        Assert.False(target.WaitForKick(TimeSpan.Zero));
        target.SetRunState(VcpuRunState.Halted); // with 0x44 held: runnable at once
        Assert.True(target.WaitForKick(TimeSpan.Zero));
    }

    [Fact]
    public void Cr8_is_tpr_bits_7_4_and_its_reserved_bits_fault()
    {
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];

        Assert.True(cpu.WriteCr8(0x5));
        Assert.Equal(0x50u, cpu.Apic.Tpr);
        Assert.Equal(0x5ul, cpu.ReadCr8());
        Assert.Equal(0x50u, cpu.Apic.Ppr);

        Assert.False(cpu.WriteCr8(0x10)); // bits 63:4 reserved: #GP, nothing written
        Assert.Equal(0x50u, cpu.Apic.Tpr);
        Write(cpu, ApicOffset.Tpr, 0x3F);
        Assert.Equal(0x3ul, cpu.ReadCr8());
    }

    [Fact]
    public void Lowering_cr8_wakes_a_halted_vcpu_whose_vector_it_unmasks()
    {
        using var vm = EnabledVm(AccelKind.None, cpus: 2);
        var cpu = vm.Vcpus[0];
        Assert.True(cpu.WriteCr8(0xF));
        cpu.Sti();
        vm.Vcpus[1].SendFixed(0x40, 0);
        cpu.Hlt();
        Assert.False(cpu.WaitForKick(TimeSpan.Zero)); // masked by TPR: HLT sleeps

        Assert.True(cpu.WriteCr8(0));

        Assert.True(cpu.WaitForKick(TimeSpan.Zero));
        Assert.Equal(0x40, cpu.Take().Vector);
    }

    [Fact]
    public void Cpuid_leaf_1_edx_apic_bit_follows_apic_base_enable()
    {
        // SDM vol. 2A CPUID.01H:EDX[9]; KVM kvm_update_cpuid_runtime clears it with APIC_BASE.EN.
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];
        Assert.Equal(1u << 9, cpu.Cpuid(1, 0, CpuidRegister.Edx));

        Assert.True(cpu.TryWriteMsr(ApicBase.Msr, cpu.Apic.ApicBaseMsr & ~ApicBase.EnableBit));

        Assert.Equal(0u, cpu.Cpuid(1, 0, CpuidRegister.Edx));
    }

    [Theory]
    [InlineData(1, 0xFFul)]
    [InlineData(2, 0xFFFFul)]
    [InlineData(4, 0xFFFF_FFFFul)]
    [InlineData(8, ulong.MaxValue)]
    public void The_apic_window_of_a_disabled_apic_and_unbacked_memory_read_all_ones_of_the_access_size(int size, ulong ones)
    {
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];
        ulong window = cpu.Apic.BaseAddress;
        Assert.Equal(0x1FFul, cpu.MmioRead(window + ApicOffset.Svr, 4));

        cpu.Bus = null; // a vCPU without a bus: everything outside the window is unbacked
        Assert.Equal(ones, cpu.MmioRead(0x1_0000_0000, size));
        Assert.True(cpu.TryWriteMsr(ApicBase.Msr, cpu.Apic.ApicBaseMsr & ~ApicBase.EnableBit));

        Assert.Equal(ones, cpu.MmioRead(window + ApicOffset.Svr, size));
    }

    [Fact]
    public void The_apic_window_is_exactly_one_page()
    {
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];
        ulong window = cpu.Apic.BaseAddress;

        Assert.True(cpu.IsApicWindow(window));
        Assert.True(cpu.IsApicWindow(window + 0xFFF));
        Assert.False(cpu.IsApicWindow(window + 0x1000));
        Assert.False(cpu.IsApicWindow(window - 1));
    }

    [Fact]
    public void Each_lint_input_keeps_its_own_level()
    {
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];

        cpu.SetLint(1, true);

        Assert.True(cpu.GetLint(1));
        Assert.False(cpu.GetLint(0));
        cpu.SetLint(0, true);
        cpu.SetLint(1, false);
        Assert.True(cpu.GetLint(0));
        Assert.False(cpu.GetLint(1));
    }

    [Fact]
    public void A_lint_pin_other_than_0_or_1_is_refused()
    {
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];

        Assert.Throws<ArgumentOutOfRangeException>("pin", () => cpu.SetLint(2, true));

        Assert.False(cpu.GetLint(0));
        Assert.False(cpu.GetLint(1));
    }

    [Theory]
    [InlineData("sti")]
    [InlineData("iret")]
    [InlineData("reenter")]
    public void A_step_that_leaves_a_halted_vcpu_runnable_latches_its_wake_up(string step)
    {
        // KVM asks kvm_vcpu_has_events again at the next KVM_RUN of a halted vCPU, so what the host
        // does to one (KVM_SET_REGS with IF set, an NMI handler left, the entry's check before it
        // blocks) must not leave it asleep on an event it could take.
        using var vm = EnabledVm(AccelKind.None, cpus: 2);
        var cpu = vm.Vcpus[0];
        switch (step)
        {
            case "sti":
                vm.Vcpus[1].SendFixed(0x40, 0);
                cpu.Hlt(); // IF clear: a fixed vector does not make it runnable
                break;
            case "iret":
                cpu.OnNmi();
                Assert.Equal(GuestEventKind.Nmi, cpu.Take().Kind);
                cpu.OnNmi(); // waits for the IRET that ends NMI blocking
                cpu.Hlt();
                break;
            default:
                cpu.Sti();
                cpu.Hlt();
                vm.Vcpus[1].SendFixed(0x40, 0); // its kick latches the wake-up ...
                cpu.PrepareToWait();            // ... which the vCPU's next wait sequence resets
                break;
        }

        Assert.False(cpu.WaitForKick(TimeSpan.Zero));

        switch (step)
        {
            case "sti":
                cpu.Sti();
                break;
            case "iret":
                cpu.Iret();
                break;
            default:
                cpu.Reenter(); // the check between PrepareToWait and WaitForKick
                break;
        }

        Assert.True(cpu.WaitForKick(TimeSpan.Zero));
        Assert.Equal(VcpuRunState.Halted, cpu.State);
        Assert.NotEqual(GuestEventKind.None, cpu.Take().Kind);
        Assert.Equal(VcpuRunState.Running, cpu.State);
    }

    [Fact]
    public void A_pv_kick_wakes_a_halted_vcpu_into_guest_mode_for_avic()
    {
        // KVM_HC_KICK_CPU: the halted target becomes runnable with no event (vcpu_block clears
        // pv_unhalted) and is unblocked (avic_vcpu_unblocking), so AVIC IPIs reach it in guest mode
        // again instead of exiting as target-not-running.
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        var (kicker, target) = (vm.Vcpus[0], vm.Vcpus[1]);
        target.Sti();
        target.Hlt();
        Assert.True(target.IsBlocking);

        Assert.Equal(0, kicker.Hypercall(Vcpu.KvmHcKickCpu, 0, 1));

        Assert.True(target.WaitForKick(TimeSpan.Zero));
        Assert.Equal(GuestEvent.None, target.Take());
        Assert.Equal(VcpuRunState.Running, target.State);
        Assert.False(target.IsBlocking);
        SendXApicIpi(kicker, Icr.Create(0x44, destinationHigh: 1u << 24));
        Assert.Equal(0, kicker.Exits[ExitReason.AvicIncompleteIpi]);
        Assert.Equal(0x44, target.Take().Vector);
    }

    [Fact]
    public void A_pv_kick_that_comes_before_hlt_completes_that_hlt_at_once_and_only_that_one()
    {
        // kvm_vcpu_has_events counts pv_unhalted: the HLT after the kick does not block.
        using var vm = EnabledVm(AccelKind.None, cpus: 2);
        var target = vm.Vcpus[1];
        Assert.Equal(0, vm.Vcpus[0].Hypercall(Vcpu.KvmHcKickCpu, 0, 1));
        Assert.Equal(PendingEvents.PvUnhalt, target.PendingEvents);

        target.Hlt();

        Assert.Equal(VcpuRunState.Running, target.State);
        Assert.False(target.IsBlocking);
        Assert.Equal(PendingEvents.None, target.PendingEvents);
        Assert.Equal(1, target.Exits[ExitReason.Hlt]);
        target.Hlt();
        Assert.Equal(VcpuRunState.Halted, target.State);
    }

    [Theory]
    [InlineData(DeliveryMode.Fixed)]
    [InlineData(DeliveryMode.Init)]
    public void A_halted_vcpu_another_event_wakes_forgets_a_pv_kick_that_came_too(DeliveryMode wakeBy)
    {
        // KVM vcpu_block clears pv_unhalted as the vCPU leaves KVM_MP_STATE_HALTED, whatever woke
        // it: the guest's next HLT blocks instead of completing at once on a stale kick.
        using var vm = EnabledVm(AccelKind.None, cpus: 2);
        var target = vm.Vcpus[1];
        target.Sti();
        target.Hlt();
        Assert.Equal(0, vm.Vcpus[0].Hypercall(Vcpu.KvmHcKickCpu, 0, 1));
        vm.Vcpus[0].SendIpi(TestGuest.IcrLow(0x40, wakeBy), 1);

        Assert.Equal(wakeBy == DeliveryMode.Init ? GuestEventKind.Init : GuestEventKind.Vector, target.Take().Kind);

        Assert.Equal(PendingEvents.None, target.PendingEvents);
        if (wakeBy == DeliveryMode.Fixed)
        {
            target.Iret();
            target.Hlt();
            Assert.Equal(VcpuRunState.Halted, target.State);
            Assert.True(target.IsBlocking);
        }
    }

    [Fact]
    public void Wait_for_kick_announces_the_wait_itself()
    {
        // A vCPU thread that waits without PrepareToWait still gets the kick that follows: the wait
        // sets the flag kicks read before they signal.
        using var vm = EnabledVm(AccelKind.None, cpus: 2);
        var cpu = vm.Vcpus[0];
        Assert.False(cpu.IsBlocking);
        bool kicked = false;
        var waiter = new Thread(() => kicked = cpu.WaitForKick(TimeSpan.FromSeconds(30))); // bounded only for a failing run
        waiter.Start();

        bool announced = SpinWait.SpinUntil(() => cpu.IsBlocking, TimeSpan.FromSeconds(30));
        vm.Vcpus[1].SendFixed(0x40, 0);

        waiter.Join();
        Assert.True(announced);
        Assert.True(kicked);
    }

    [Fact]
    public void A_sipi_that_starts_an_ap_and_an_init_that_stops_it_move_avics_is_running_bit()
    {
        // An AP waiting for SIPI is not in guest mode: AVIC IPIs to it exit (target not running).
        // The SIPI that starts it makes it running, and the INIT that puts it back makes it not
        // running, though neither went through HLT or a wait.
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2, apsWaitForSipi: true);
        var (bsp, ap) = (vm.Vcpus[0], vm.Vcpus[1]);
        SendXApicIpi(bsp, Icr.Create(0x44, destinationHigh: 1u << 24));
        Assert.Equal(1, bsp.Exits[ExitReason.AvicIncompleteIpi]);

        SendXApicIpi(bsp, Icr.Create(0x10, DeliveryMode.StartUp, destinationHigh: 1u << 24));
        Assert.Equal(new GuestEvent(GuestEventKind.Sipi, 0x10), ap.Take());
        bsp.Exits.Clear();
        SendXApicIpi(bsp, Icr.Create(0x45, destinationHigh: 1u << 24));
        Assert.Equal(0, bsp.Exits[ExitReason.AvicIncompleteIpi]);
        Assert.Equal(0x45, ap.Apic.HighestIrr);

        SendXApicIpi(bsp, Icr.Create(0, DeliveryMode.Init, destinationHigh: 1u << 24));
        Assert.Equal(GuestEventKind.Init, ap.Take().Kind);
        Assert.Equal(VcpuRunState.WaitForSipi, ap.State);
        Assert.True(ap.Apic.WriteRegister(ApicOffset.Svr, 0x1FF)); // INIT disabled it: a disabled APIC drops the IPI
        bsp.Exits.Clear();
        SendXApicIpi(bsp, Icr.Create(0x46, destinationHigh: 1u << 24));
        Assert.Equal(1, bsp.Exits[ExitReason.AvicIncompleteIpi]);
    }

    [Fact]
    public void A_restored_run_state_moves_avics_is_running_bit()
    {
        // KVM_SET_MP_STATE through a restore: a vCPU restored halted is not in guest mode, so an
        // AVIC IPI to it exits (target not running); restored running, the IPI goes in directly.
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        var (sender, target) = (vm.Vcpus[0], vm.Vcpus[1]);
        var running = target.SaveEvents();
        Assert.Equal(VcpuRunState.Running, running.State);

        target.RestoreEvents(running with { State = VcpuRunState.Halted });
        SendXApicIpi(sender, Icr.Create(0x44, destinationHigh: 1u << 24));
        Assert.Equal(1, sender.Exits[ExitReason.AvicIncompleteIpi]);

        target.RestoreEvents(running);
        SendXApicIpi(sender, Icr.Create(0x45, destinationHigh: 1u << 24));
        Assert.Equal(1, sender.Exits[ExitReason.AvicIncompleteIpi]);
        Assert.Equal(0x45, target.Apic.HighestIrr);
    }
}
