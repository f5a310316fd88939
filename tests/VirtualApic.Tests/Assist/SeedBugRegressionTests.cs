// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Hypervisor;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// The bug VirtualApic was born from (KVM commit 0a19807b464f, kvm-reference.md section 8): an
/// x2APIC guest EOIs a level-triggered IOAPIC interrupt through MSR 0x80B under x2AVIC; the write
/// traps after landing in the page, and the handler must not re-read it through the RDMSR rules.
/// </summary>
public class SeedBugRegressionTests
{
    private const int Pin = 10;
    private const byte Vector = 0x51;

    private static (VirtualMachine Vm, Vcpu Cpu) LevelInterruptInService(AccelKind accel, bool x2Apic)
    {
        var vm = new VirtualMachine(new VmOptions { Cpus = 1, Accel = accel });
        var cpu = vm.Vcpus[0];
        if (x2Apic)
        {
            Assert.True(cpu.TryWriteMsr(ApicBase.Msr, 0xFEE0_0D00));
            Assert.True(cpu.TryWriteMsr(0x80F, 0x1FF));
        }
        else
        {
            cpu.MmioWrite(0xFEE0_00F0, 0x1FF, 4);
        }

        vm.IoApic.WriteEntry(Pin, RedirectionEntry.Create(Vector, trigger: TriggerMode.Level, destination: 0));
        vm.IoApic.SetLine(Pin, true);
        cpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, Vector), cpu.Take());
        Assert.True(vm.IoApic.GetRemoteIrr(Pin));
        Assert.True(cpu.Apic.Page.TestVector(ApicOffset.Tmr, Vector));
        return (vm, cpu);
    }

    private static void AssertEoiCompletedAndRedelivered(VirtualMachine vm, Vcpu cpu)
    {
        Assert.False(cpu.Apic.Page.TestVector(ApicOffset.Isr, Vector)); // the EOI completed
        Assert.Equal(0u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));     // PPR lowered
        Assert.True(cpu.Apic.Page.TestVector(ApicOffset.Irr, Vector) || cpu.Apic.HighestIrr == Vector); // line still asserted: re-delivered
        Assert.True(vm.IoApic.GetRemoteIrr(Pin));                         // ... which set Remote-IRR again

        // And the VM goes on: deassert, take the re-delivery, EOI, Remote-IRR clears for good.
        vm.IoApic.SetLine(Pin, false);
        cpu.Iret();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, Vector), cpu.Take());
        Assert.True(cpu.Apic.IsX2Apic ? cpu.TryWriteMsr(0x80B, 0) : WriteEoiMmio(cpu));
        Assert.False(vm.IoApic.GetRemoteIrr(Pin));
        Assert.Equal(-1, cpu.Apic.HighestIsr);
    }

    private static bool WriteEoiMmio(Vcpu cpu)
    {
        cpu.MmioWrite(0xFEE0_00B0, 0, 4);
        return true;
    }

    [Theory]
    [InlineData(0ul)]
    [InlineData(0x1234ul)] // KVM does not #GP a non-zero x2APIC EOI (kvm profile)
    public void X2Avic_level_eoi_traps_and_completes(ulong eoiValue)
    {
        var (vm, cpu) = LevelInterruptInService(AccelKind.X2Avic, x2Apic: true);
        Assert.True(vm.Accelerator.IsActive);

        long noAccel = cpu.Exits[ExitReason.AvicNoAccel], msrWrites = cpu.Exits[ExitReason.MsrWrite];
        Assert.True(cpu.TryWriteMsr(0x80B, eoiValue));

        Assert.Equal(1, cpu.Exits[ExitReason.AvicNoAccel] - noAccel);
        Assert.Equal(msrWrites, cpu.Exits[ExitReason.MsrWrite]); // EOI writes pass through to "hardware"
        Assert.False(cpu.TryReadMsr(0x80B, out _));      // RDMSR of the write-only EOI still faults
        AssertEoiCompletedAndRedelivered(vm, cpu);
    }

    [Fact]
    public void Apicv_level_eoi_is_virtualized_then_an_eoi_induced_exit_tells_the_ioapic()
    {
        var (vm, cpu) = LevelInterruptInService(AccelKind.Apicv, x2Apic: true);
        Assert.True(vm.Accelerator.IsActive);

        Assert.True(cpu.TryWriteMsr(0x80B, 0));

        Assert.Equal(1, cpu.Exits[ExitReason.EoiInduced]); // the EOI-exit bitmap had the level vector
        Assert.False(cpu.TryReadMsr(0x80B, out _));
        AssertEoiCompletedAndRedelivered(vm, cpu);
    }

    [Fact]
    public void Avic_xapic_twin_traps_on_the_mmio_eoi()
    {
        var (vm, cpu) = LevelInterruptInService(AccelKind.Avic, x2Apic: false);
        Assert.True(vm.Accelerator.IsActive);

        long noAccel = cpu.Exits[ExitReason.AvicNoAccel];
        cpu.MmioWrite(0xFEE0_00B0, 0, 4);

        Assert.Equal(1, cpu.Exits[ExitReason.AvicNoAccel] - noAccel);
        AssertEoiCompletedAndRedelivered(vm, cpu);
    }

    [Theory]
    [InlineData(AccelKind.X2Avic)]
    [InlineData(AccelKind.Apicv)]
    public void An_edge_eoi_is_fully_accelerated(AccelKind accel)
    {
        var vm = new VirtualMachine(new VmOptions { Cpus = 1, Accel = accel });
        var cpu = vm.Vcpus[0];
        Assert.True(cpu.TryWriteMsr(ApicBase.Msr, 0xFEE0_0D00));
        Assert.True(cpu.TryWriteMsr(0x80F, 0x1FF));
        vm.IoApic.WriteEntry(Pin, RedirectionEntry.Create(Vector, destination: 0));
        vm.IoApic.Pulse(Pin);
        cpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, Vector), cpu.Take());
        long before = cpu.Exits.Total;

        Assert.True(cpu.TryWriteMsr(0x80B, 0));

        Assert.Equal(before, cpu.Exits.Total);
        Assert.Equal(-1, cpu.Apic.HighestIsr);
    }

    [Fact]
    public void X2Avic_icr_trap_with_busy_set_delivers_once_and_reads_back_busy_clear()
    {
        var vm = new VirtualMachine(new VmOptions { Cpus = 2, Accel = AccelKind.X2Avic });
        foreach (var v in vm.Vcpus)
        {
            Assert.True(v.TryWriteMsr(ApicBase.Msr, v.Apic.ApicBaseMsr | ApicBase.ExtdBit));
            Assert.True(v.TryWriteMsr(0x80F, 0x1FF));
        }

        // Write the ICR into the page as the hardware would, BUSY set, and take the trap.
        var sender = vm.Vcpus[0];
        sender.Apic.Page.Write(ApicOffset.Icr, 0x0000_1061);
        sender.Apic.Page.Write(ApicOffset.Icr2, 1);
        ApicExitHandler.HandleTrapLikeWrite(sender.Apic, ApicOffset.Icr);

        Assert.True(vm.Vcpus[1].Apic.Page.TestVector(ApicOffset.Irr, 0x61));
        Assert.True(sender.TryReadMsr(0x830, out ulong icr));
        Assert.Equal(0x0000_0001_0000_0061ul, icr); // split storage read back as one value, BUSY clear
    }
}
