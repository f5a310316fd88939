// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Runtime.CompilerServices;
using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Diagnostics;

/// <summary>
/// The model's internal invariants, checked after every step of a fuzz or debug run: every derived
/// cache agrees with the state it is derived from, and no hardware-assist bookkeeping contradicts
/// the architectural state. Not a hot path: it allocates its report.
/// </summary>
public static class InvariantChecker
{
    /// <summary>Checks every invariant of <paramref name="vm"/>; returns the violations (empty when sound).</summary>
    public static IReadOnlyList<string> Check(VirtualMachine vm) => Check(vm, null);

    /// <summary>
    /// Checks every invariant of <paramref name="vm"/>; <paramref name="livenessExempt"/> names vCPUs
    /// whose liveness is not judged: a driver that made a halted vCPU execute instructions (a
    /// scenario can, a CPU cannot) has run it, and its next check, not a wake-up, sees its events.
    /// </summary>
    public static IReadOnlyList<string> Check(VirtualMachine vm, Func<int, bool>? livenessExempt)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var problems = new List<string>();
        foreach (var vcpu in vm.Vcpus)
        {
            CheckApic(vcpu, problems);
            if (livenessExempt?.Invoke(vcpu.Index) != true)
            {
                CheckLiveness(vm, vcpu, problems);
            }

            CheckTimer(vcpu, problems);
        }

        CheckMap(vm, problems);
        CheckIoApic(vm, problems);
        switch (vm.Accelerator)
        {
            case ApicvModel apicv:
                CheckPosted(vm, apicv, problems);
                break;
            case AvicModel avic:
                CheckAvic(vm, avic, problems);
                break;
            default:
                break;
        }

        return problems;
    }

    private static void Fail(List<string> problems, Vcpu vcpu, string message) =>
        problems.Add(string.Create(CultureInfo.InvariantCulture, $"cpu{vcpu.Index}: {message}"));

    private static void CheckApic(Vcpu vcpu, List<string> problems)
    {
        var apic = vcpu.Apic;
        int count = apic.Page.CountVectors(ApicOffset.Isr);
        if (count != apic.IsrCount)
        {
            Fail(problems, vcpu, $"ISR count cache {apic.IsrCount} but {count} ISR bits set");
        }

        int highest = StoredState.HighestInService(apic);
        if (apic.IsrCount != 0 && apic.HighestIsrCache is { } cached && cached != highest)
        {
            Fail(problems, vcpu, $"highest-ISR cache {cached} but the ISR's highest is {highest}");
        }

        // PPR as stored, never recomputed first: a path that changes TPR or the ISR and forgets
        // UpdatePpr leaves a stale PPR here (SDM 11.8.3.1).
        uint ppr = StoredState.PprFormula(apic);
        if (apic.Page.Read(ApicOffset.Ppr) != ppr)
        {
            Fail(problems, vcpu, $"PPR 0x{apic.Page.Read(ApicOffset.Ppr):x2} as stored but TPR 0x{apic.Page.Read(ApicOffset.Tpr):x2} and ISR 0x{Math.Max(highest, 0):x2} give 0x{ppr:x2}");
        }

        CheckIsrStructure(vcpu, problems);

        if (apic.IsX2Apic && (apic.Page.Read(ApicOffset.Id) != apic.X2ApicId || apic.Ldr != LocalApic.X2ApicLdr(apic.X2ApicId)))
        {
            Fail(problems, vcpu, "x2APIC ID or LDR does not match the vCPU index");
        }

        if (apic.Mode == ApicMode.Invalid)
        {
            Fail(problems, vcpu, "APIC_BASE is in the invalid EN=0/EXTD=1 state");
        }

        if (vcpu.NmiQueued is < 0 or > 2)
        {
            Fail(problems, vcpu, $"{vcpu.NmiQueued} NMIs queued");
        }
    }

    private static void CheckMap(VirtualMachine vm, List<string> problems)
    {
        var current = vm.Router.Map;
        var apics = vm.Vcpus.Select(v => v.Apic).ToArray();
        var fresh = ApicMap.Build(apics, vm.Router.Uses32BitIds, vm.Router.LogicalMapShortcuts);
        if (vm.InhibitPolicy?.Inputs is { } counted
            && (counted.ApicIdModified != fresh.ApicIdModified || counted.PhysicalIdAliased != fresh.PhysicalIdAliased
                || counted.LogicalIdAliased != fresh.LogicalIdAliased))
        {
            problems.Add($"inhibit inputs counted per change differ from a rebuilt map: id-modified {counted.ApicIdModified}/{fresh.ApicIdModified}, physical aliased {counted.PhysicalIdAliased}/{fresh.PhysicalIdAliased}, logical aliased {counted.LogicalIdAliased}/{fresh.LogicalIdAliased}");
        }

        if (current.LogicalMode != fresh.LogicalMode || current.PhysicalIdAliased != fresh.PhysicalIdAliased
            || current.ApicIdModified != fresh.ApicIdModified || current.MaxId != fresh.MaxId)
        {
            problems.Add($"APIC map differs from a rebuild: logical {current.LogicalMode}/{fresh.LogicalMode}, aliased {current.PhysicalIdAliased}/{fresh.PhysicalIdAliased}, id-modified {current.ApicIdModified}/{fresh.ApicIdModified}");
            return;
        }

        for (uint id = 0; id <= (uint)fresh.MaxId; id++)
        {
            if (!ReferenceEquals(current.Physical(id), fresh.Physical(id)) || current.PhysicalCount(id) != fresh.PhysicalCount(id))
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"APIC map physical slot {id} differs from a rebuild"));
                return;
            }
        }
    }

    // Per VM, as of its last check: each vCPU's scan count of its IOAPIC-handled set, and the vectors
    // it held (pending or in service).
    private static readonly ConditionalWeakTable<VirtualMachine, LastCheck> LastChecks = new();

    private sealed class LastCheck(int cpus)
    {
        public long[] Scans { get; } = new long[cpus];

        public uint[][] Held { get; } = [.. Enumerable.Range(0, cpus).Select(_ => new uint[8])]; // replaced per check
    }

    private static void CheckIoApic(VirtualMachine vm, List<string> problems)
    {
        var last = LastChecks.GetValue(vm, v => new LastCheck(v.Vcpus.Count));
        bool[] scanned = new bool[vm.Vcpus.Count];
        uint[][] heldBefore = new uint[vm.Vcpus.Count][];
        for (int c = 0; c < scanned.Length; c++)
        {
            long count = vm.IoApicScansOf(c);
            scanned[c] = count != last.Scans[c] && !vm.IoApicMapScanPending && !vm.Vcpus[c].Apic.IoApicScanRequested;
            last.Scans[c] = count;
            heldBefore[c] = last.Held[c];
            last.Held[c] = new uint[8];
            for (int i = 0; i < 8; i++)
            {
                last.Held[c][i] = StoredState.PendingWord(vm, vm.Vcpus[c], i) | vm.Vcpus[c].Apic.Page.Read(ApicOffset.Isr + (i << 4));
            }
        }

        var entries = vm.IoApic.Save().Entries; // one lock for the table, not one per pin
        for (int pin = 0; pin < Devices.IoApic.PinCount; pin++)
        {
            var e = new RedirectionEntry(entries[pin]);
            if (e.RemoteIrr && e.TriggerMode == TriggerMode.Edge)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"IOAPIC pin {pin}: Remote-IRR set on an edge-triggered entry"));
            }

            if (!e.RemoteIrr || e.TriggerMode != TriggerMode.Level)
            {
                continue;
            }

            // Remote-IRR consistency, checked right after a scan of the IOAPIC-handled vectors (the
            // scan is lazy, as KVM's KVM_REQ_SCAN_IOAPIC: between scans the set may lag): every APIC
            // that holds the entry's vector (pending or in service) must count it as IOAPIC-handled
            // (KVM kvm_ioapic_scan_entry with kvm_apic_pending_eoi), or its EOI never reaches the
            // IOAPIC and the line stays blocked. An entry nobody holds is legal: the guest may have
            // re-vectored or retargeted it, reset the APIC, or use directed EOI (docs/reliability.md).
            // Only an APIC whose own set was rebuilt since the last check, and only a vector it held
            // before the step as well: one that arrived after its scan (an MSI reusing the pin's
            // vector, or an IPI sent by the very exit whose request processing ran the scan, seed
            // 2972084) is legitimately outside the set until the next. A vector held across the step
            // was held when the scan looked (a timer expiry handed over before it included).
            foreach (var vcpu in vm.Vcpus)
            {
                if (!scanned[vcpu.Index] || (heldBefore[vcpu.Index][e.Vector >> 5] & (1u << e.Vector)) == 0)
                {
                    continue;
                }

                var apic = vcpu.Apic;
                bool held = StoredState.IsInService(apic, e.Vector) || StoredState.IsPending(vm, vcpu, e.Vector);
                if (held && !apic.IsIoApicHandled(e.Vector))
                {
                    Fail(problems, vcpu, $"holds vector 0x{e.Vector:x2} of level IOAPIC pin {pin} (Remote-IRR set) but the last scan did not make it IOAPIC-handled: its EOI would never reach the IOAPIC");
                }
            }
        }
    }

    // In-service vectors nest by priority class: a vector is taken only above PPR, so a second
    // vector of a class already in service can never be acknowledged, and classes 0 (vectors 0-15)
    // never rise above PPR at all (SDM 11.8.3).
    private static void CheckIsrStructure(Vcpu vcpu, List<string> problems)
    {
        var page = vcpu.Apic.Page;
        for (int cls = 0; cls < 16; cls++)
        {
            int word = (int)((page.Read(ApicOffset.Isr + ((cls >> 1) << 4)) >> ((cls & 1) * 16)) & 0xFFFF);
            if (cls == 0 && word != 0)
            {
                Fail(problems, vcpu, $"ISR holds a vector below 16 (bits 0x{word:x4})");
            }
            else if ((word & (word - 1)) != 0)
            {
                Fail(problems, vcpu, $"ISR holds more than one vector of priority class {cls:x} (bits 0x{word:x4})");
            }
        }
    }

    // Liveness: a halted vCPU that holds an event it would take must have a wake-up latched, or a
    // VMM thread waiting in WaitForKick sleeps on it (KVM kvm_vcpu_check_block / kvm_vcpu_has_events).
    private static void CheckLiveness(VirtualMachine vm, Vcpu vcpu, List<string> problems)
    {
        if (vcpu.State == VcpuRunState.Halted && StoredState.HasDeliverableEvent(vm, vcpu) && !StoredState.WakeLatched(vcpu))
        {
            Fail(problems, vcpu, $"halted with a deliverable event ({vcpu.PendingEvents}, highest pending 0x{Math.Max(StoredState.HighestPending(vm, vcpu), 0):x2}, PPR 0x{vcpu.Apic.Page.Read(ApicOffset.Ppr):x2}) but no wake-up latched");
        }
    }

    // Timer state after the clock ran everything due: the latched mode is the LVT's, an armed
    // timer lies in the future, TSC-deadline mode has no count and no other mode a deadline, a
    // stopped count is not armed, a periodic count never stops by itself (SDM 11.5.4).
    private static void CheckTimer(Vcpu vcpu, List<string> problems)
    {
        var apic = vcpu.Apic;
        var timer = apic.Timer;
        var lvtMode = (TimerMode)((apic.Page.Read(ApicOffset.LvtTimer) >> 17) & 3);
        long now = apic.Clock.NowNs;
        if (timer.Mode != lvtMode)
        {
            Fail(problems, vcpu, $"timer latched mode {timer.Mode} but LVT timer says {lvtMode}");
        }

        if (timer.IsArmed && timer.TargetNs <= now)
        {
            Fail(problems, vcpu, $"timer armed for {timer.TargetNs} ns but the clock is at {now} ns: a missed expiry");
        }

        uint tmict = apic.Page.Read(ApicOffset.Tmict);
        if (timer.Mode == TimerMode.TscDeadline)
        {
            if (tmict != 0 || timer.PeriodNs != 0)
            {
                Fail(problems, vcpu, $"TSC-deadline mode with TMICT 0x{tmict:x} and period {timer.PeriodNs} ns");
            }

            if (timer.IsArmed != (timer.TscDeadline != 0))
            {
                Fail(problems, vcpu, $"TSC-deadline mode, deadline 0x{timer.TscDeadline:x}, but the timer is {(timer.IsArmed ? "armed" : "not armed")}");
            }
        }
        else
        {
            if (timer.TscDeadline != 0)
            {
                Fail(problems, vcpu, $"{timer.Mode} mode keeps a TSC deadline 0x{timer.TscDeadline:x}");
            }

            if (tmict == 0 && timer.IsArmed)
            {
                Fail(problems, vcpu, "timer armed with TMICT 0");
            }

            // (A one-shot count that expired and then turned periodic stays stopped until the next
            // TMICT write, as in KVM apic_update_lvtt: "armed" is not implied by the mode.)
            if (timer.IsArmed && timer.PeriodNs <= 0)
            {
                Fail(problems, vcpu, $"timer armed with period {timer.PeriodNs} ns");
            }
        }
    }

    private static void CheckPosted(VirtualMachine vm, ApicvModel apicv, List<string> problems)
    {
        foreach (var vcpu in vm.Vcpus)
        {
            var pid = apicv.Descriptor(vcpu.Index);
            bool anyPosted = false;
            for (int v = 0; v < 256 && !anyPosted; v++)
            {
                anyPosted = pid.TestPir(v);
            }

            // Vectors posted before an inhibit may stay in the PIR until the vCPU's next evaluation,
            // which syncs it on the vCPU's own thread whatever the activation (KVM vcpu_enter_guest
            // calls sync_pir_to_irr even with APICv disabled on the vCPU): with ON set they are due.
            if (anyPosted && !pid.OutstandingNotification)
            {
                Fail(problems, vcpu, "PIR holds vectors but ON is clear: they would never be synced");
            }
        }
    }

    private static void CheckAvic(VirtualMachine vm, AvicModel avic, List<string> problems)
    {
        foreach (var vcpu in vm.Vcpus)
        {
            if (vcpu.Index >= avic.PhysicalTableLength)
            {
                continue;
            }

            ulong entry = avic.PhysicalEntry(vcpu.Index);
            bool running = (entry & (1ul << 62)) != 0;
            // A vCPU that is about to block has IsRunning clear before its last check (KVM
            // avic_vcpu_blocking), so a hardware IPI from then on exits and kicks it.
            bool expected = avic.IsActive && vcpu.State == VcpuRunState.Running && !vcpu.IsBlocking;
            if (running != expected)
            {
                Fail(problems, vcpu, $"AVIC IsRunning {running} but the vCPU is {vcpu.State}{(vcpu.IsBlocking ? " (blocking)" : "")} and AVIC {(avic.IsActive ? "active" : "inhibited")}");
            }

            if ((entry >> 63) == 0)
            {
                Fail(problems, vcpu, "AVIC physical table entry is not valid");
            }
        }

    }
}
