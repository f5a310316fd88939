// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Snapshot;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// What <see cref="VmSnapshot.Restore"/> and <see cref="VmSnapshot.Migrate"/> put back beside the
/// vCPUs (the IOAPIC, the 8259's INTR, the clock), and the host errors they report before
/// changing anything (docs/kvm-reference.md 10: KVM_SET_IRQCHIP after the vCPUs).
/// </summary>
public class VmSnapshotRestoreTests
{
    [Fact]
    public void Restore_brings_back_the_ioapic_the_pic_and_the_time()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2 });
        var entry = RedirectionEntry.Create(0x61, trigger: TriggerMode.Level, destination: 1);
        vm.IoApic.WriteEntry(4, entry);
        vm.Pic.Raise(0x28);
        vm.Clock.Advance(5000);
        var saved = VmSnapshot.Capture(vm);

        vm.IoApic.WriteEntry(4, RedirectionEntry.Create(0x77, masked: true));
        vm.Pic.Lower();
        vm.Clock.Advance(1000);
        saved.Restore(vm);

        Assert.Equal(entry, vm.IoApic.GetEntry(4));
        Assert.Equal((true, (byte)0x28), vm.Pic.Save());
        Assert.Equal(5000, vm.Clock.NowNs);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Restore_loads_each_vcpus_ioapic_handled_set_and_owed_rescan_instead_of_rescanning(bool owed)
    {
        // 0x46 is in no redirection entry: a rescan would drop it, so only a loaded set keeps it.
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2 });
        vm.IoApic.WriteEntry(4, RedirectionEntry.Create(0x61, trigger: TriggerMode.Level, destination: 1));
        foreach (var v in vm.Vcpus)
        {
            v.Apic.SyncIrr(); // the vCPU's entry serves the rescan the entry write owed it
            Assert.False(v.Apic.IoApicScanRequested);
        }

        vm.Vcpus[0].Apic.SetIoApicHandled(0x46, true);
        if (owed)
        {
            vm.Vcpus[1].Apic.RequestIoApicScan();
        }

        var saved = VmSnapshot.Capture(vm);
        Assert.False(saved.IoApicMapScanPending);
        saved.Restore(vm);

        Assert.True(vm.Vcpus[0].Apic.IsIoApicHandled(0x46));
        Assert.True(vm.Vcpus[1].Apic.IsIoApicHandled(0x61));
        Assert.False(vm.Vcpus[0].Apic.IoApicScanRequested);
        Assert.Equal(owed, vm.Vcpus[1].Apic.IoApicScanRequested);
        Assert.False(vm.IoApicMapScanPending);
    }

    [Fact]
    public void Restore_of_vcpu_snapshots_without_the_set_rescans_as_kvm_does()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2 });
        vm.ScanIoApicHandledVectors();
        var saved = VmSnapshot.Capture(vm);
        var old = saved with { Cpus = [.. saved.Cpus.Select(c => c with { IoApicHandledVectors = default })] };

        old.Restore(vm);

        // KVM's kvm_set_ioapic requests KVM_REQ_SCAN_IOAPIC of every vCPU; the map change waits for
        // the next IOAPIC delivery.
        Assert.All(vm.Vcpus, v => Assert.True(v.Apic.IoApicScanRequested));
        Assert.True(vm.IoApicMapScanPending);
    }

    [Fact]
    public void Migrate_lets_prepare_see_the_new_vm_before_the_state_arrives()
    {
        using var source = new VirtualMachine(new VmOptions { Cpus = 1 });
        source.IoApic.WriteEntry(2, RedirectionEntry.Create(0x62));
        source.Clock.Advance(300);
        long timeSeenByPrepare = -1;

        using var moved = VmSnapshot.Migrate(source, new VmOptions { Cpus = 1, Accel = AccelKind.Apicv }, vm => timeSeenByPrepare = vm.Clock.NowNs);

        Assert.Equal(0, timeSeenByPrepare);
        Assert.Equal(300, moved.Clock.NowNs);
        Assert.Equal(RedirectionEntry.Create(0x62), moved.IoApic.GetEntry(2));
        Assert.Equal(AccelKind.Apicv, moved.Options.Accel);
    }

    [Fact]
    public void A_failing_prepare_reaches_the_caller()
    {
        using var source = new VirtualMachine(new VmOptions { Cpus = 1 });

        var ex = Assert.Throws<InvalidOperationException>(
            () => VmSnapshot.Migrate(source, new VmOptions { Cpus = 1 }, _ => throw new InvalidOperationException("prepare failed")));

        Assert.Equal("prepare failed", ex.Message);
    }

    [Fact]
    public void A_snapshot_whose_vcpus_are_out_of_order_is_refused_before_anything_changes()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2 });
        var saved = VmSnapshot.Capture(vm);
        var swapped = saved with { Cpus = [saved.Cpus[1], saved.Cpus[0]], TimeNs = 999 };

        var ex = Assert.Throws<SnapshotFormatException>(() => swapped.Restore(vm));

        Assert.Contains("vCPU snapshot 0 is of vCPU 1", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, vm.Clock.NowNs);
    }

    [Theory]
    [InlineData("vcpu 1", typeof(SnapshotFormatException), "vCPU 1: pv_eoi.msr")]
    [InlineData("ioapic", typeof(ArgumentException), "IoApicState.Id")]
    public void A_snapshot_with_a_bad_part_is_refused_before_anything_changes(string part, Type error, string message)
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2 });
        var saved = VmSnapshot.Capture(vm);
        Assert.True(vm.Vcpus[0].Apic.WriteRegister(ApicOffset.Tpr, 0x40));
        vm.IoApic.WriteEntry(3, RedirectionEntry.Create(0x55));
        var bad = part == "ioapic"
            ? saved with { IoApic = saved.IoApic with { Id = 16 }, TimeNs = 999 }
            : saved with { Cpus = [saved.Cpus[0], saved.Cpus[1] with { PvEoiMsr = 2 }], TimeNs = 999 };

        var ex = Assert.ThrowsAny<Exception>(() => bad.Restore(vm));

        Assert.IsType(error, ex);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.Equal(0x40u, vm.Vcpus[0].Apic.Tpr);
        Assert.Equal(RedirectionEntry.Create(0x55), vm.IoApic.GetEntry(3));
        Assert.Equal(0, vm.Clock.NowNs);
    }

    [Fact]
    public void Null_arguments_are_reported_by_name()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 1 });
        var saved = VmSnapshot.Capture(vm);

        Assert.Equal("vm", Assert.Throws<ArgumentNullException>(() => VmSnapshot.Capture(null!)).ParamName);
        Assert.Equal("vm", Assert.Throws<ArgumentNullException>(() => saved.Restore(null!)).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentNullException>(() => VmSnapshot.Migrate(null!, new VmOptions())).ParamName);
        Assert.Equal("target", Assert.Throws<ArgumentNullException>(() => VmSnapshot.Migrate(vm, null!)).ParamName);
    }
}
