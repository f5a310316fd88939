// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Cpu;
using VirtualApic.Devices;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W2 level-cycle: IOAPIC pin 10, level-triggered, fixed vector 0x40, physical destination vCPU 0
/// (x2APIC mode, no backend). One operation: SetLine(pin, true) (delivers, sets Remote IRR), Take
/// (INTA), SetLine(pin, false) (the handler quiets the device), EOI by WRMSR 0x80B (the local APIC
/// broadcasts the EOI to the IOAPIC, which clears Remote IRR), IRET.
/// </summary>
/// <remarks>
/// The line is lowered before the EOI, not after: an EOI with the line still high makes the IOAPIC
/// deliver again at once (KVM semantics) and, after 10 000 such EOIs in a row, its interrupt-storm
/// guard delays the re-delivery by 10 ms of virtual time, which would measure the guard instead.
/// </remarks>
[MemoryDiagnoser]
public class W2LevelCycle
{
    private const int Pin = 10;
    private const byte Vector = 0x40;

    private VirtualMachine _vm = null!;
    private Vcpu _vcpu = null!;
    private IoApic _ioapic = null!;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = 1 });
        _vcpu = _vm.Vcpus[0];
        _ioapic = _vm.IoApic;
        Guest.EnterX2Apic(_vcpu);
        _ioapic.WriteEntry(Pin, RedirectionEntry.Create(Vector, trigger: TriggerMode.Level, destination: 0));
        Guest.Check(LevelCycle() == Vector, "one level cycle takes vector 0x40");
        // The IOAPIC-handled set is rescanned by the owner vCPU at its next entry (the take above).
        Guest.Check(_vcpu.Apic.IsIoApicHandled(Vector), "vector 0x40 handled by the IOAPIC");
        Guest.Check(!_ioapic.GetRemoteIrr(Pin), "Remote IRR cleared by the EOI");
        JitWarmup.UntilQuiet(() => LevelCycle());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    [Benchmark]
    public int LevelCycle()
    {
        _ioapic.SetLine(Pin, true);
        var e = _vcpu.Take();
        _ioapic.SetLine(Pin, false);
        _vcpu.TryWriteMsr(Guest.MsrEoi, 0);
        _vcpu.Iret();
        return e.Vector;
    }
}
