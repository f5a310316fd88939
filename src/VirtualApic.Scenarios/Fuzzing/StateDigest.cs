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
            int owed = OwedPvEoi(cpu);
            sb.Append(CultureInfo.InvariantCulture, $"cpu{cpu.Index}:{cpu.State},if={(cpu.InterruptFlag ? 1 : 0)},nmi={cpu.NmiQueued}/{(cpu.NmiBlocked ? 1 : 0)},ev={cpu.PendingEvents},base={apic.ApicBaseMsr:x}");
            foreach (var (name, offset) in ApicRegisterNames.All)
            {
                if (apic.IsReadable(offset) && offset != ApicOffset.Icr)
                {
                    ulong value = StoredState.RegisterValue(vm, cpu, offset);
                    if (owed >= 0)
                    {
                        value = AfterOwedEoi(vm, cpu, offset, value, owed);
                    }

                    sb.Append(CultureInfo.InvariantCulture, $",{name}={value:x}");
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

    // A PV EOI the guest made (its flag cleared) that KVM performs at the vCPU's next exit: the guest
    // cannot see the vector still in service before then, and under an active assist it never gets
    // the flag, so the digest shows the state after that EOI (docs/kvm-configurations.md).
    private static int OwedPvEoi(Cpu.Vcpu cpu) =>
        cpu.PvEoi.Pending && !cpu.PvEoi.ReadFlag() ? cpu.Apic.Page.HighestVector(ApicOffset.Isr) : -1;

    private static ulong AfterOwedEoi(VirtualMachine vm, Cpu.Vcpu cpu, int offset, ulong value, int owed)
    {
        var apic = cpu.Apic;
        if (offset == ApicOffset.Isr + ((owed >> 5) << 4))
        {
            return value & ~(1ul << (owed & 31));
        }

        if (offset is not (ApicOffset.Ppr or ApicOffset.Apr) || (offset == ApicOffset.Apr && apic.Config.Profile.ArbitrationPriorityReadsZero))
        {
            return value;
        }

        int next = -1;
        for (int v = owed - 1; v >= 0 && next < 0; v--)
        {
            next = apic.Page.TestVector(ApicOffset.Isr, v) ? v : -1;
        }

        uint tpr = apic.Page.Read(ApicOffset.Tpr);
        uint isrClass = next < 0 ? 0 : (uint)next & 0xF0;
        if (offset == ApicOffset.Ppr)
        {
            return (tpr & 0xF0) >= isrClass ? tpr & 0xFF : isrClass;
        }

        // APR (SDM 11.8.3 / P6), as StoredState computes it, with the owed vector out of service.
        int irrv = -1;
        for (int i = 7; i >= 0 && irrv < 0; i--)
        {
            uint w = StoredState.PendingWord(vm, cpu, i);
            irrv = w == 0 ? -1 : (i << 5) + 31 - System.Numerics.BitOperations.LeadingZeroCount(w);
        }

        uint irrClass = irrv < 0 ? 0 : (uint)irrv & 0xF0;
        return (tpr & 0xF0) >= irrClass && (tpr & 0xF0) > isrClass ? tpr & 0xFF : Math.Max(tpr & 0xF0, Math.Max(irrClass, isrClass));
    }
}
