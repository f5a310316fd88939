using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Registers;

namespace VirtualApic.Hypervisor;

/// <summary>
/// The hypervisor's handlers for the VM exits the APIC produces, as KVM handles them. The hardware
/// models decide when to exit; these handlers decide what the exit means.
/// </summary>
public static class ApicExitHandler
{
    /// <summary>An intercepted RDMSR of an x2APIC register: full emulation with every #GP rule.</summary>
    public static bool EmulateMsrRead(Vcpu vcpu, uint msr, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return vcpu.Apic.TryReadX2ApicMsr(msr, out value);
    }

    /// <summary>An intercepted WRMSR of an x2APIC register.</summary>
    public static bool EmulateMsrWrite(Vcpu vcpu, uint msr, ulong value)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return vcpu.Apic.TryWriteX2ApicMsr(msr, value);
    }

    /// <summary>A fault-like APIC access (NPF, APIC-access exit, AVIC_NOACCEL fault): the instruction is emulated.</summary>
    public static ulong EmulateMmioRead(Vcpu vcpu, int offset, int size)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return vcpu.Apic.MmioRead(offset, size);
    }

    /// <summary>A fault-like APIC store: the instruction is emulated.</summary>
    public static void EmulateMmioWrite(Vcpu vcpu, int offset, uint value, int size)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        vcpu.Apic.MmioWrite(offset, value, size);
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
    /// </remarks>
    /// <param name="vcpu">The vCPU that wrote.</param>
    /// <param name="offset">The register offset.</param>
    /// <param name="previous">The register's value before the store landed in the page, when the caller
    /// knows it: a write the register rules ignore (TMICT in TSC-deadline mode, SDM vol. 3A 11.5.4.1)
    /// puts it back, so the register reads as under emulation.</param>
    public static void HandleTrapLikeWrite(Vcpu vcpu, int offset, uint? previous = null)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var apic = vcpu.Apic;
        offset &= 0xFF0;
        switch (offset)
        {
            case ApicOffset.Rrd:
                return; // read-only; AVIC traps the write anyway (KVM commit a790e338c7c4)
            case ApicOffset.Eoi:
                // Whatever value landed in the page, the EOI has been written: complete it.
                apic.EndOfInterrupt();
                return;
            case ApicOffset.Tmict when previous is uint old && apic.Timer.Mode == TimerMode.TscDeadline:
                apic.Page.Write(ApicOffset.Tmict, old); // ignored in TSC-deadline mode
                return;
            case ApicOffset.Icr when apic.IsX2Apic:
                apic.WriteX2ApicIcr(apic.ReadX2ApicIcr() & ~Icr.X2ApicReservedBits);
                return;
            default:
                apic.WriteRegister(offset, apic.Page.Read(offset));
                return;
        }
    }

    /// <summary>
    /// An APICv EOI-induced exit (KVM <c>kvm_apic_set_eoi_accelerated</c>): hardware already cleared
    /// the ISR bit and lowered PPR; only the IOAPIC must still hear of it.
    /// </summary>
    public static void HandleEoiInduced(Vcpu vcpu, int vector)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        vcpu.Apic.ForwardEoi(vector);
    }
}
