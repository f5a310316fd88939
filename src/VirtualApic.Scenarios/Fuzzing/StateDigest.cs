// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text;
using VirtualApic.Diagnostics;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>
/// The architectural state of a VM as one comparable line: what any backend must agree on. Built
/// from stored state only (<see cref="StoredState"/>): reading it drains no PIR or inbox and
/// recomputes no PPR, so the run it observes is the run it would have been unobserved.
/// </summary>
public static class StateDigest
{
    /// <summary>Describes every vCPU's guest-visible APIC state and the IOAPIC.</summary>
    public static string Of(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var sb = new StringBuilder();
        foreach (var cpu in vm.Vcpus)
        {
            var apic = cpu.Apic;
            sb.Append(CultureInfo.InvariantCulture, $"cpu{cpu.Index}:{cpu.State},if={(cpu.InterruptFlag ? 1 : 0)},nmi={cpu.NmiQueued}/{(cpu.NmiBlocked ? 1 : 0)},ev={cpu.PendingEvents},base={apic.ApicBaseMsr:x}");
            foreach (var (name, offset) in ApicRegisterNames.All)
            {
                if (apic.IsReadable(offset) && offset != ApicOffset.Icr)
                {
                    sb.Append(CultureInfo.InvariantCulture, $",{name}={StoredState.RegisterValue(vm, cpu, offset):x}");
                }
            }

            ulong icr = apic.IsX2Apic ? apic.ReadX2ApicIcr() : apic.Page.Read(ApicOffset.Icr);
            sb.Append(CultureInfo.InvariantCulture, $",ICR={icr:x},dl={apic.Timer.ReadTscDeadline():x};");
        }

        for (int pin = 0; pin < Devices.IoApic.PinCount; pin++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"p{pin}={vm.IoApic.GetEntry(pin).Raw:x}/{(vm.IoApic.GetLine(pin) ? 1 : 0)};");
        }

        return sb.ToString();
    }
}
