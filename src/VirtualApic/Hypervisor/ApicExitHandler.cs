// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Hypervisor;

/// <summary>
/// The hypervisor's handlers for the VM exits the APIC produces, as KVM handles them. The hardware
/// models decide when to exit; <see cref="ExitDispatcher"/> counts and traces each exit and calls
/// these handlers, which decide what it means.
/// </summary>
public static class ApicExitHandler
{
    /// <summary>An intercepted RDMSR: APIC_BASE, TSC_DEADLINE, or an x2APIC register with every #GP rule.</summary>
    public static bool EmulateMsrRead(LocalApic apic, uint msr, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(apic);
        switch (msr)
        {
            case ApicBase.Msr:
                value = apic.ApicBaseMsr;
                return true;
            case ApicOffset.TscDeadlineMsr:
                value = apic.Timer.ReadTscDeadline();
                return true;
            default:
                return apic.TryReadX2ApicMsr(msr, out value);
        }
    }

    /// <summary>An intercepted WRMSR by the guest: APIC_BASE (with the guest's transition rules), TSC_DEADLINE, an x2APIC register.</summary>
    public static bool EmulateMsrWrite(LocalApic apic, uint msr, ulong value)
    {
        ArgumentNullException.ThrowIfNull(apic);
        switch (msr)
        {
            case ApicBase.Msr:
                return apic.SetApicBase(value, hostInitiated: false);
            case ApicOffset.TscDeadlineMsr:
                apic.Timer.WriteTscDeadline(value);
                return true;
            case >= ApicOffset.X2ApicMsrBase and <= ApicOffset.X2ApicMsrLast:
                return apic.TryWriteX2ApicMsr(msr, value);
            default:
                return false;
        }
    }

    /// <summary>A fault-like APIC access (NPF, APIC-access exit, AVIC_NOACCEL fault): the instruction is emulated.</summary>
    public static ulong EmulateMmioRead(LocalApic apic, int offset, int size)
    {
        ArgumentNullException.ThrowIfNull(apic);
        return apic.MmioRead(offset, size);
    }

    /// <summary>A fault-like APIC store: the instruction is emulated.</summary>
    public static void EmulateMmioWrite(LocalApic apic, int offset, uint value, int size)
    {
        ArgumentNullException.ThrowIfNull(apic);
        apic.MmioWrite(offset, value, size);
    }

    /// <summary>
    /// The trap-like APIC write handler shared by AVIC_NOACCEL traps and APICv APIC-write exits (KVM
    /// <c>kvm_apic_write_nodecode</c>): the guest's value is already in the register page, so it is
    /// read from the page, never through the guest's MSR-read rules, and its side effects are emulated.
    /// </summary>
    /// <remarks>
    /// This is the seed bug (KVM commit 0a19807b464f): re-reading through the x2APIC RDMSR rules fails
    /// for the write-only EOI, and KVM killed the VM. The x2APIC ICR is one 64-bit value, split on AMD
    /// (ICR + ICR2, KVM commit 73b42dc69be8), and a BUSY bit the guest set is cleared (629d3698f695).
    /// The result of the replayed write is ignored, as KVM ignores it: the write has already happened.
    /// Because the page already holds the new value, every write effect that needs the old one reads
    /// the shadow its register-table row names (<see cref="ReplayShadow"/>), never the page.
    /// </remarks>
    public static void HandleTrapLikeWrite(LocalApic apic, int offset)
    {
        ArgumentNullException.ThrowIfNull(apic);
        offset &= 0xFF0;
        switch (offset)
        {
            case ApicOffset.Rrd:
                return; // read-only; AVIC traps the write anyway (KVM commit a790e338c7c4)
            case ApicOffset.Eoi:
                // Whatever value landed in the page, the EOI has been written: complete it.
                apic.EndOfInterrupt();
                return;
            case ApicOffset.Icr when apic.IsX2Apic:
                apic.WriteX2ApicIcr(apic.ReadX2ApicIcr() & ~Icr.X2ApicReservedBits);
                return;
            default:
                apic.WriteRegister(offset, apic.Words.Read(offset));
                return;
        }
    }

    /// <summary>
    /// An APICv EOI-induced exit (KVM <c>kvm_apic_set_eoi_accelerated</c>): hardware already cleared
    /// the ISR bit and lowered PPR; only the IOAPIC must still hear of it.
    /// </summary>
    public static void HandleEoiInduced(LocalApic apic, int vector)
    {
        ArgumentNullException.ThrowIfNull(apic);
        apic.EndOfInterruptAccelerated(vector);
    }
}
