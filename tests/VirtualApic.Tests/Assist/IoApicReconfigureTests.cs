// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// kvm-unit-tests x86/ioapic.c test_ioapic_self_reconfigure: a level-triggered IOAPIC interrupt is
/// delivered to vCPU 0, then its redirection entry is moved to vCPU 1 before vCPU 0 has taken it. The
/// EOI of that vector on vCPU 0 must still reach the IOAPIC and clear Remote IRR. KVM keeps the vector
/// in the EOI-exit set because it is still pending on vCPU 0 (kvm_apic_pending_eoi after
/// vcpu_scan_ioapic synced the PIR into the IRR).
/// </summary>
public class IoApicReconfigureTests
{
    [Theory]
    [MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]
    public void Eoi_of_a_level_vector_still_pending_when_its_entry_moved_clears_remote_irr(AccelKind accel)
    {
        using var vm = AssistTestKit.EnabledVm(accel, cpus: 2);
        AssistTestKit.EnterX2Apic(vm);
        var cpu0 = vm.Vcpus[0];
        var entry = RedirectionEntry.Create(0x84, trigger: TriggerMode.Level, destination: 0);
        vm.IoApic.WriteEntry(14, entry);

        vm.IoApic.SetLine(14, true);
        Assert.True(vm.IoApic.GetEntry(14).RemoteIrr);

        vm.IoApic.SetLine(14, false);
        vm.IoApic.WriteEntry(14, RedirectionEntry.Create(0x84, trigger: TriggerMode.Level, destination: 1));

        cpu0.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x84), cpu0.Take());
        Assert.True(cpu0.TryWriteMsr(0x80B, 0)); // x2APIC EOI
        Assert.False(vm.IoApic.GetEntry(14).RemoteIrr, "the EOI reached the IOAPIC");
    }
}
