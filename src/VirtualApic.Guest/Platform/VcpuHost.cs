// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Guest.Cpu;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform.Devices;

namespace VirtualApic.Guest.Platform;

/// <summary>
/// The platform side of one vCPU: implements <see cref="ICpuHost"/> on top of the library's
/// <see cref="Vcpu"/> (APIC MSRs and MMIO, CPUID's APIC bits, RDTSC, CR8, IF, events, HLT, IRET), the
/// VM bus (IOAPIC), the port bus, the engine's CPUID table and KVM's hypercall. Every exit-class call
/// brings the virtual clock up to the instruction first, so timers are exact, and asks the CPU to
/// check events afterwards, since an own APIC access can make one deliverable.
/// </summary>
public sealed class VcpuHost : ICpuHost
{
    /// <summary>The AMD K7 performance-counter MSRs (kvm-unit-tests' pmu_init clears them on an AMD CPU).</summary>
    private const uint K7PerfFirst = 0xC001_0000, K7PerfLast = 0xC001_0007;

    /// <summary>The xAPIC ICR (low) offset and the x2APIC ICR MSR: writes send IPIs.</summary>
    private const ulong IcrOffset = 0x300;
    private const uint X2ApicIcrMsr = 0x830;

    /// <summary>-KVM_ENOSYS: the result of an unknown hypercall.</summary>
    private const long KvmNoSys = -1000;

    /// <summary>-KVM_EPERM: a hypercall from CPL &gt; 0 (KVM kvm_emulate_hypercall).</summary>
    private const long KvmPermissionDenied = -1;

    private readonly GuestMachine _machine;
    private readonly PortBus _ports;
    private readonly CpuidTable _cpuid;
    private readonly CpuVendor _vendor;
    private readonly ulong _ramSize;
    private readonly ulong[] _k7Perf = new ulong[8];
    private X86Cpu? _cpu;

    internal VcpuHost(GuestMachine machine, Vcpu vcpu, ulong ramSize, PortBus ports, CpuidTable cpuid, CpuVendor vendor)
    {
        _machine = machine;
        Vcpu = vcpu;
        _ramSize = ramSize;
        _ports = ports;
        _cpuid = cpuid;
        _vendor = vendor;
    }

    /// <summary>The library vCPU.</summary>
    public Vcpu Vcpu { get; }

    /// <summary>The interpreter this host serves.</summary>
    public X86Cpu Cpu => _cpu ?? throw new InvalidOperationException("the CPU is not attached yet");

    /// <summary>Instructions of this CPU already charged to the clock.</summary>
    internal long ChargedInstructions { get; set; }

    /// <summary>Something may be deliverable: the scheduler must give a halted CPU a look.</summary>
    internal bool Kicked { get; set; }

    /// <summary>Consecutive PAUSEs (see <see cref="TimeModel.PauseCost"/>) and where the last one retired.</summary>
    internal int PauseStreak { get; set; }

    internal long LastPauseAt { get; set; } = long.MinValue / 2;

    internal void Attach(X86Cpu cpu) => _cpu = cpu;

    /// <summary>An event may have become deliverable to this vCPU.</summary>
    internal void Kick()
    {
        Kicked = true;
        _cpu?.RequestEventCheck();
    }

    // The APIC base is page-aligned (LocalApic.BaseAddress), so the window holds the page's first
    // byte exactly when the page is the APIC's.
    /// <inheritdoc/>
    public bool IsMmioPage(ulong physicalAddress) =>
        physicalAddress >= _ramSize || Vcpu.IsApicWindow(physicalAddress & ~0xFFFul);

    /// <inheritdoc/>
    public ulong MmioRead(ulong physicalAddress, int size)
    {
        _machine.ExitToHost(this);
        ulong value = Vcpu.MmioRead(physicalAddress, size);
        Cpu.RequestEventCheck();
        return value;
    }

    /// <inheritdoc/>
    public void MmioWrite(ulong physicalAddress, ulong value, int size)
    {
        _machine.ExitToHost(this);
        bool apic = Vcpu.IsApicWindow(physicalAddress);
        bool icr = apic && physicalAddress - Vcpu.Apic.BaseAddress == IcrOffset;
        Vcpu.MmioWrite(physicalAddress, value, size);
        Cpu.RequestEventCheck();
        _machine.FabricTouched(endSlice: icr || (!apic && _machine.Vm.IoApic.ContainsAddress(physicalAddress)));
    }

    /// <inheritdoc/>
    public uint PortIn(ushort port, int size)
    {
        _machine.ExitToHost(this);
        return _ports.Read(port, size);
    }

    /// <inheritdoc/>
    public void PortOut(ushort port, uint value, int size)
    {
        _machine.ExitToHost(this);
        _ports.Write(port, value, size);
        Cpu.RequestEventCheck(); // an IRQ line raised by this OUT is taken before the next instruction
        if (_ports.DeviceAt(port) is PcTestDev)
        {
            _machine.FabricTouched(endSlice: true);
        }
    }

    /// <inheritdoc/>
    public bool TryReadMsr(uint msr, out ulong value)
    {
        _machine.ExitToHost(this);
        if (_vendor == CpuVendor.Amd && msr is >= K7PerfFirst and <= K7PerfLast)
        {
            value = _k7Perf[msr - K7PerfFirst];
            return true;
        }

        bool ok = Vcpu.TryReadMsr(msr, out value);
        Cpu.RequestEventCheck();
        return ok;
    }

    /// <inheritdoc/>
    public bool TryWriteMsr(uint msr, ulong value)
    {
        _machine.ExitToHost(this);
        if (_vendor == CpuVendor.Amd && msr is >= K7PerfFirst and <= K7PerfLast)
        {
            _k7Perf[msr - K7PerfFirst] = value;
            return true;
        }

        ulong baseBefore = Vcpu.Apic.BaseAddress;
        bool ok = Vcpu.TryWriteMsr(msr, value);
        if (Vcpu.Apic.BaseAddress != baseBefore)
        {
            Cpu.FlushMemoryMap(); // the APIC window moved
        }

        Cpu.RequestEventCheck();
        _machine.FabricTouched(endSlice: msr == X2ApicIcrMsr);
        return ok;
    }

    /// <inheritdoc/>
    public void Cpuid(uint leaf, uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        _machine.ExitToHost(this);
        _cpuid.Execute(Vcpu, leaf, subleaf, out eax, out ebx, out ecx, out edx);
    }

    /// <inheritdoc/>
    public ulong ReadTsc()
    {
        _machine.FlushTime(this);
        return Vcpu.Rdtsc();
    }

    /// <inheritdoc/>
    public bool TryWriteCr8(ulong value)
    {
        _machine.ExitToHost(this);
        bool ok = Vcpu.WriteCr8(value);
        Cpu.RequestEventCheck();
        return ok;
    }

    /// <inheritdoc/>
    public ulong ReadCr8()
    {
        _machine.ExitToHost(this);
        return Vcpu.ReadCr8();
    }

    /// <inheritdoc/>
    public void InterruptFlagChanged(bool interruptFlag)
    {
        Vcpu.InterruptFlag = interruptFlag;
        if (interruptFlag)
        {
            Cpu.RequestEventCheck();
        }
    }

    /// <inheritdoc/>
    public void Iret(bool interruptFlagAfter)
    {
        Vcpu.Iret(interruptFlagAfter);
        Cpu.RequestEventCheck();
    }

    /// <inheritdoc/>
    public CpuEvent TakeEvent(bool interruptsEnabled)
    {
        Vcpu.InterruptFlag = interruptsEnabled;
        while (true)
        {
            var e = Vcpu.Take();
            switch (e.Kind)
            {
                case GuestEventKind.None:
                    return CpuEvent.None;
                case GuestEventKind.Vector or GuestEventKind.ExtInt:
                    _machine.Stats.CountInterrupt(Vcpu.Index);
                    return new CpuEvent(CpuEventKind.Interrupt, e.Vector);
                case GuestEventKind.Nmi:
                    _machine.Stats.CountNmi(Vcpu.Index);
                    return new CpuEvent(CpuEventKind.Nmi, 2);
                case GuestEventKind.Init:
                    return new CpuEvent(CpuEventKind.Init, 0);
                case GuestEventKind.Sipi:
                    return new CpuEvent(CpuEventKind.Sipi, e.Vector);
                default:
                    continue; // SMI: no SMM here; the event is dropped, look again
            }
        }
    }

    /// <inheritdoc/>
    public void Halt()
    {
        _machine.ExitToHost(this);
        Vcpu.Hlt();
    }

    /// <inheritdoc/>
    public void Hypercall(Span<ulong> registers)
    {
        _machine.ExitToHost(this);
        bool longMode = Cpu.Mode == CpuMode.Long64;
        ulong number = longMode ? registers[0] : (uint)registers[0];
        long result = Cpu.Cpl != 0 ? KvmPermissionDenied
            : number == KvmPvIpi.HypercallNumber
                ? KvmPvIpi.Send(_machine.Vm.Router, Vcpu.Index, registers[3], registers[1], (uint)registers[2], registers[6], longMode)
                : KvmNoSys;
        registers[0] = longMode ? (ulong)result : (uint)result;
        Cpu.RequestEventCheck();
        _machine.FabricTouched(endSlice: true);
    }
}
