// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Snapshot;

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>
/// The perturbations of <see cref="MetamorphicKind"/>: applied to a VM between two steps, each must
/// leave every later observation and the architectural state unchanged. They test the shared code
/// (snapshot format, restore, IRR ownership) that cross-backend equality cannot see.
/// </summary>
public static class Metamorphic
{
    /// <summary>
    /// Saves every vCPU through the binary format (<see cref="VcpuSnapshot.Serialize"/>), the IOAPIC and
    /// the 8259, and restores them onto the same VM, as a VMM's save/restore would.
    /// </summary>
    public static void BinaryRoundTrip(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var cpus = vm.Vcpus.Select(v => VcpuSnapshot.Deserialize(VcpuSnapshot.Capture(v).Serialize())).ToArray();
        var ioapic = vm.IoApic.Save();
        var pic = vm.Pic.Save();
        foreach (var cpu in cpus)
        {
            cpu.Restore(vm.Vcpus[cpu.Index]);
        }

        vm.IoApic.Restore(ioapic);
        vm.Pic.Restore(pic);
        vm.Clock.RunDue();
    }

    /// <summary>
    /// Binds every vCPU's IRR to a short-lived helper thread: the caller's thread is then a foreign
    /// sender, so its deliveries go through the inbox and its acknowledges and EOIs take the unbound
    /// (atomic) paths. The bound and unbound IRR modes must give the same run.
    /// </summary>
    public static void BindIrrsElsewhere(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var binder = new Thread(() =>
        {
            foreach (var vcpu in vm.Vcpus)
            {
                vcpu.BindToCurrentThread();
            }
        });
        binder.Start();
        binder.Join();
    }
}
