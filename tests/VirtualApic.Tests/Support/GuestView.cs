// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;

namespace VirtualApic.Tests.Support;

/// <summary>
/// Everything a guest could observe of a vCPU's interrupt state, read without side effects (no
/// guest access paths, so no ESR error is recorded), as comparable lines.
/// </summary>
internal static class GuestView
{
    public static List<string> Observe(Vcpu vcpu)
    {
        var apic = vcpu.Apic;
        var seen = new List<string>
        {
            $"base {apic.ApicBaseMsr:x} mode {apic.Mode} state {vcpu.State} if {vcpu.InterruptFlag}",
            $"nmi blocked {vcpu.NmiBlocked} queued {vcpu.NmiQueued} pending {vcpu.PendingEvents} sipi {vcpu.SipiVector}",
            $"lint {vcpu.GetLint(0)} {vcpu.GetLint(1)} handlers {string.Join(',', vcpu.SaveEvents().HandlerStack)}",
            $"timer mode {apic.Timer.Mode} div {apic.Timer.DivideCount} deadline {apic.Timer.ReadTscDeadline()} armed {apic.Timer.IsArmed} target {(apic.Timer.IsArmed ? apic.Timer.TargetNs : 0)}",
            $"pending vector {apic.PendingVector()} highest isr {apic.HighestIsr}",
        };
        bool x2 = apic.IsX2Apic;
        bool cmci = apic.Config.CmciSupported;
        for (int offset = 0; offset <= 0x3F0; offset += 0x10)
        {
            if (RegisterSpec.Readable(offset, x2, cmci))
            {
                seen.Add($"{RegisterSpec.Name(offset)} {apic.ReadRegisterRaw(offset):x}");
            }
        }

        if (x2)
        {
            seen.Add($"ICR64 {apic.ReadX2ApicIcr():x}");
        }

        return seen;
    }
}
