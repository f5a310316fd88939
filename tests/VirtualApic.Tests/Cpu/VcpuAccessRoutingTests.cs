// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Cpu;

/// <summary>
/// Where the vCPU sends each guest and host access: which MSRs reach the APIC's exit path, which
/// rules a host write follows, what an access of a size no instruction makes does, and what stays
/// out of the guest's bus. Each test stands for a mutant of <see cref="Vcpu"/> the rest of the suite
/// let live (docs/reliability.md, "Cpu, thirtieth session").
/// </summary>
public class VcpuAccessRoutingTests
{
    [Fact]
    public void Rdmsr_of_the_tsc_reads_the_tsc_of_the_vms_clock()
    {
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];
        vm.Clock.Advance(1_000_000);

        Assert.True(cpu.TryReadMsr(Vcpu.MsrTsc, out ulong tsc));

        Assert.Equal(cpu.Rdtsc(), tsc);
        Assert.NotEqual(0ul, tsc);
        Assert.Equal(0, cpu.Exits[ExitReason.MsrRead]); // IA32_TSC is not intercepted
    }

    [Theory]
    [InlineData(ApicOffset.X2ApicMsrBase)]
    [InlineData(ApicOffset.X2ApicMsrLast)]
    public void The_ends_of_the_x2apic_msr_range_exit_to_the_apic_and_fault_there(uint msr)
    {
        // 0x800 and 0x8FF are in the range KVM intercepts (kvm_x2apic_msr_read), where they are
        // reserved: an MSR exit, then #GP. Outside the range nothing exits.
        using var vm = EnabledVm(AccelKind.None);
        EnterX2Apic(vm);
        var cpu = vm.Vcpus[0];

        Assert.False(cpu.TryReadMsr(msr, out _));
        Assert.Equal(1, cpu.Exits[ExitReason.MsrRead]);
        Assert.False(cpu.TryReadMsr(msr == ApicOffset.X2ApicMsrBase ? msr - 1 : msr + 1, out _));
        Assert.Equal(1, cpu.Exits[ExitReason.MsrRead]);
    }

    [Fact]
    public void A_host_apic_base_write_may_leave_x2apic_mode_directly_where_the_guest_faults()
    {
        // SDM 11.12.5: x2APIC -> xAPIC is an invalid transition for the guest (#GP); KVM lets the host
        // set any valid mode (kvm_apic_set_base with host_initiated, KVM_SET_MSRS).
        using var vm = EnabledVm(AccelKind.None);
        EnterX2Apic(vm);
        var cpu = vm.Vcpus[0];
        ulong xapic = cpu.Apic.ApicBaseMsr & ~ApicBase.ExtdBit;

        Assert.False(cpu.TryWriteMsr(ApicBase.Msr, xapic));
        Assert.True(cpu.Apic.IsX2Apic);

        Assert.True(cpu.HostWriteMsr(ApicBase.Msr, xapic));
        Assert.False(cpu.Apic.IsX2Apic);
        Assert.Equal(xapic, cpu.Apic.ApicBaseMsr);
    }

    [Fact]
    public void A_host_tsc_deadline_write_arms_the_deadline_timer()
    {
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];
        Write(cpu, ApicOffset.LvtTimer, 0x4_0031); // TSC-deadline mode, vector 0x31
        ulong deadline = cpu.Rdtsc() + 1_000;

        Assert.True(cpu.HostWriteMsr(Vcpu.MsrTscDeadline, deadline));

        Assert.True(cpu.TryReadMsr(Vcpu.MsrTscDeadline, out ulong read));
        Assert.Equal(deadline, read);
        Assert.Equal(-1, cpu.Apic.HighestIrr);
        vm.Clock.Advance(1_000_000);
        Assert.Equal(0x31, cpu.Apic.HighestIrr);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(16)]
    public void An_access_of_a_size_no_instruction_makes_reads_0_and_writes_nothing(int size)
    {
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];
        ulong tpr = cpu.Apic.BaseAddress + ApicOffset.Tpr;
        Write(cpu, ApicOffset.Tpr, 0x20);
        cpu.Exits.Clear();

        Assert.Equal(0ul, cpu.MmioRead(tpr, size));
        cpu.MmioWrite(tpr, 0x50, size);

        Assert.Equal(0x20u, cpu.Apic.Tpr);
        Assert.Equal(0, cpu.Exits[ExitReason.ApicAccess]);
    }

    [Fact]
    public void A_store_to_the_apic_window_stays_out_of_the_bus()
    {
        using var vm = EnabledVm(AccelKind.None);
        var cpu = vm.Vcpus[0];
        var bus = new RecordingBus();
        cpu.Bus = bus;

        Write(cpu, ApicOffset.Tpr, 0x30);
        cpu.MmioWrite(0xFEC0_0000, 0x12, 4);

        Assert.Equal(0x30u, cpu.Apic.Tpr);
        Assert.Equal([0xFEC0_0000ul], bus.Stores);
    }

    private sealed class RecordingBus : IGuestBus
    {
        public List<ulong> Stores { get; } = [];

        public ulong MmioRead(Vcpu vcpu, ulong gpa, int size) => 0;

        public void MmioWrite(Vcpu vcpu, ulong gpa, ulong value, int size) => Stores.Add(gpa);
    }
}
