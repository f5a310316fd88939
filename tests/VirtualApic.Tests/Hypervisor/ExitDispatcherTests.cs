// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Hypervisor;
using VirtualApic.Registers;
using VirtualApic.Scenarios.Running;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Hypervisor;

/// <summary>
/// The exit pipeline's own decisions (<see cref="ExitDispatcher"/>, <see cref="ApicExitHandler"/>):
/// a fault the assist raises without an exit, the PV EOI it completes before an access that does not
/// exit, what an exit records, and the guest's rules for the always-intercepted MSRs. Each test
/// stands for a mutant of this layer that the rest of the suite let live (docs/reliability.md,
/// "Hypervisor, twenty-ninth session").
/// </summary>
public class ExitDispatcherTests
{
    private const ulong Flag = 0x2000;

    [Theory]
    [MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]
    public void An_x2apic_write_with_reserved_bits_is_a_gp_on_every_backend_whether_or_not_it_exits(AccelKind accel)
    {
        // APICv and x2AVIC raise the #GP in the processor (no exit); `none` and plain AVIC's
        // intercepted MSRs raise it in the emulation. The guest sees the same WRMSR fail either way.
        using var vm = EnabledVm(accel);
        EnterX2Apic(vm);
        var cpu = vm.Vcpus[0];
        Assert.True(cpu.TryWriteMsr(0x808, 0x20));

        Assert.False(cpu.TryWriteMsr(0x808, 1ul << 32));

        Assert.Equal(0x20u, cpu.Apic.Tpr);
    }

    public static TheoryData<AccelKind, string> AccessesTheAssistServes() => new()
    {
        { AccelKind.Apicv, "mmio-read" },
        { AccelKind.Apicv, "mmio-write" },
        { AccelKind.Apicv, "msr-read" },
        { AccelKind.Apicv, "msr-write" },
        { AccelKind.Avic, "mmio-read" },
        { AccelKind.Avic, "mmio-write" },
        { AccelKind.X2Avic, "msr-read" },
        { AccelKind.X2Avic, "msr-write" },
    };

    [Theory]
    [MemberData(nameof(AccessesTheAssistServes))]
    public void A_pv_eoi_made_while_the_assist_was_inhibited_is_complete_before_an_access_that_does_not_exit(AccelKind accel, string access)
    {
        // The flag is armed only while the assist is inhibited (KVM's irr_pending is always true
        // with virtual-interrupt delivery). Lifted from another vCPU, the assist then serves vCPU 0's
        // ISR read or TPR write without an exit; the guest's EOI must be complete before it
        // (ExitDispatcher.SyncPvEoiBeforeHardwareAccess, docs/known-divergences.md).
        using var vm = EnabledVm(accel, cpus: 2);
        var ram = new SparseGuestMemory();
        vm.GuestMemory = ram;
        var cpu0 = vm.Vcpus[0];
        bool x2 = access.StartsWith("msr", StringComparison.Ordinal);
        if (x2)
        {
            Assert.True(cpu0.TryWriteMsr(ApicBase.Msr, cpu0.Apic.ApicBaseMsr | ApicBase.ExtdBit));
        }

        Assert.True(cpu0.TryWriteMsr(PvEoi.Msr, Flag | PvEoi.EnableBit));
        Write(vm.Vcpus[1], ApicOffset.Id, 0x0500_0000);
        Assert.False(vm.Accelerator.IsActive);
        vm.Vcpus[1].SendFixed(0x40, 0);
        Assert.Equal(0x40, cpu0.StiTake().Vector);
        Assert.True(cpu0.PvEoi.Pending);
        Assert.True(ram.TryWrite(Flag, [0])); // the guest's PV EOI: no exit
        Write(vm.Vcpus[1], ApicOffset.Id, 0x0100_0000);
        Assert.True(vm.Accelerator.IsActive);
        long exits = cpu0.Exits.Total;

        ulong isr = 0;
        switch (access)
        {
            case "mmio-read":
                isr = Read(cpu0, ApicOffset.Isr + 0x20); // ISR dword 2: vectors 0x40-0x5F
                break;
            case "mmio-write":
                Write(cpu0, ApicOffset.Tpr, 0x10);
                break;
            case "msr-read":
                Assert.True(cpu0.TryReadMsr(ApicOffset.X2ApicMsrBase + ((ApicOffset.Isr + 0x20) >> 4), out isr));
                break;
            default:
                Assert.True(cpu0.TryWriteMsr(ApicOffset.X2ApicMsrBase + (ApicOffset.Tpr >> 4), 0x10));
                break;
        }

        Assert.Equal(exits, cpu0.Exits.Total);
        Assert.Equal(0ul, isr);
        Assert.False(cpu0.Apic.IsrHas(0x40));
        Assert.False(cpu0.PvEoi.Pending);
        Assert.Equal(1, cpu0.PvEoi.Eois);
    }

    [Theory]
    [MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]
    public void Rdmsr_of_apic_base_and_of_the_pv_eoi_msr_are_exits_on_every_backend(AccelKind accel)
    {
        using var vm = EnabledVm(accel);
        vm.GuestMemory = new SparseGuestMemory();
        var tracer = new RecordingTracer();
        vm.Tracer = tracer;
        var cpu = vm.Vcpus[0];

        Assert.True(cpu.TryReadMsr(ApicBase.Msr, out ulong apicBase));
        Assert.True(cpu.TryReadMsr(PvEoi.Msr, out ulong pvEoi));

        Assert.Equal(cpu.Apic.ApicBaseMsr, apicBase);
        Assert.Equal(0ul, pvEoi);
        Assert.Equal(2, cpu.Exits[ExitReason.MsrRead]);
        Assert.Equal([(0, ExitReason.MsrRead, (int)ApicBase.Msr, false), (0, ExitReason.MsrRead, unchecked((int)PvEoi.Msr), false)], tracer.Exits);
    }

    [Fact]
    public void Every_entry_point_of_the_layer_names_a_null_argument()
    {
        using var vm = EnabledVm(AccelKind.Avic);
        var exits = vm.Vcpus[0].Exits;
        var model = Assert.IsType<AvicModel>(vm.Accelerator);
        var policy = Assert.IsType<ApicvInhibitPolicy>(vm.InhibitPolicy);
        var calls = new (string Param, Action Call)[]
        {
            ("apic", () => ApicExitHandler.EmulateMsrRead(null!, ApicBase.Msr, out _)),
            ("apic", () => ApicExitHandler.EmulateMsrWrite(null!, ApicBase.Msr, 0)),
            ("apic", () => ApicExitHandler.EmulateMmioRead(null!, ApicOffset.Tpr, 4)),
            ("apic", () => ApicExitHandler.EmulateMmioWrite(null!, ApicOffset.Tpr, 0, 4)),
            ("apic", () => ApicExitHandler.HandleTrapLikeWrite(null!, ApicOffset.Eoi)),
            ("apic", () => ApicExitHandler.HandleEoiInduced(null!, 0x40)),
            ("apic", () => _ = new ExitDispatcher(null!, exits)),
            ("exits", () => _ = new ExitDispatcher(vm.Vcpus[0].Apic, null!)),
            ("apic", () => _ = new PvEoi(null!)),
            ("model", () => _ = new ApicvInhibitPolicy(null!, use32BitIds: false, logicalMapShortcuts: false)),
            ("apic", () => policy.OnApicChanged(null!)),
        };

        foreach (var (param, call) in calls)
        {
            Assert.Equal(param, Assert.Throws<ArgumentNullException>(call).ParamName);
        }

        Assert.True(model.IsActive); // nothing above changed the VM
    }

    [Theory]
    [InlineData(11ul, 11)]
    [InlineData(ulong.MaxValue, int.MaxValue)]
    public void A_hypercall_exit_records_its_number_clipped_to_the_traces_field(ulong nr, int recorded)
    {
        using var vm = EnabledVm(AccelKind.None);
        var tracer = new RecordingTracer();
        vm.Tracer = tracer;

        Assert.Equal(Vcpu.KvmEnosys, vm.Vcpus[0].Hypercall(nr, 0, 0));

        Assert.Equal([(0, ExitReason.Hypercall, recorded, false)], tracer.Exits);
        Assert.Equal(1, vm.Vcpus[0].Exits[ExitReason.Hypercall]);
    }

    [Theory]
    [MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]
    public void Tsc_deadline_is_read_back_through_the_intercepted_rdmsr(AccelKind accel)
    {
        using var vm = EnabledVm(accel);
        var cpu = vm.Vcpus[0];
        Write(cpu, ApicOffset.LvtTimer, 0x4_0040); // TSC-deadline mode (bits 18:17 = 10b), vector 0x40
        Assert.True(cpu.TryWriteMsr(ApicOffset.TscDeadlineMsr, 1_000_000));

        Assert.True(cpu.TryReadMsr(ApicOffset.TscDeadlineMsr, out ulong deadline));

        Assert.Equal(1_000_000ul, deadline);
    }

    [Theory]
    [InlineData(AccelKind.None)]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.X2Avic)]
    public void A_guest_may_not_leave_x2apic_for_xapic_but_the_host_may(AccelKind accel)
    {
        // SDM 11.12.5 figure 11-27 (KVM kvm_apic_set_base's guest-only transition checks).
        using var vm = EnabledVm(accel);
        EnterX2Apic(vm);
        var cpu = vm.Vcpus[0];
        ulong xapic = cpu.Apic.ApicBaseMsr & ~ApicBase.ExtdBit;

        Assert.False(cpu.TryWriteMsr(ApicBase.Msr, xapic));
        Assert.True(cpu.Apic.IsX2Apic);

        Assert.True(cpu.Apic.SetApicBase(xapic, hostInitiated: true));
        Assert.False(cpu.Apic.IsX2Apic);
    }
}
