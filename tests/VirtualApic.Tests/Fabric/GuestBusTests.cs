// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using IoApicDevice = VirtualApic.Devices.IoApic;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The VM as the guest's bus outside the APIC window (<see cref="VirtualMachine"/> as <c>IGuestBus</c>):
/// the IOAPIC's 256-byte window at 0xFEC00000 reaches the IOAPIC at the offset inside its window (IOREGSEL
/// at 0x00, IOWIN at 0x10; 82093AA datasheet 3.0), and a load nobody claims reads all ones of its size, a
/// store nobody claims is dropped (a PC's unclaimed MMIO: master abort).
/// </summary>
public class GuestBusTests
{
    [Fact]
    public void A_guest_reaches_the_ioapic_registers_through_its_window()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2 });
        var cpu = vm.Vcpus[1];
        ulong select = IoApicDevice.DefaultBaseAddress + IoApicDevice.RegisterSelectOffset;
        ulong window = IoApicDevice.DefaultBaseAddress + IoApicDevice.WindowOffset;

        // Version register: version 0x11, maximum redirection entry 23 in bits 23:16.
        cpu.MmioWrite(select, IoApicDevice.VersionIndex, 4);
        Assert.Equal(IoApicDevice.VersionIndex, cpu.MmioRead(select, 4));
        Assert.Equal(0x0017_0011ul, cpu.MmioRead(window, 4));

        // A redirection entry written by the guest is the device's entry.
        cpu.MmioWrite(select, 0x10 + (2 * 5), 4);
        cpu.MmioWrite(window, 0x0000_A045, 4);
        Assert.Equal(0x45, vm.IoApic.GetEntry(5).Vector);
        Assert.Equal(0x0000_A045ul, cpu.MmioRead(window, 4));
    }

    [Theory]
    [InlineData(1, 0xFFul)]
    [InlineData(2, 0xFFFFul)]
    [InlineData(4, 0xFFFF_FFFFul)]
    [InlineData(8, ulong.MaxValue)]
    public void A_load_nobody_claims_reads_all_ones_of_its_size(int size, ulong expected)
    {
        using var vm = new VirtualMachine(new VmOptions());
        var cpu = vm.Vcpus[0];

        // 0xFED00000 (the HPET's usual base) and the first byte past the IOAPIC's window.
        Assert.Equal(expected, cpu.MmioRead(0xFED0_0000, size));
        Assert.Equal(expected, cpu.MmioRead(IoApicDevice.DefaultBaseAddress + IoApicDevice.MmioLength, size));
    }

    [Fact]
    public void A_store_nobody_claims_changes_no_ioapic_register()
    {
        using var vm = new VirtualMachine(new VmOptions());
        var cpu = vm.Vcpus[0];
        ulong select = IoApicDevice.DefaultBaseAddress + IoApicDevice.RegisterSelectOffset;
        cpu.MmioWrite(select, IoApicDevice.VersionIndex, 4);

        // The same offset one window up is not the IOAPIC's register select.
        cpu.MmioWrite(select + IoApicDevice.MmioLength, 0x10, 4);
        Assert.Equal(IoApicDevice.VersionIndex, cpu.MmioRead(select, 4));
    }
}
