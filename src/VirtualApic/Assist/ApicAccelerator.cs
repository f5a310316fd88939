using VirtualApic.Cpu;
using VirtualApic.Hypervisor;
using VirtualApic.Registers;

namespace VirtualApic.Assist;

/// <summary>
/// A hardware-assist model: where a guest's APIC accesses land first. Each access is either
/// completed in "hardware" on the register page (no exit) or becomes a VM exit that
/// <see cref="ApicExitHandler"/> handles, counted in the vCPU's <see cref="Vcpu.Exits"/>.
/// </summary>
public abstract class ApicAccelerator
{
    /// <summary>The tracer, if any.</summary>
    public IVmTracer? Tracer { get; set; }

    /// <summary>The backend's name (<c>none</c>, <c>apicv</c>, <c>avic</c>, <c>x2avic</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Whether acceleration is active VM-wide now (no inhibit).</summary>
    public virtual bool IsActive => false;

    /// <summary>A guest RDMSR of an x2APIC register (0x800-0x8FF).</summary>
    public abstract bool ReadX2ApicMsr(Vcpu vcpu, uint msr, out ulong value);

    /// <summary>A guest WRMSR of an x2APIC register (0x800-0x8FF).</summary>
    public abstract bool WriteX2ApicMsr(Vcpu vcpu, uint msr, ulong value);

    /// <summary>A guest load from the APIC MMIO window.</summary>
    public abstract ulong ReadMmio(Vcpu vcpu, int offset, int size);

    /// <summary>A guest store to the APIC MMIO window.</summary>
    public abstract void WriteMmio(Vcpu vcpu, int offset, uint value, int size);

    /// <summary>The VM's APIC map changed (ID, LDR, DFR, SVR, APIC_BASE): re-evaluate inhibits and tables.</summary>
    public virtual void OnApicMapChanged()
    {
    }

    /// <summary>A vCPU's run state changed (IsRunning bookkeeping).</summary>
    public virtual void OnRunStateChanged(Vcpu vcpu)
    {
    }

    /// <summary>Counts an exit and tells the tracer.</summary>
    protected void Exit(Vcpu vcpu, ExitReason reason, int offsetOrMsr, bool trapLike)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        vcpu.Exits.Count(reason);
        Tracer?.OnExit(vcpu.Index, reason, offsetOrMsr, trapLike);
    }

    /// <summary>An access the backend does not accelerate: an MSR exit and full emulation.</summary>
    protected bool InterceptedRead(Vcpu vcpu, uint msr, out ulong value)
    {
        Exit(vcpu, ExitReason.MsrRead, (int)msr, trapLike: false);
        return ApicExitHandler.EmulateMsrRead(vcpu, msr, out value);
    }

    /// <summary>An intercepted WRMSR: an MSR exit and full emulation.</summary>
    protected bool InterceptedWrite(Vcpu vcpu, uint msr, ulong value)
    {
        Exit(vcpu, ExitReason.MsrWrite, (int)msr, trapLike: false);
        return ApicExitHandler.EmulateMsrWrite(vcpu, msr, value);
    }

    /// <summary>A fault-like MMIO load: an APIC-access exit and instruction emulation.</summary>
    protected ulong FaultRead(Vcpu vcpu, int offset, int size, ExitReason reason = ExitReason.ApicAccess)
    {
        Exit(vcpu, reason, offset, trapLike: false);
        return ApicExitHandler.EmulateMmioRead(vcpu, offset, size);
    }

    /// <summary>A fault-like MMIO store.</summary>
    protected void FaultWrite(Vcpu vcpu, int offset, uint value, int size, ExitReason reason = ExitReason.ApicAccess)
    {
        Exit(vcpu, reason, offset, trapLike: false);
        ApicExitHandler.EmulateMmioWrite(vcpu, offset, value, size);
    }

    /// <summary>
    /// The x2APIC write checks that hardware makes before a pass-through WRMSR lands (bits 63:32,
    /// the register's reserved bits): the same rules as emulation, so a guest cannot tell the paths apart.
    /// </summary>
    protected static bool X2ApicWriteFaults(Vcpu vcpu, int offset, ulong value)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return offset switch
        {
            ApicOffset.Icr => (value & Icr.X2ApicReservedBits) != 0,
            ApicOffset.SelfIpi => (value & ~0xFFul) != 0,
            ApicOffset.Eoi => (value >> 32) != 0 || (value != 0 && vcpu.Apic.Config.Profile.X2ApicEoiNonZeroFaults),
            _ => (value >> 32) != 0,
        };
    }
}

/// <summary>
/// No hardware assist (<c>accel=none</c>): every APIC MSR access and every xAPIC MMIO access exits
/// and is emulated; fixed vectors go straight into the IRR.
/// </summary>
public sealed class EmulatedApic : ApicAccelerator
{
    /// <inheritdoc/>
    public override string Name => "none";

    /// <inheritdoc/>
    public override bool ReadX2ApicMsr(Vcpu vcpu, uint msr, out ulong value) => InterceptedRead(vcpu, msr, out value);

    /// <inheritdoc/>
    public override bool WriteX2ApicMsr(Vcpu vcpu, uint msr, ulong value) => InterceptedWrite(vcpu, msr, value);

    /// <inheritdoc/>
    public override ulong ReadMmio(Vcpu vcpu, int offset, int size) => FaultRead(vcpu, offset, size);

    /// <inheritdoc/>
    public override void WriteMmio(Vcpu vcpu, int offset, uint value, int size) => FaultWrite(vcpu, offset, value, size);
}
