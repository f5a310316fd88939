// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Diagnostics;
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
    /// Saves the VM (<see cref="VmSnapshot.Capture"/>) with every vCPU passed through the binary format
    /// (<see cref="VcpuSnapshot.Serialize"/>), and restores it onto the same VM, as a VMM's save/restore would.
    /// </summary>
    public static void BinaryRoundTrip(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var saved = VmSnapshot.Capture(vm);
        var cpus = saved.Cpus.Select(c => VcpuSnapshot.Deserialize(c.Serialize())).ToArray();
        (saved with { Cpus = cpus }).Restore(vm);
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

    /// <summary>
    /// What the owner thread of a bound IRR does before it next runs the guest, for every vCPU holding
    /// timer expiries handed over to its owner: it injects them and folds in what is pending elsewhere
    /// (KVM <c>vcpu_enter_guest</c>: <c>kvm_inject_apic_timer_irqs</c>, then the PIR sync). With
    /// <see cref="BindIrrsElsewhere"/> no owner ever runs, so without this an expiry handed over during
    /// one statement would still wait at the next, and a guest LVT, SVR or IA32_APIC_BASE write there
    /// would mask, re-vector or drop it, while the unbound run delivered it at expiry. Both are timings
    /// KVM allows (the guest may write LVTT while the kick is in flight), but the bound/unbound check
    /// must compare the same timing: an expiry before a statement is delivered before it. Does nothing
    /// when no IRR is bound (nothing is ever handed over then).
    /// </summary>
    public static void EnterBoundOwners(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        foreach (var vcpu in vm.Vcpus)
        {
            if (StoredState.HandedOverTimerExpiries(vcpu) > 0)
            {
                // The owner's entry: reading the IRR folds in what was handed over (LocalApic.SyncIrr).
                _ = vcpu.Apic.HighestIrr;
            }
        }
    }
}
