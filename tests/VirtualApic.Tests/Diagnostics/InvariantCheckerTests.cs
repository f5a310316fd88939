// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Diagnostics;
using VirtualApic.Fabric;
using VirtualApic.Hypervisor;
using VirtualApic.Registers;
using VirtualApic.Scenarios.Fuzzing;
using VirtualApic.Scenarios.Running;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Diagnostics;

/// <summary>
/// The fuzz oracle observes without side effects, and every invariant it checks fails on a state
/// broken on purpose (issue 13: a check that cannot fail is no check).
/// </summary>
public class InvariantCheckerTests
{
    private static void Post(VirtualMachine vm, int cpu, byte vector) =>
        vm.DeliverFromDevice(InterruptMessage.Fixed(vector, (uint)cpu));

    [Fact]
    public void Reading_the_digest_and_checking_the_invariants_changes_nothing()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.Apicv, cpus: 2);
        Post(vm, 1, 0x61);
        var pid = ((ApicvModel)vm.Accelerator).Descriptor(1);
        Assert.True(pid.TestPir(0x61)); // posted, not yet in the IRR
        var apic = vm.Vcpus[1].Apic;
        apic.Page.Write(ApicOffset.Ppr, 0x30); // stale on purpose: the oracle must report it, not repair it
        byte[] page = new byte[4096];
        apic.Page.CopyTo(page);

        string digest = StateDigest.Of(vm);
        var problems = InvariantChecker.Check(vm);
        new ConservationTracker().Step(vm, StepLicense.None);

        Assert.True(pid.TestPir(0x61));
        Assert.True(pid.OutstandingNotification);
        byte[] after = new byte[4096];
        apic.Page.CopyTo(after);
        Assert.Equal(page, after);
        Assert.Contains(",IRR3=2,", digest, StringComparison.Ordinal); // the digest shows IRR | PIR
        Assert.Contains(problems, p => p.Contains("PPR 0x30 as stored", StringComparison.Ordinal));
    }

    [Fact]
    public void A_stale_PPR_is_reported()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        Assert.Empty(InvariantChecker.Check(vm));
        vm.Vcpus[0].Apic.Page.Write(ApicOffset.Tpr, 0x50); // TPR written without UpdatePpr
        Assert.Contains(InvariantChecker.Check(vm), p => p.StartsWith("cpu0: PPR", StringComparison.Ordinal));
    }

    [Fact]
    public void Two_in_service_vectors_of_one_class_are_reported()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        var apic = vm.Vcpus[0].Apic;
        apic.Page.SetVector(ApicOffset.Isr, 0x41);
        apic.Page.SetVector(ApicOffset.Isr, 0x45);
        apic.RefreshIsrCache();
        Assert.Contains(InvariantChecker.Check(vm), p => p.Contains("more than one vector of priority class 4", StringComparison.Ordinal));
    }

    [Fact]
    public void A_halted_vcpu_with_a_deliverable_event_and_no_wakeup_is_reported()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        var cpu = vm.Vcpus[0];
        cpu.Sti();
        cpu.Hlt();
        Assert.Empty(InvariantChecker.Check(vm));
        cpu.Apic.Page.SetVector(ApicOffset.Irr, 0x80); // pending without the kick a delivery makes
        Assert.Contains(InvariantChecker.Check(vm), p => p.Contains("halted with a deliverable event", StringComparison.Ordinal));
        Assert.DoesNotContain(InvariantChecker.Check(vm, c => c == 0), p => p.Contains("halted", StringComparison.Ordinal));
    }

    [Fact]
    public void A_halt_with_an_event_already_pending_latches_the_wakeup()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        var cpu = vm.Vcpus[0];
        Post(vm, 0, 0x80);
        cpu.Sti();
        cpu.Hlt();
        Assert.True(StoredState.WakeLatched(cpu));
        Assert.True(cpu.WaitForKick(TimeSpan.Zero));
        Assert.Empty(InvariantChecker.Check(vm));
    }

    [Fact]
    public void A_level_vector_whose_EOI_cannot_reach_the_IOAPIC_is_reported()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        vm.IoApic.WriteEntry(5, RedirectionEntry.Create(0x55, trigger: TriggerMode.Level, destination: 0));
        vm.IoApic.SetLine(5, true);
        Assert.True(vm.IoApic.GetEntry(5).RemoteIrr);
        Assert.Empty(InvariantChecker.Check(vm));
        // A scan that forgets the pending vector: cpu0 holds 0x55 but it is not IOAPIC-handled.
        vm.IoApic.WriteEntry(5, RedirectionEntry.Create(0x55, trigger: TriggerMode.Level, destination: 1));
        foreach (var v in vm.Vcpus)
        {
            v.Apic.SyncIrr(); // each vCPU serves its scan request, as before it next runs
        }

        vm.Vcpus[0].Apic.SetIoApicHandled(0x55, false);
        Assert.Contains(InvariantChecker.Check(vm), p => p.Contains("level IOAPIC pin 5 (Remote-IRR set)", StringComparison.Ordinal));
    }

    [Fact]
    public void A_retargeted_level_entry_keeps_the_in_service_vector_IOAPIC_handled()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        vm.IoApic.WriteEntry(5, RedirectionEntry.Create(0x55, trigger: TriggerMode.Level, destination: 0));
        vm.IoApic.SetLine(5, true);
        var cpu = vm.Vcpus[0];
        cpu.Sti();
        Assert.Equal(GuestEventKind.Vector, cpu.Take().Kind);
        vm.IoApic.WriteEntry(5, RedirectionEntry.Create(0x55, trigger: TriggerMode.Level, destination: 1));
        Assert.Empty(InvariantChecker.Check(vm)); // KVM kvm_apic_pending_eoi keeps 0x55 handled on cpu0
        vm.IoApic.SetLine(5, false);
        Assert.True(cpu.Apic.WriteRegister(ApicOffset.Eoi, 0));
        Assert.False(vm.IoApic.GetEntry(5).RemoteIrr);
    }

    [Fact]
    public void An_armed_timer_without_a_count_is_reported()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        var apic = vm.Vcpus[0].Apic;
        Assert.True(apic.WriteRegister(ApicOffset.LvtTimer, 0x40));
        Assert.True(apic.WriteRegister(ApicOffset.Tmict, 1000));
        Assert.Empty(InvariantChecker.Check(vm));
        apic.Page.Write(ApicOffset.Tmict, 0);
        Assert.Contains(InvariantChecker.Check(vm), p => p.Contains("timer armed with TMICT 0", StringComparison.Ordinal));
    }

    [Fact]
    public void A_timer_mode_that_disagrees_with_the_LVT_is_reported()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        var apic = vm.Vcpus[0].Apic;
        apic.Page.Write(ApicOffset.LvtTimer, 0x20040); // periodic in the page, one-shot latched
        Assert.Contains(InvariantChecker.Check(vm), p => p.Contains("latched mode OneShot but LVT timer says Periodic", StringComparison.Ordinal));
    }

    [Fact]
    public void A_vanished_vector_breaks_conservation_and_a_licensed_reset_does_not()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        var tracker = new ConservationTracker();
        Post(vm, 0, 0x70);
        Assert.Empty(tracker.Step(vm, StepLicense.None));
        vm.Vcpus[0].Apic.Page.ClearVector(ApicOffset.Irr, 0x70);
        Assert.Contains(tracker.Step(vm, StepLicense.None), p => p.Contains("0x70 vanished", StringComparison.Ordinal));

        Post(vm, 0, 0x71);
        Assert.Empty(tracker.Step(vm, StepLicense.None));
        vm.Vcpus[0].Apic.Page.ClearVector(ApicOffset.Irr, 0x71);
        Assert.Empty(tracker.Step(vm, StepLicense.MayResetApic));
        Assert.Equal(1, tracker.Dropped[0x71]);
    }

    [Fact]
    public void A_deferred_PV_EOI_lets_its_vector_be_taken_again_in_one_step_but_not_vanish()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        var ram = new SparseGuestMemory();
        vm.GuestMemory = ram;
        var cpu = vm.Vcpus[0];
        Assert.True(cpu.TryWriteMsr(PvEoi.Msr, 0x2000 | PvEoi.EnableBit));
        var tracker = new ConservationTracker();
        tracker.Step(vm, StepLicense.None);
        Post(vm, 0, 0x70);
        Assert.Empty(tracker.Step(vm, StepLicense.None));
        Assert.Equal(0x70, cpu.StiTake().Vector);
        Assert.Empty(tracker.Step(vm, StepLicense.None));
        Assert.True(cpu.PvEoi.Pending);
        Assert.True(ram.TryWrite(0x2000, [0])); // the guest's PV EOI: no exit, 0x70 stays in service
        Post(vm, 0, 0x70);
        Assert.Empty(tracker.Step(vm, StepLicense.None));

        // The take's entry performs the deferred EOI, then takes the second 0x70: in service before
        // and after, its IRR bit gone. Taken and completed once more, nothing vanished.
        Assert.Equal(0x70, cpu.StiTake().Vector);
        Assert.Empty(tracker.Step(vm, StepLicense.None));
        Assert.Equal((2, 1), (tracker.Taken[0x70], tracker.Completed[0x70]));

        // The same shape broken on purpose: a deferred PV EOI whose vector's IRR bit is dropped
        // without a take (out of service and not pending after) is a loss.
        Assert.True(cpu.PvEoi.Pending);
        Assert.True(ram.TryWrite(0x2000, [0]));
        Post(vm, 0, 0x70);
        Assert.Empty(tracker.Step(vm, StepLicense.None));
        cpu.MmioRead(0xFEE0_0000ul + ApicOffset.Tpr, 4); // an exit: the deferred EOI is performed
        cpu.Apic.Page.ClearVector(ApicOffset.Irr, 0x70);
        Assert.Contains(tracker.Step(vm, StepLicense.None), p => p.Contains("0x70 vanished", StringComparison.Ordinal));
    }

    [Fact]
    public void Conservation_follows_a_vector_from_arrival_to_EOI_and_rejects_shortcuts()
    {
        using var vm = AssistTestKit.EnabledVm(AccelKind.None, cpus: 2);
        var cpu = vm.Vcpus[0];
        var tracker = new ConservationTracker();
        tracker.Step(vm, StepLicense.None);
        Post(vm, 0, 0x70);
        Post(vm, 0, 0x90);
        Assert.Empty(tracker.Step(vm, StepLicense.None));
        cpu.Sti();
        Assert.Equal(0x90, cpu.Take().Vector);
        Assert.Empty(tracker.Step(vm, StepLicense.None));
        cpu.Iret();
        Assert.Equal(0x90, cpu.Apic.EndOfInterrupt().Vector);
        Assert.Empty(tracker.Step(vm, StepLicense.None));
        Assert.Equal((1, 1, 1), (tracker.Arrived[0x90], tracker.Taken[0x90], tracker.Completed[0x90]));

        // An ISR bit that appears without having been pending, and one that an "EOI" clears out of order.
        cpu.Apic.Page.SetVector(ApicOffset.Isr, 0xA0);
        Assert.Contains(tracker.Step(vm, StepLicense.None), p => p.Contains("0xa0 entered service without having been pending", StringComparison.Ordinal));
        Assert.Equal(0x70, cpu.Take().Vector);
        tracker.Step(vm, StepLicense.None);
        cpu.Apic.Page.ClearVector(ApicOffset.Isr, 0x70);
        Assert.Contains(tracker.Step(vm, StepLicense.None), p => p.Contains("0x70 left service but an EOI clears only the highest in service (0xa0)", StringComparison.Ordinal));
    }
}
