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
/// Intel APICv (kvm-reference.md section 7): APIC-register virtualization, APIC-write exits, TPR and EOI
/// virtualization with the EOI-exit bitmap, posted interrupts (PIR, ON, NV) and IPI virtualization.
/// </summary>
public class ApicvTests
{
    private static ApicvModel Model(VirtualMachine vm) => Assert.IsType<ApicvModel>(vm.Accelerator);

    public static TheoryData<int> VirtualizedReads => new()
    {
        ApicOffset.Id, ApicOffset.Version, ApicOffset.Tpr, ApicOffset.Ldr, ApicOffset.Dfr, ApicOffset.Svr, ApicOffset.Isr,
        ApicOffset.Tmr + 0x10, ApicOffset.Irr + 0x70, ApicOffset.Esr, ApicOffset.Icr, ApicOffset.Icr2, ApicOffset.LvtTimer,
        ApicOffset.LvtLint0, ApicOffset.LvtError, ApicOffset.Tmict, ApicOffset.Tdcr,
    };

    [Theory]
    [MemberData(nameof(VirtualizedReads))]
    public void A_virtualized_xapic_read_makes_no_exit(int offset)
    {
        using var apicv = EnabledVm(AccelKind.Apicv);
        using var none = EnabledVm(AccelKind.None);
        foreach (var vm in new[] { apicv, none })
        {
            Assert.True(vm.Vcpus[0].Apic.WriteRegister(ApicOffset.Tmict, 777));
            Assert.True(vm.Vcpus[0].Apic.WriteRegister(ApicOffset.Ldr, 0x0100_0000));
            Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0xFE));
            vm.Vcpus[0].Exits.Clear();
        }

        var cpu = apicv.Vcpus[0];
        Assert.Equal(Read(none.Vcpus[0], offset), Read(cpu, offset));
        Assert.Equal(0, cpu.Exits.Total);
    }

    [Fact]
    public void A_tmcct_read_is_an_apic_access_exit()
    {
        using var vm = EnabledVm(AccelKind.Apicv);
        var cpu = vm.Vcpus[0];
        Write(cpu, ApicOffset.Tdcr, 0xB);
        Write(cpu, ApicOffset.Tmict, 5000);
        vm.Clock.Advance(1000);
        cpu.Exits.Clear();

        Assert.Equal(4000ul, Read(cpu, ApicOffset.Tmcct));
        Assert.Equal(1, cpu.Exits.Total);
        Assert.Equal(1, cpu.Exits[ExitReason.ApicAccess]);
    }

    public static TheoryData<int, uint> TrapWrites => new()
    {
        { ApicOffset.Id, 0x0300_0000 },
        { ApicOffset.Ldr, 0x8000_0000 },
        { ApicOffset.Dfr, 0x0FFF_FFFF },
        { ApicOffset.Svr, 0x13F },
        { ApicOffset.Esr, 0xFFFF_FFFF },
        { ApicOffset.LvtTimer, 0x0002_0040 },
        { ApicOffset.LvtThermal, 0xFFFF_FFFF },
        { ApicOffset.LvtPmc, 0x0000_0400 },
        { ApicOffset.LvtLint0, 0x0000_8721 },
        { ApicOffset.LvtLint1, 0x0000_0400 },
        { ApicOffset.LvtError, 0x0000_00F3 },
        { ApicOffset.Tmict, 4096 },
        { ApicOffset.Tdcr, 0x0000_000A },
    };

    [Theory]
    [MemberData(nameof(TrapWrites))]
    public void An_xapic_register_write_is_a_trap_like_apic_write_exit(int offset, uint value)
    {
        using var apicv = EnabledVm(AccelKind.Apicv);
        using var none = EnabledVm(AccelKind.None);
        var tracer = new RecordingTracer();
        apicv.Tracer = tracer;
        var cpu = apicv.Vcpus[0];

        Write(cpu, offset, value);
        Write(none.Vcpus[0], offset, value);

        Assert.Equal(1, cpu.Exits.Total);
        Assert.Equal(1, cpu.Exits[ExitReason.ApicWrite]);
        Assert.Equal([(0, ExitReason.ApicWrite, offset, true)], tracer.Exits);
        Assert.Equal(RegisterFile(none.Vcpus[0]), RegisterFile(cpu));
    }

    [Fact]
    public void A_tpr_write_is_virtualized_and_lowering_it_exposes_the_pending_vector()
    {
        using var vm = EnabledVm(AccelKind.Apicv);
        var cpu = vm.Vcpus[0];
        Write(cpu, ApicOffset.Tpr, 0x57);
        Assert.Equal(0x57u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x45));
        cpu.Sti();
        Assert.Equal(GuestEventKind.None, cpu.Take().Kind);

        Write(cpu, ApicOffset.Tpr, 0x10);

        Assert.Equal(0x10u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x45), cpu.Take());
        Assert.Equal(0, cpu.Exits.Total);
    }

    [Fact]
    public void An_edge_eoi_is_virtualized_without_an_exit()
    {
        using var vm = EnabledVm(AccelKind.Apicv);
        var cpu = vm.Vcpus[0];
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x71));
        Assert.Equal([0x71], TakeAll(cpu));
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x92));
        Assert.Equal([0x92], TakeAll(cpu)); // nested
        Assert.Equal(0x90u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
        Assert.Equal(0x92, ApicvModel.Svi(cpu.Apic));

        Write(cpu, ApicOffset.Eoi, 0);

        Assert.Equal(0x71, ApicvModel.Svi(cpu.Apic));
        Assert.Equal(0x70u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
        Write(cpu, ApicOffset.Eoi, 0);
        Assert.Equal(-1, cpu.Apic.HighestIsr);
        Assert.Equal(0, cpu.Exits.Total);
    }

    [Fact]
    public void A_level_ioapic_eoi_is_an_eoi_induced_exit_that_clears_remote_irr()
    {
        using var vm = EnabledVm(AccelKind.Apicv);
        var cpu = vm.Vcpus[0];
        var tracer = new RecordingTracer();
        vm.Tracer = tracer;
        vm.IoApic.WriteEntry(7, RedirectionEntry.Create(0x66, trigger: TriggerMode.Level, destination: 0));
        vm.IoApic.SetLine(7, true);
        vm.IoApic.SetLine(7, false);
        cpu.Sti();
        Assert.Equal(0x66, cpu.Take().Vector);
        Assert.True(vm.IoApic.GetRemoteIrr(7));
        Assert.True(cpu.Apic.IsIoApicHandled(0x66)); // in the EOI-exit bitmap

        Write(cpu, ApicOffset.Eoi, 0);

        Assert.Equal(1, cpu.Exits.Total);
        Assert.Equal(1, cpu.Exits[ExitReason.EoiInduced]);
        Assert.Contains((0, ExitReason.EoiInduced, 0x66, true), tracer.Exits);
        Assert.False(vm.IoApic.GetRemoteIrr(7));
        Assert.Equal(-1, cpu.Apic.HighestIsr);
    }

    [Fact]
    public void An_msi_is_posted_into_the_pir_and_the_irr_probe_syncs_it()
    {
        using var vm = EnabledVm(AccelKind.Apicv);
        var cpu = vm.Vcpus[0];
        var pid = Model(vm).Descriptor(0);

        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x83));

        Assert.True(pid.TestPir(0x83));
        Assert.True(pid.OutstandingNotification);
        Assert.False(cpu.Apic.Page.TestVector(ApicOffset.Irr, 0x83)); // not in the vIRR before sync
        Assert.Equal(0x83, cpu.Apic.HighestIrr);                      // sync_pir_to_irr
        Assert.False(pid.TestPir(0x83));
        Assert.False(pid.OutstandingNotification);
        Assert.True(cpu.Apic.Page.TestVector(ApicOffset.Irr, 0x83));
        Assert.Equal(0x83, ApicvModel.Rvi(cpu.Apic));
    }

    [Fact]
    public void The_notification_vector_switches_to_wakeup_while_halted()
    {
        using var vm = EnabledVm(AccelKind.Apicv);
        var cpu = vm.Vcpus[0];
        var pid = Model(vm).Descriptor(0);
        Assert.Equal(PostedInterruptDescriptor.NotificationVector, pid.Nv);
        Assert.Equal(0u, pid.Ndst);

        cpu.Hlt();
        Assert.Equal(PostedInterruptDescriptor.WakeupVector, pid.Nv);

        long kicks = cpu.Kicks;
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x58));
        Assert.Equal(kicks + 1, cpu.Kicks);           // the blocked vCPU is woken
        Assert.True(cpu.WaitForKick(TimeSpan.Zero));
        cpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x58), cpu.Take());
        Assert.Equal(VcpuRunState.Running, cpu.State);
        Assert.Equal(PostedInterruptDescriptor.NotificationVector, pid.Nv);
    }

    [Fact]
    public void A_vector_posted_twice_is_delivered_once_and_notifies_once()
    {
        using var vm = EnabledVm(AccelKind.Apicv);
        var cpu = vm.Vcpus[0];
        var pid = Model(vm).Descriptor(0);
        long kicks = cpu.Kicks, notifications = pid.Notifications;

        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x77));
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x77));
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x98)); // new PIR bit, but ON already set

        Assert.Equal(kicks + 1, cpu.Kicks);
        Assert.Equal(notifications + 1, pid.Notifications);
        Assert.Equal([0x98], TakeAll(cpu));
        Write(cpu, ApicOffset.Eoi, 0);
        Assert.Equal([0x77], TakeAll(cpu));
        Write(cpu, ApicOffset.Eoi, 0);
        Assert.Empty(TakeAll(cpu));
        Assert.Equal(notifications + 1, pid.Notifications); // the sync cleared ON: still one

        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x77)); // ON clear again: a new notification
        Assert.Equal(notifications + 2, pid.Notifications);
        Assert.Equal([0x77], TakeAll(cpu));
        Write(cpu, ApicOffset.Eoi, 0);
        Assert.Equal(notifications + 2, pid.Notifications);
        Assert.Equal(0, cpu.Exits.Total);
    }

    [Fact]
    public void Ipiv_delivers_a_fixed_physical_ipi_without_an_exit()
    {
        using var vm = EnabledVm(AccelKind.Apicv, cpus: 3);
        var sender = vm.Vcpus[0];

        SendXApicIpi(sender, Icr.Create(0x4A, destinationHigh: 2u << 24));

        Assert.Equal(0, sender.Exits.Total);
        Assert.True(Model(vm).Descriptor(2).TestPir(0x4A));
        Assert.Equal([0x4A], TakeAll(vm.Vcpus[2]));
        Assert.Empty(TakeAll(vm.Vcpus[1]));
    }

    public static TheoryData<string, ulong, int[]> UnvirtualizedIpis => new()
    {
        { "lowest priority", Icr.Create(0x4B, DeliveryMode.LowestPriority, destinationHigh: 2u << 24).Raw, [2] },
        { "logical", Icr.Create(0x4C, destinationMode: DestinationMode.Logical, destinationHigh: 6u << 24).Raw, [1, 2] },
        { "all excluding self", Icr.Create(0x4D, shorthand: DestinationShorthand.AllExcludingSelf).Raw, [1, 2] },
        { "level fixed", Icr.Create(0x4E, trigger: TriggerMode.Level, destinationHigh: 1u << 24).Raw, [1] },
        { "physical broadcast", Icr.Create(0x4F, destinationHigh: 0xFFu << 24).Raw, [0, 1, 2] },
    };

    [Theory]
    [MemberData(nameof(UnvirtualizedIpis))]
    public void Any_other_ipi_is_an_apic_write_exit_and_still_delivered(string what, ulong icr, int[] targets)
    {
        _ = what;
        using var vm = EnabledVm(AccelKind.Apicv, cpus: 3);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(vm.Vcpus[i].Apic.WriteRegister(ApicOffset.Ldr, (1u << i) << 24));
        }

        var sender = vm.Vcpus[0];
        var tracer = new RecordingTracer();
        vm.Tracer = tracer;

        SendXApicIpi(sender, new Icr(icr));

        Assert.Equal(1, sender.Exits.Total);
        Assert.Equal(1, sender.Exits[ExitReason.ApicWrite]);
        Assert.Equal([(0, ExitReason.ApicWrite, ApicOffset.Icr, true)], tracer.Exits);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(targets.Contains(i) ? [new Icr(icr).Vector] : [], TakeAll(vm.Vcpus[i]));
        }
    }

    [Theory]
    [InlineData(DeliveryMode.Fixed, 0)]          // IPIv: no exit
    [InlineData(DeliveryMode.LowestPriority, 1)] // APIC-write exit, nodecode clears BUSY (KVM 629d3698f695)
    public void An_x2apic_icr_with_busy_set_delivers_once_and_reads_back_busy_clear(DeliveryMode mode, int exits)
    {
        using var vm = EnabledVm(AccelKind.Apicv, cpus: 2);
        EnterX2Apic(vm);
        var sender = vm.Vcpus[0];
        ulong icr = Icr.Create(0x5C, mode, destinationHigh: 1).Raw | Icr.BusyBit;

        Assert.True(sender.TryWriteMsr(0x830, icr));

        Assert.Equal(exits, sender.Exits.Total);
        Assert.Equal([0x5C], TakeAll(vm.Vcpus[1]));
        Assert.Empty(TakeAll(vm.Vcpus[1]));
        Assert.True(sender.TryReadMsr(0x830, out ulong back));
        Assert.Equal(icr & ~(ulong)Icr.BusyBit, back);
    }

    [Fact]
    public void An_xapic_icr_with_busy_set_reads_back_busy_clear_as_under_emulation()
    {
        using var apicv = EnabledVm(AccelKind.Apicv, cpus: 2);
        using var none = EnabledVm(AccelKind.None, cpus: 2);
        var icr = new Icr(Icr.Create(0x5D, destinationHigh: 1u << 24).Raw | Icr.BusyBit);

        SendXApicIpi(apicv.Vcpus[0], icr);
        SendXApicIpi(none.Vcpus[0], icr);

        Assert.Equal(Read(none.Vcpus[0], ApicOffset.Icr), Read(apicv.Vcpus[0], ApicOffset.Icr));
        Assert.Equal(0x5Dul | 0x4000, Read(apicv.Vcpus[0], ApicOffset.Icr));
        Assert.Equal([0x5D], TakeAll(apicv.Vcpus[1]));
    }
}
