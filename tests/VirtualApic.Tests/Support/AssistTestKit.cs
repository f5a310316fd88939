// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Support;

/// <summary>
/// The hardware-assist tests' starting point: a VM enabled host-side with its exit counts zeroed, and the
/// guest's raw xAPIC-window accesses, register dumps and event draining the assist tests compare backends by.
/// </summary>
internal static class AssistTestKit
{
    /// <summary>A VM whose vCPUs are software-enabled (SVR = 0x1FF, set host-side) with every exit count zeroed.</summary>
    public static VirtualMachine EnabledVm(AccelKind accel, int cpus = 1, ApicProfile? profile = null, bool apsWaitForSipi = false)
    {
        var vm = new VirtualMachine(new VmOptions { Cpus = cpus, Accel = accel, Profile = profile ?? ApicProfile.Kvm, ApsWaitForSipi = apsWaitForSipi });
        foreach (var v in vm.Vcpus)
        {
            Assert.True(v.Apic.WriteRegister(ApicOffset.Svr, 0x1FF));
            v.Exits.Clear();
        }

        return vm;
    }

    /// <summary>Switches every vCPU to x2APIC mode through the guest's WRMSR, then zeroes the exit counts.</summary>
    public static void EnterX2Apic(VirtualMachine vm)
    {
        foreach (var v in vm.Vcpus)
        {
            Assert.True(v.TryWriteMsr(ApicBase.Msr, v.Apic.ApicBaseMsr | ApicBase.ExtdBit));
            Assert.True(v.Apic.IsX2Apic);
            v.Exits.Clear();
        }
    }

    /// <summary>A guest 4-byte store to the xAPIC window.</summary>
    public static void Write(Vcpu cpu, int offset, uint value, int size = 4) => cpu.MmioWrite(cpu.Apic.BaseAddress + (ulong)offset, value, size);

    /// <summary>A guest load from the xAPIC window.</summary>
    public static ulong Read(Vcpu cpu, int offset, int size = 4) => cpu.MmioRead(cpu.Apic.BaseAddress + (ulong)offset, size);

    /// <summary>An xAPIC IPI: ICR2 then ICR, as a guest writes them.</summary>
    public static void SendXApicIpi(Vcpu cpu, Icr icr)
    {
        Write(cpu, ApicOffset.Icr2, icr.High);
        Write(cpu, ApicOffset.Icr, icr.Low);
    }

    /// <summary>The register file as probes see it (offsets 0x000-0x3F0), for comparing backends.</summary>
    public static uint[] RegisterFile(Vcpu cpu)
    {
        uint[] r = new uint[0x40];
        for (int i = 0; i < r.Length; i++)
        {
            r[i] = cpu.Apic.ReadRegisterRaw(i << 4);
        }

        return r;
    }

    /// <summary>Takes every deliverable vector (STI before each), EOIing none; returns them in order.</summary>
    public static List<int> TakeAll(Vcpu cpu)
    {
        var taken = new List<int>();
        while (true)
        {
            cpu.Sti();
            var e = cpu.Take();
            if (e.Kind != GuestEventKind.Vector)
            {
                cpu.Cli();
                return taken;
            }

            taken.Add(e.Vector);
        }
    }
}
