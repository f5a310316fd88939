using System.Globalization;
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
    public static IReadOnlyList<string> Check(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var problems = new List<string>();
        foreach (var vcpu in vm.Vcpus)
        {
            CheckApic(vcpu, problems);
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

        int highest = apic.Page.HighestVector(ApicOffset.Isr);
        if (apic.HighestIsr != highest)
        {
            Fail(problems, vcpu, $"highest-ISR cache {apic.HighestIsr} but the ISR's highest is {highest}");
        }

        uint tpr = apic.Page.Read(ApicOffset.Tpr);
        uint isrClass = highest < 0 ? 0 : (uint)highest & 0xF0;
        uint ppr = (tpr & 0xF0) >= isrClass ? tpr & 0xFF : isrClass;
        if (apic.Page.Read(ApicOffset.Ppr) != ppr)
        {
            Fail(problems, vcpu, $"PPR 0x{apic.Page.Read(ApicOffset.Ppr):x2} but TPR 0x{tpr:x2} and ISR 0x{Math.Max(highest, 0):x2} give 0x{ppr:x2}");
        }

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

    private static void CheckIoApic(VirtualMachine vm, List<string> problems)
    {
        for (int pin = 0; pin < Devices.IoApic.PinCount; pin++)
        {
            var e = vm.IoApic.GetEntry(pin);
            if (e.RemoteIrr && e.TriggerMode == TriggerMode.Edge)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"IOAPIC pin {pin}: Remote-IRR set on an edge-triggered entry"));
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

            if (anyPosted && !pid.OutstandingNotification)
            {
                Fail(problems, vcpu, "PIR holds vectors but ON is clear: they would never be synced");
            }

            if (anyPosted && !apicv.IsActive)
            {
                Fail(problems, vcpu, "PIR holds vectors while APICv is inhibited");
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
            bool expected = avic.IsActive && vcpu.State == VcpuRunState.Running;
            if (running != expected)
            {
                Fail(problems, vcpu, $"AVIC IsRunning {running} but the vCPU is {vcpu.State} and AVIC {(avic.IsActive ? "active" : "inhibited")}");
            }

            if ((entry >> 63) == 0)
            {
                Fail(problems, vcpu, "AVIC physical table entry is not valid");
            }
        }

    }
}
