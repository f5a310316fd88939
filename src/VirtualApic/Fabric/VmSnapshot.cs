// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Devices;
using VirtualApic.Snapshot;

namespace VirtualApic.Fabric;

/// <summary>
/// The whole interrupt state of a <see cref="VirtualMachine"/>: every vCPU (<see cref="VcpuSnapshot"/>:
/// IA32_APIC_BASE, the 1 KiB <c>kvm_lapic_state</c> image, timer and pending events), the IOAPIC,
/// the external PIC's output and virtual time. What a VMM saves when it pauses a VM, and what a
/// migration carries from one backend to another.
/// </summary>
/// <param name="Cpus">One snapshot per vCPU, by index.</param>
/// <param name="IoApic">The IOAPIC's registers, input lines and EOI bookkeeping.</param>
/// <param name="Pic">The external 8259's INTR output and the vector it answers with.</param>
/// <param name="TimeNs">Virtual time in nanoseconds.</param>
/// <remarks>
/// <para>
/// Restore order matters and is the one KVM requires of user space (docs/kvm-reference.md 10): the
/// clock first, so that timers are re-armed against the saved time; per vCPU IA32_APIC_BASE before
/// the register image (the image's x2APIC fix-ups depend on the mode), then the timer and events;
/// then the IOAPIC and the PIC; and last the clock's due timers, because a timer that expired while
/// the VM was saved fires now rather than never (KVM 8e6ed96cdd50).
/// </para>
/// <para>Threading: capture and restore while no vCPU thread is running (a paused VM).</para>
/// </remarks>
public sealed record VmSnapshot(IReadOnlyList<VcpuSnapshot> Cpus, IoApicState IoApic, (bool Intr, byte Vector) Pic, long TimeNs)
{
    /// <summary>
    /// Whether an APIC map change still owed every vCPU a rescan of its IOAPIC-handled set, which the
    /// VM requests at the next IOAPIC or MSI-route delivery (<see cref="VirtualMachine.ApicMapChanged"/>).
    /// Restored only when every vCPU snapshot carries its set (<see cref="VcpuSnapshot.IoApicHandledVectors"/>).
    /// </summary>
    public bool IoApicMapScanPending { get; init; }

    /// <summary>Captures the state of <paramref name="vm"/>.</summary>
    public static VmSnapshot Capture(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        return new VmSnapshot([.. vm.Vcpus.Select(VcpuSnapshot.Capture)], vm.IoApic.Save(), vm.Pic.Save(), vm.Clock.NowNs)
        {
            IoApicMapScanPending = vm.IoApicMapScanPending,
        };
    }

    /// <summary>
    /// Loads this state into <paramref name="vm"/>, which may run any backend, and fires the timers
    /// that are due at the restored time. Every part is checked against <paramref name="vm"/> before
    /// anything changes: a snapshot that does not fit leaves the VM as it was.
    /// </summary>
    /// <remarks>
    /// When every vCPU snapshot carries its IOAPIC-handled set, the sets and the rescans owed are
    /// loaded last, over the rescan the IOAPIC's restore asks for, so that the guest cannot tell a
    /// restore happened. KVM rescans after a restore (<c>kvm_set_ioapic</c> requests
    /// <c>KVM_REQ_SCAN_IOAPIC</c>), and its <c>kvm_apic_pending_eoi</c> then marks a vector in
    /// service that an IPI or MSI shares with a level pin, whose EOI then reaches the IOAPIC where
    /// the saved VM's would not have (docs/known-divergences.md). Snapshots without the sets (format
    /// 1 to 4) get KVM's rescan.
    /// </remarks>
    /// <exception cref="SnapshotFormatException">A vCPU snapshot does not fit <paramref name="vm"/>.</exception>
    /// <exception cref="ArgumentException">The IOAPIC state is malformed; the message names the field.</exception>
    public void Restore(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        if (Cpus.Count != vm.Vcpus.Count)
        {
            throw new SnapshotFormatException($"the snapshot has {Cpus.Count} vCPUs, the VM {vm.Vcpus.Count}", 0);
        }

        for (int i = 0; i < Cpus.Count; i++)
        {
            if (Cpus[i].Index != i)
            {
                throw new SnapshotFormatException($"vCPU snapshot {i} is of vCPU {Cpus[i].Index}", 0);
            }

            Cpus[i].Validate(vm.Vcpus[i]);
        }

        ArgumentNullException.ThrowIfNull(IoApic);
        vm.IoApic.Validate(IoApic);

        vm.Clock.SetTime(TimeNs);
        foreach (var cpu in Cpus)
        {
            cpu.Restore(vm.Vcpus[cpu.Index]);
        }

        vm.IoApic.Restore(IoApic);
        vm.Pic.Restore(Pic);
        if (Cpus.All(c => c.CarriesIoApicScan))
        {
            foreach (var cpu in Cpus)
            {
                cpu.RestoreIoApicScan(vm.Vcpus[cpu.Index]);
            }

            vm.IoApicMapScanPending = IoApicMapScanPending;
        }

        vm.Clock.RunDue();
    }

    /// <summary>
    /// Live migration in one step: captures <paramref name="source"/>, builds a VM with
    /// <paramref name="target"/> (typically the same options under another backend), lets
    /// <paramref name="prepare"/> attach tracers or handlers, and restores. The source is left as it
    /// was (its exit counts stay readable) and the caller disposes it.
    /// </summary>
    /// <returns>The new VM, running the source's state.</returns>
    public static VirtualMachine Migrate(VirtualMachine source, VmOptions target, Action<VirtualMachine>? prepare = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var snapshot = Capture(source);
        var next = new VirtualMachine(target);
        try
        {
            prepare?.Invoke(next);
            snapshot.Restore(next);
            return next;
        }
        catch
        {
            next.Dispose();
            throw;
        }
    }
}
