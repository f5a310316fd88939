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
/// AVIC_NOACCEL (#VMEXIT 0x402) for xAPIC MMIO under accel=avic (kvm-reference.md 6.2): trap-like
/// offsets exit once after the store landed and are emulated from the page; fault-like accesses exit
/// and emulate exactly as accel=none; accelerated accesses make no exit at all.
/// </summary>
public class AvicNoAccelTests
{
    // Offset, value written, value read back afterwards (the emulated mask), or null: compare with none only.
    public static TheoryData<int, uint, uint?> TrapWrites => new()
    {
        { ApicOffset.Id, 0x05AB_CDEF, 0x0500_0000 },
        { ApicOffset.Rrd, 0x1234_5678, null },
        { ApicOffset.Ldr, 0x02FF_FFFF, 0x0200_0000 },
        { ApicOffset.Dfr, 0x0000_1234, 0x0FFF_FFFF },
        { ApicOffset.Svr, 0xFFFF_F1FF, 0x0000_01FF },
        { ApicOffset.Esr, 0xFFFF_FFFF, 0 },
        { ApicOffset.LvtTimer, 0xFFFF_FFFF, null },
        { ApicOffset.LvtThermal, 0xFFFF_FFFF, ApicRegisterTable.LvtMask | ApicRegisterTable.LvtModeMask },
        { ApicOffset.LvtPmc, 0xFFFF_FFFF, ApicRegisterTable.LvtMask | ApicRegisterTable.LvtModeMask },
        { ApicOffset.LvtLint0, 0xFFFF_FFFF, ApicRegisterTable.LintMask }, // kvm profile: status bits writable (KVM LINT_MASK)
        { ApicOffset.LvtLint1, 0xFFFF_FFFF, ApicRegisterTable.LintMask }, // kvm profile: status bits writable (KVM LINT_MASK)
        { ApicOffset.LvtError, 0xFFFF_FFFF, ApicRegisterTable.LvtMask },
        { ApicOffset.Tmict, 100_000, 100_000 },
        { ApicOffset.Tdcr, 0xFFFF_FFFF, 0xB },
    };

    [Theory]
    [MemberData(nameof(TrapWrites))]
    public void A_trap_like_write_exits_once_and_is_emulated_from_the_page(int offset, uint value, uint? expected)
    {
        using var avic = EnabledVm(AccelKind.Avic);
        using var none = EnabledVm(AccelKind.None);
        var tracer = new RecordingTracer();
        avic.Tracer = tracer;
        Assert.True(avic.Accelerator.IsActive);
        var cpu = avic.Vcpus[0];

        Write(cpu, offset, value);
        Write(none.Vcpus[0], offset, value);

        Assert.Equal(1, cpu.Exits.Total);
        Assert.Equal(1, cpu.Exits[ExitReason.AvicNoAccel]);
        Assert.Equal([(0, ExitReason.AvicNoAccel, offset, true)], tracer.Exits);
        if (offset != ApicOffset.Rrd)
        {
            // RRR is read-only and its trap is ignored (KVM a790e338c7c4); its page slot is never readable.
            Assert.Equal(RegisterFile(none.Vcpus[0]), RegisterFile(cpu));
        }

        if (expected is { } e)
        {
            Assert.Equal(e, cpu.Apic.ReadRegisterRaw(offset));
        }
    }

    [Fact]
    public void Rrr_trap_changes_nothing_a_guest_can_see()
    {
        using var vm = EnabledVm(AccelKind.Avic, profile: VirtualApic.Profiles.ApicProfile.Architectural);
        var cpu = vm.Vcpus[0];
        uint[] before = RegisterFile(cpu);

        Write(cpu, ApicOffset.Rrd, 0xFFFF_FFFF);

        Assert.Equal(1, cpu.Exits[ExitReason.AvicNoAccel]);
        before[ApicOffset.Rrd >> 4] = cpu.Apic.ReadRegisterRaw(ApicOffset.Rrd);
        Assert.Equal(before, RegisterFile(cpu));
        Write(cpu, ApicOffset.Esr, 0);
        Assert.Equal(0u, cpu.Apic.ReadRegisterRaw(ApicOffset.Esr)); // ignored: no illegal-register error either
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_inhibited_avic_leaves_mmio_to_nested_page_faults_not_noaccel_exits(bool write)
    {
        // Inhibited, the APIC access page is unmapped: every access to the window is a nested page
        // fault that KVM emulates (the model's ApicAccess), AVIC_NOACCEL only while AVIC runs.
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        var cpu = vm.Vcpus[0];
        Write(vm.Vcpus[1], ApicOffset.Id, 0x0700_0000); // APIC_ID_MODIFIED
        Assert.False(vm.Accelerator.IsActive);
        cpu.Exits.Clear();

        if (write)
        {
            Write(cpu, ApicOffset.LvtError, 0x10000); // trap-like while active
        }
        else
        {
            _ = Read(cpu, ApicOffset.Tmcct); // fault-like while active
            _ = Read(cpu, ApicOffset.Tpr);   // accelerated while active
        }

        Assert.Equal(write ? 1 : 2, cpu.Exits[ExitReason.ApicAccess]);
        Assert.Equal(0, cpu.Exits[ExitReason.AvicNoAccel]);
    }

    [Fact]
    public void Ldr_and_dfr_traps_update_the_logical_table()
    {
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        var model = Assert.IsType<AvicModel>(vm.Accelerator);
        var cpu = vm.Vcpus[1];

        Write(cpu, ApicOffset.Ldr, 0x0400_0000); // flat, bit 2
        Assert.Equal(0x8000_0001u, model.LogicalEntry(2));

        Write(cpu, ApicOffset.Dfr, 0x0FFF_FFFF); // cluster: 0x04 is cluster 0, bit 2 -> index 2 still
        Write(cpu, ApicOffset.Ldr, 0x2100_0000); // cluster 2, bit 0 -> index 8
        Assert.Equal(0u, model.LogicalEntry(2));
        Assert.Equal(0x8000_0001u, model.LogicalEntry(8));
        Assert.Equal(3, cpu.Exits[ExitReason.AvicNoAccel]);
    }

    [Fact]
    public void Svr_trap_software_disable_masks_the_lvts()
    {
        using var vm = EnabledVm(AccelKind.Avic);
        var cpu = vm.Vcpus[0];
        Write(cpu, ApicOffset.LvtLint1, 0x40);
        Assert.Equal(0x40u, cpu.Apic.ReadRegisterRaw(ApicOffset.LvtLint1));

        Write(cpu, ApicOffset.Svr, 0xFF);

        Assert.False(cpu.Apic.IsSoftwareEnabled);
        Assert.Equal(0x40u | Lvt.MaskedBit, cpu.Apic.ReadRegisterRaw(ApicOffset.LvtLint1));
        Assert.Equal(2, cpu.Exits[ExitReason.AvicNoAccel]);
    }

    [Fact]
    public void Tmict_trap_arms_the_timer_and_it_fires()
    {
        using var vm = EnabledVm(AccelKind.Avic);
        var cpu = vm.Vcpus[0];
        Write(cpu, ApicOffset.Tdcr, 0xB);           // divide by 1
        Write(cpu, ApicOffset.LvtTimer, 0x45);      // one-shot, vector 0x45
        Write(cpu, ApicOffset.Tmict, 1000);

        Assert.Equal(3, cpu.Exits[ExitReason.AvicNoAccel]);
        Assert.True(cpu.Apic.Timer.IsArmed);
        vm.Clock.Advance(2_000_000);
        cpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x45), cpu.Take());
    }

    [Fact]
    public void Eoi_with_a_level_vector_in_service_traps_and_clears_remote_irr()
    {
        using var vm = EnabledVm(AccelKind.Avic);
        var cpu = vm.Vcpus[0];
        var tracer = new RecordingTracer();
        vm.Tracer = tracer;
        vm.IoApic.WriteEntry(3, RedirectionEntry.Create(0x61, trigger: TriggerMode.Level, destination: 0));
        vm.IoApic.SetLine(3, true);
        vm.IoApic.SetLine(3, false); // not re-delivered after the EOI
        cpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x61), cpu.Take());
        Assert.True(vm.IoApic.GetRemoteIrr(3));
        cpu.Exits.Clear();

        Write(cpu, ApicOffset.Eoi, 0);

        Assert.Equal(1, cpu.Exits.Total);
        Assert.Equal(1, cpu.Exits[ExitReason.AvicNoAccel]);
        Assert.Contains((0, ExitReason.AvicNoAccel, ApicOffset.Eoi, true), tracer.Exits);
        Assert.Equal(-1, cpu.Apic.HighestIsr);
        Assert.Equal(0u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
        Assert.False(vm.IoApic.GetRemoteIrr(3));
    }

    [Fact]
    public void An_edge_eoi_makes_no_exit()
    {
        using var vm = EnabledVm(AccelKind.Avic);
        var cpu = vm.Vcpus[0];
        var tracer = new RecordingTracer();
        vm.Tracer = tracer;
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x62));
        cpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x62), cpu.Take());
        Assert.Equal(0x60u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));

        Write(cpu, ApicOffset.Eoi, 0);

        Assert.Equal(0, cpu.Exits.Total);
        Assert.Equal(-1, cpu.Apic.HighestIsr);
        Assert.Equal(0u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
        Assert.Contains((0, 0x62), tracer.Eois);
    }

    // Write?, offset, size, value.
    public static TheoryData<bool, int, int, uint> FaultAccesses => new()
    {
        { false, ApicOffset.Tmcct, 4, 0 },
        { false, ApicOffset.Apr, 4, 0 },
        { false, 0x40, 4, 0 },
        { false, 0x400, 4, 0 },
        { false, ApicOffset.Eoi, 4, 0 },
        { false, ApicOffset.Id, 1, 0 },
        { false, ApicOffset.Id + 3, 1, 0 },
        { false, ApicOffset.Svr + 2, 2, 0 },
        { false, ApicOffset.Svr + 4, 4, 0 },
        { true, ApicOffset.Version, 4, 0xFFFF_FFFF },
        { true, ApicOffset.Ppr, 4, 0xF0 },
        { true, ApicOffset.Apr, 4, 0xF0 },
        { true, ApicOffset.Isr, 4, 0xFFFF_FFFF },
        { true, ApicOffset.Irr + 0x10, 4, 0xFFFF_FFFF },
        { true, ApicOffset.Tmcct, 4, 5 },
        { true, 0x40, 4, 0xFFFF_FFFF },
        { true, 0x400, 4, 0xFFFF_FFFF },
        { true, ApicOffset.Tpr, 1, 0x30 },
        { true, ApicOffset.Svr, 2, 0xFF },
        { true, ApicOffset.Ldr + 4, 4, 0xFF00_0000 },
    };

    [Theory]
    [MemberData(nameof(FaultAccesses))]
    public void A_fault_like_access_exits_and_emulates_exactly_as_none(bool write, int offset, int size, uint value)
    {
        using var avic = EnabledVm(AccelKind.Avic);
        using var none = EnabledVm(AccelKind.None);
        var tracer = new RecordingTracer();
        avic.Tracer = tracer;
        foreach (var vm in new[] { avic, none })
        {
            Assert.True(vm.Vcpus[0].Apic.WriteRegister(ApicOffset.Tmict, 1_000_000)); // TMCCT non-zero
            Assert.True(vm.Vcpus[0].Apic.WriteRegister(ApicOffset.Tpr, 0x20));
            vm.Vcpus[0].Exits.Clear();
        }

        var cpu = avic.Vcpus[0];
        ulong got = 0, expected = 0;
        if (write)
        {
            Write(cpu, offset, value, size);
            Write(none.Vcpus[0], offset, value, size);
        }
        else
        {
            got = Read(cpu, offset, size);
            expected = Read(none.Vcpus[0], offset, size);
        }

        Assert.Equal(expected, got);
        Assert.Equal(1, cpu.Exits.Total);
        Assert.Equal(1, cpu.Exits[ExitReason.AvicNoAccel]);
        Assert.Equal([(0, ExitReason.AvicNoAccel, offset, false)], tracer.Exits);
        Assert.Equal(1, none.Vcpus[0].Exits[ExitReason.ApicAccess]);
        Assert.Equal(RegisterFile(none.Vcpus[0]), RegisterFile(cpu));
    }

    [Fact]
    public void A_tmcct_read_is_computed_by_emulation()
    {
        using var vm = EnabledVm(AccelKind.Avic);
        var cpu = vm.Vcpus[0];
        Write(cpu, ApicOffset.Tdcr, 0xB);
        Write(cpu, ApicOffset.Tmict, 1_000_000);
        vm.Clock.Advance(1000); // 1 us at 1000 MHz: 1000 ticks

        Assert.Equal(999_000ul, Read(cpu, ApicOffset.Tmcct));
        Assert.Equal(3, cpu.Exits[ExitReason.AvicNoAccel]);
    }

    public static TheoryData<int> AcceleratedReads => new()
    {
        ApicOffset.Id, ApicOffset.Version, ApicOffset.Tpr, ApicOffset.Ppr, ApicOffset.Ldr, ApicOffset.Dfr, ApicOffset.Svr,
        ApicOffset.Isr, ApicOffset.Isr + 0x70, ApicOffset.Tmr, ApicOffset.Irr, ApicOffset.Irr + 0x30, ApicOffset.Esr,
        ApicOffset.Icr, ApicOffset.Icr2, ApicOffset.LvtTimer, ApicOffset.LvtThermal, ApicOffset.LvtPmc, ApicOffset.LvtLint0,
        ApicOffset.LvtLint1, ApicOffset.LvtError, ApicOffset.Tmict, ApicOffset.Tdcr,
    };

    [Theory]
    [MemberData(nameof(AcceleratedReads))]
    public void An_accelerated_read_makes_no_exit_and_reads_what_emulation_reads(int offset)
    {
        using var avic = EnabledVm(AccelKind.Avic, cpus: 2);
        using var none = EnabledVm(AccelKind.None, cpus: 2);
        foreach (var vm in new[] { avic, none })
        {
            var c = vm.Vcpus[1];
            Assert.True(c.Apic.WriteRegister(ApicOffset.Ldr, 0x0200_0000));
            Assert.True(c.Apic.WriteRegister(ApicOffset.Tpr, 0x10));
            Assert.True(c.Apic.WriteRegister(ApicOffset.Tmict, 12345));
            Assert.True(c.Apic.WriteRegister(ApicOffset.Icr2, 0x0100_0000));
            Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(1), 0xE5));
            Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(1), 0x35));
            c.Sti();
            Assert.Equal(0xE5, c.Take().Vector);
            c.Exits.Clear();
        }

        var cpu = avic.Vcpus[1];
        ulong got = Read(cpu, offset);

        Assert.Equal(Read(none.Vcpus[1], offset), got);
        Assert.Equal(0, cpu.Exits.Total);
    }

    [Fact]
    public void Tpr_and_icr2_writes_make_no_exit()
    {
        using var vm = EnabledVm(AccelKind.Avic);
        var cpu = vm.Vcpus[0];

        Write(cpu, ApicOffset.Tpr, 0x35);
        Write(cpu, ApicOffset.Icr2, 0x07FF_FFFF);

        Assert.Equal(0, cpu.Exits.Total);
        Assert.Equal(0x35u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
        Assert.Equal(0x0700_0000u, cpu.Apic.ReadRegisterRaw(ApicOffset.Icr2));
    }
}
