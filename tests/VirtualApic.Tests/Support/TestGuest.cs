// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Support;

/// <summary>
/// What a guest does to its own vCPU, through the architectural interfaces only: WRMSR/RDMSR,
/// stores and loads to the xAPIC MMIO window at its default base, STI, taking events.
/// </summary>
internal static class TestGuest
{
    /// <summary>Creates a VM and brings every vCPU into the same mode with its APIC software-enabled.</summary>
    public static VirtualMachine Vm(
        int cpus, bool x2Apic, ApicProfile? profile = null, bool extendedDestinationId = false, X2ApicApiFlags x2ApicApi = X2ApicApiFlags.None)
    {
        var vm = new VirtualMachine(new VmOptions
        {
            Cpus = cpus,
            Profile = profile ?? ApicProfile.Kvm,
            ExtendedDestinationId = extendedDestinationId,
            X2ApicApi = x2ApicApi,
        });
        foreach (var v in vm.Vcpus)
        {
            if (x2Apic)
            {
                v.EnterX2Apic();
            }

            v.SoftwareEnable();
        }

        return vm;
    }

    /// <summary>WRMSR IA32_APIC_BASE |= EXTD (xAPIC to x2APIC, keeping BSP and EN).</summary>
    public static void EnterX2Apic(this Vcpu v)
    {
        Assert.True(v.TryReadMsr(ApicBase.Msr, out ulong b));
        Assert.True(v.TryWriteMsr(ApicBase.Msr, b | ApicBase.ExtdBit | ApicBase.EnableBit));
    }

    /// <summary>WRMSR IA32_APIC_BASE with EN (and EXTD) cleared: the APIC is hardware-disabled.</summary>
    public static void HardwareDisable(this Vcpu v)
    {
        Assert.True(v.TryReadMsr(ApicBase.Msr, out ulong b));
        Assert.True(v.TryWriteMsr(ApicBase.Msr, b & ~(ApicBase.EnableBit | ApicBase.ExtdBit)));
    }

    /// <summary>The guest's own idea of its mode: RDMSR IA32_APIC_BASE.EXTD.</summary>
    public static bool InX2Apic(this Vcpu v) => v.TryReadMsr(ApicBase.Msr, out ulong b) && (b & ApicBase.ExtdBit) != 0;

    /// <summary>Writes an APIC register through the interface of the current mode.</summary>
    public static void Write(this Vcpu v, int offset, uint value)
    {
        if (v.InX2Apic())
        {
            if (!v.TryWriteMsr(ApicOffset.ToMsr(offset), value))
            {
                Assert.Fail($"WRMSR 0x{ApicOffset.ToMsr(offset):x} faulted");
            }
        }
        else
        {
            v.MmioWrite(ApicBase.DefaultAddress + (ulong)offset, value, 4);
        }
    }

    /// <summary>Reads an APIC register through the interface of the current mode.</summary>
    public static uint Read(this Vcpu v, int offset)
    {
        if (v.InX2Apic())
        {
            Assert.True(v.TryReadMsr(ApicOffset.ToMsr(offset), out ulong value));
            return (uint)value;
        }

        return (uint)v.MmioRead(ApicBase.DefaultAddress + (ulong)offset, 4);
    }

    /// <summary>SVR = 0x1FF: software-enabled, spurious vector 0xFF, focus checking on.</summary>
    public static void SoftwareEnable(this Vcpu v) => v.Write(ApicOffset.Svr, 0x1FF);

    /// <summary>SVR = 0xFF: software-disabled.</summary>
    public static void SoftwareDisable(this Vcpu v) => v.Write(ApicOffset.Svr, 0xFF);

    public static void SetTpr(this Vcpu v, uint tpr) => v.Write(ApicOffset.Tpr, tpr);

    public static void WriteEoi(this Vcpu v) => v.Write(ApicOffset.Eoi, 0);

    /// <summary>
    /// Routes the 8259's INTR to <paramref name="v"/> (LINT0 in ExtINT mode), then halts it with
    /// IF=1 and enters the wait: the vCPU a raised INTR must wake. Asserts no kick is latched yet.
    /// </summary>
    public static void HaltWaitingForExtInt(this Vcpu v)
    {
        v.Write(ApicOffset.LvtLint0, 0x700);
        v.Sti();
        v.Hlt();
        v.PrepareToWait();
        Assert.False(v.WaitForKick(TimeSpan.Zero));
    }

    /// <summary>xAPIC: writes the 8-bit APIC ID (bits 31:24).</summary>
    public static void SetXApicId(this Vcpu v, byte id) => v.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Id, (uint)id << 24, 4);

    /// <summary>xAPIC: writes the 8-bit logical ID (LDR bits 31:24).</summary>
    public static void SetLogicalId(this Vcpu v, byte id) => v.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Ldr, (uint)id << 24, 4);

    /// <summary>xAPIC: DFR flat model (0xFFFFFFFF) or cluster model (0x0FFFFFFF).</summary>
    public static void SetDfr(this Vcpu v, bool cluster) => v.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Dfr, cluster ? 0x0FFF_FFFFu : 0xFFFF_FFFFu, 4);

    /// <summary>The low 32 bits of an ICR value.</summary>
    public static uint IcrLow(
        byte vector,
        DeliveryMode mode = DeliveryMode.Fixed,
        bool logical = false,
        DestinationShorthand shorthand = DestinationShorthand.None,
        bool levelAssert = true,
        bool levelTriggered = false) =>
        vector | ((uint)mode << 8) | (logical ? 1u << 11 : 0) | (levelAssert ? 1u << 14 : 0)
        | (levelTriggered ? 1u << 15 : 0) | ((uint)shorthand << 18);

    /// <summary>
    /// Sends an IPI as the guest does in its current mode: xAPIC writes ICR2 (destination in 31:24)
    /// then ICR through MMIO; x2APIC does one 64-bit WRMSR 0x830 with the destination in 63:32.
    /// </summary>
    public static void SendIpi(this Vcpu v, uint low, uint destination)
    {
        if (v.InX2Apic())
        {
            Assert.True(v.TryWriteMsr(ApicOffset.ToMsr(ApicOffset.Icr), ((ulong)destination << 32) | low), "WRMSR ICR");
        }
        else
        {
            v.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Icr2, destination << 24, 4);
            v.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Icr, low, 4);
        }
    }

    public static void SendFixed(this Vcpu v, byte vector, uint destination, bool logical = false) =>
        v.SendIpi(IcrLow(vector, logical: logical), destination);

    /// <summary>STI, then take the next event.</summary>
    public static GuestEvent StiTake(this Vcpu v)
    {
        v.Sti();
        return v.Take();
    }

    /// <summary>STI, take a vector, EOI it and IRET: returns the vector taken or -1.</summary>
    public static int TakeAndEoi(this Vcpu v)
    {
        var e = v.StiTake();
        if (e.Kind != GuestEventKind.Vector)
        {
            return -1;
        }

        v.WriteEoi();
        v.Iret();
        return e.Vector;
    }

    /// <summary>The indexes of the vCPUs whose next event is vector <paramref name="vector"/> (taken, EOIed).</summary>
    public static int[] Receivers(VirtualMachine vm, byte vector)
    {
        var got = new List<int>();
        foreach (var v in vm.Vcpus)
        {
            int taken = v.TakeAndEoi();
            if (taken >= 0)
            {
                Assert.Equal(vector, taken);
                got.Add(v.Index);
            }
        }

        return [.. got];
    }

    /// <summary>Asserts nothing at all is pending anywhere (no leftover IRR bit, NMI, SMI, INIT or SIPI).</summary>
    public static void AssertQuiet(VirtualMachine vm)
    {
        foreach (var v in vm.Vcpus)
        {
            Assert.True(v.Apic.HighestIrr < 0, $"vCPU {v.Index} IRR has 0x{v.Apic.HighestIrr:x2}");
            Assert.Equal(PendingEvents.None, v.PendingEvents & ~PendingEvents.ExtInt);
        }
    }
}
