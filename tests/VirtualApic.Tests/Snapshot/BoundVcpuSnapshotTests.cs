// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Snapshot;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Snapshot;

/// <summary>
/// A snapshot taken by the thread that paused the VM (not the vCPU's own) of a vCPU whose IRR is
/// bound to its thread: every pending vector is in the image, posted ones included (found by the
/// threaded harness: APICv, bound IRR, snapshots of the running VM lost interrupts).
/// </summary>
public class BoundVcpuSnapshotTests
{
    [Theory]
    [MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]
    public void A_paused_bound_vcpus_pending_vectors_survive_capture_and_restore(AccelKind accel)
    {
        using var vm = EnabledVm(accel, cpus: 2);
        var target = vm.Vcpus[1];
        var owner = new Thread(target.BindToCurrentThread);
        owner.Start();
        owner.Join(); // bound to a thread that is now parked (gone): this thread is not the owner

        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x61, destinationHigh: 1u << 24)); // posted under APICv
        vm.DeliverMsi(Msi.EncodeAddress(1), 0x62);                              // another thread's delivery: the inbox

        VcpuSnapshot.Capture(target).Restore(target);

        Assert.True(target.Apic.Page.TestVector(ApicOffset.Irr, 0x61), "the posted IPI was lost by the snapshot");
        Assert.True(target.Apic.Page.TestVector(ApicOffset.Irr, 0x62), "the MSI was lost by the snapshot");
    }
}
