// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Guest.Platform;

namespace VirtualApic.Guest.Tests.Platform;

public class CpuidTests
{
    [Theory]
    [InlineData("qemu64", false, false, CpuVendor.Intel)]
    [InlineData("qemu64,+x2apic,+tsc-deadline", true, true, CpuVendor.Intel)]
    [InlineData("qemu64,-x2apic,+tsc-deadline,vendor=AuthenticAMD", false, true, CpuVendor.Amd)]
    [InlineData("qemu64,+x2apic,-x2apic", false, false, CpuVendor.Intel)]
    public void Parses_qemu_cpu_arguments(string text, bool x2apic, bool deadline, CpuVendor vendor)
    {
        var m = CpuModel.Parse(text);
        Assert.Equal((x2apic, deadline, vendor), (m.X2Apic, m.TscDeadline, m.Vendor));
    }

    [Theory]
    [InlineData("host", "cpu model 'host'")]
    [InlineData("qemu64,+avx", "cpu flag 'avx'")]
    [InlineData("qemu64,x2apic", "must be +name or -name")]
    [InlineData("qemu64,vendor=Cyrix", "vendor 'Cyrix'")]
    public void Refuses_what_is_not_modelled(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => CpuModel.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apic_bits_are_live_and_the_physical_address_width_matches_the_library()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2, X2Apic = true, TscDeadline = true });
        var table = new CpuidTable(new CpuModel(X2Apic: true, TscDeadline: true), 2, vm.Options.MaxPhysAddr);
        var cpu1 = vm.Vcpus[1];

        table.Execute(cpu1, 1, 0, out _, out uint ebx, out uint ecx, out uint edx);
        Assert.Equal(1u, ebx >> 24);
        Assert.True((ecx & (1u << 21)) != 0, "x2APIC");
        Assert.True((ecx & (1u << 24)) != 0, "TSC deadline");
        Assert.True((edx & (1u << 9)) != 0, "APIC");

        Assert.True(cpu1.TryReadMsr(0x1B, out ulong apicBase));
        Assert.True(cpu1.TryWriteMsr(0x1B, apicBase & ~(1ul << 11)));
        table.Execute(cpu1, 1, 0, out _, out _, out _, out edx);
        Assert.True((edx & (1u << 9)) == 0, "APIC follows APIC_BASE.EN");

        table.Execute(cpu1, 0xB, 0, out _, out _, out _, out edx);
        Assert.Equal(1u, edx);
        table.Execute(cpu1, 0x8000_0008, 0, out uint eax, out _, out _, out _);
        Assert.Equal((uint)vm.Options.MaxPhysAddr, eax & 0xFF);
        table.Execute(cpu1, 0, 0, out eax, out ebx, out ecx, out edx);
        Assert.True(eax >= 0xB);
        Assert.Equal("GenuineIntel", Vendor(ebx, edx, ecx));
    }

    [Fact]
    public void Amd_vendor_string()
    {
        using var vm = new VirtualMachine(new VmOptions());
        new CpuidTable(new CpuModel(Vendor: CpuVendor.Amd), 1, 46).Execute(vm.Vcpus[0], 0x8000_0000, 0, out _, out uint b, out uint c, out uint d);
        Assert.Equal("AuthenticAMD", Vendor(b, d, c));
    }

    private static string Vendor(uint a, uint b, uint c) =>
        string.Concat(new[] { a, b, c }.SelectMany(BitConverter.GetBytes).Select(x => (char)x));
}
