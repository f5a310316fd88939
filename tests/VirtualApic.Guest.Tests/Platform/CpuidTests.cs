// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
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
    [InlineData("qemu64,+tsc_deadline", false, true, CpuVendor.Intel)] // QEMU turns _ into - in feature names (target/i386/cpu.c, feat2prop)
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

    /// <summary>
    /// Leaf 0xB (SDM vol. 2A CPUID, "Extended Topology Enumeration"): one thread per core and one core
    /// per CPU, so level 0 (SMT) shifts by 0 and counts 1, level 1 (core) shifts by ceil(log2(CPUs)) and
    /// counts the CPUs, and any higher level is invalid (EAX = EBX = 0, ECX = the level number, type 0);
    /// EDX is the x2APIC ID at every level.
    /// </summary>
    [Theory]
    [InlineData(1, 0u)]
    [InlineData(2, 1u)]
    [InlineData(3, 2u)]
    [InlineData(4, 2u)]
    [InlineData(5, 3u)]
    [InlineData(8, 3u)]
    [InlineData(9, 4u)]
    public void Leaf_0xB_describes_one_thread_per_core_and_every_cpu_a_core(int cpus, uint coreShift)
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = cpus, X2Apic = true });
        var table = new CpuidTable(new CpuModel(X2Apic: true), cpus, vm.Options.MaxPhysAddr);
        var last = vm.Vcpus[cpus - 1];

        Assert.Equal((0u, 1u, 0x100u, (uint)(cpus - 1)), Leaf(table, last, 0xB, 0));
        Assert.Equal((coreShift, (uint)cpus, 0x201u, (uint)(cpus - 1)), Leaf(table, last, 0xB, 1));
        Assert.Equal((0u, 0u, 2u, (uint)(cpus - 1)), Leaf(table, last, 0xB, 2));
        Assert.Equal((0u, 0u, 0x7Fu, (uint)(cpus - 1)), Leaf(table, last, 0xB, 0x17F)); // ECX[7:0] only
    }

    /// <summary>
    /// Leaf 1 EBX: the initial APIC ID in [31:24], the addressable logical-processor IDs in [23:16]
    /// (the CPU count, saturating at 255) and the CLFLUSH line size in 8-byte units in [15:8] (64
    /// bytes); EAX the qemu64 signature (family 15, model 107, stepping 1 as QEMU encodes it).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(300)]
    public void Leaf_1_ebx_carries_the_apic_id_the_cpu_count_and_the_clflush_size(int cpus)
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 1 });
        var table = new CpuidTable(new CpuModel(), cpus, vm.Options.MaxPhysAddr);

        var (eax, ebx, _, _) = Leaf(table, vm.Vcpus[0], 1, 0);

        Assert.Equal(0x0006_0FB1u, eax);
        Assert.Equal(((uint)Math.Min(cpus, 255) << 16) | (8u << 8), ebx);
    }

    /// <summary>The fixed feature bits of qemu64 as KVM exposes it, and that the live APIC bits are the
    /// only ones the model's flags change.</summary>
    [Fact]
    public void Leaf_1_feature_bits_are_qemu64s_and_the_model_flags_add_only_their_own()
    {
        // The live bits come from the library's vCPU, so each table gets the VM its model implies.
        using var vm = new VirtualMachine(new VmOptions { Cpus = 1, X2Apic = false, TscDeadline = false });
        using var vm2 = new VirtualMachine(new VmOptions { Cpus = 1, X2Apic = true, TscDeadline = true });
        var plain = Leaf(new CpuidTable(new CpuModel(), 1, 46), vm.Vcpus[0], 1, 0);
        var rich = Leaf(new CpuidTable(new CpuModel(X2Apic: true, TscDeadline: true), 1, 46), vm2.Vcpus[0], 1, 0);

        // SSE3, CX16, POPCNT, HYPERVISOR; then x2APIC (21) and TSC-deadline (24) on top.
        Assert.Equal((1u << 0) | (1u << 13) | (1u << 23) | (1u << 31), plain.Ecx);
        Assert.Equal(plain.Ecx | (1u << 21) | (1u << 24), rich.Ecx);

        // FPU DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2.
        Assert.Equal(0x078B_FBFDu, plain.Edx);
        Assert.Equal(plain.Edx, rich.Edx);
    }

    /// <summary>
    /// The remaining leaves: the KVM signature and its one feature (PV send-IPI, bit 11), the extended
    /// maximum and vendor, 0x80000001 (LAHF/SAHF; SYSCALL, NX, LM), 0x80000008 (physical width in
    /// [7:0], 48 linear bits in [15:8]), and leaves nobody lists reading all zeros.
    /// </summary>
    [Fact]
    public void Kvm_extended_and_unlisted_leaves()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 1 });
        var table = new CpuidTable(new CpuModel(), 1, 39);
        var cpu = vm.Vcpus[0];

        Assert.Equal(0x0000_000Bu, Leaf(table, cpu, 0, 0).Eax);
        var kvm = Leaf(table, cpu, 0x4000_0000, 0);
        Assert.Equal(0x4000_0001u, kvm.Eax);
        Assert.Equal("KVMKVMKVM\0\0\0", Vendor(kvm.Ebx, kvm.Ecx, kvm.Edx));
        Assert.Equal((1u << 11, 0u, 0u, 0u), Leaf(table, cpu, 0x4000_0001, 0));
        Assert.Equal(0x8000_0008u, Leaf(table, cpu, 0x8000_0000, 0).Eax);
        Assert.Equal((0x0006_0FB1u, 0u, 1u, (1u << 11) | (1u << 20) | (1u << 29)), Leaf(table, cpu, 0x8000_0001, 0));
        Assert.Equal((39u | (48u << 8), 0u, 0u, 0u), Leaf(table, cpu, 0x8000_0008, 0));
        foreach (uint leaf in new uint[] { 2, 7, 0xA, 0xC, 0x4000_0002, 0x8000_0002, 0x8000_0009, 0xFFFF_FFFF })
        {
            Assert.True(Leaf(table, cpu, leaf, 0) == (0u, 0u, 0u, 0u), $"leaf 0x{leaf:x} reads zeros");
        }
    }

    [Theory]
    [InlineData(false, false, CpuVendor.Intel, "qemu64,-x2apic,-tsc-deadline")]
    [InlineData(true, false, CpuVendor.Intel, "qemu64,+x2apic,-tsc-deadline")]
    [InlineData(false, true, CpuVendor.Amd, "qemu64,-x2apic,+tsc-deadline,vendor=AuthenticAMD")]
    public void A_model_prints_as_the_argument_that_parses_back_to_it(bool x2apic, bool deadline, CpuVendor vendor, string text)
    {
        var model = new CpuModel(x2apic, deadline, vendor);

        Assert.Equal(text, model.ToString());
        Assert.Equal(model, CpuModel.Parse(text));
    }

    [Theory]
    [InlineData("qemu64,vendor=", "vendor ''")]
    [InlineData("qemu64,+", "must be +name or -name")]
    [InlineData("qemu64,-", "must be +name or -name")]
    [InlineData("qemu64,+x", "cpu flag 'x'")]
    public void Refuses_empty_names(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => CpuModel.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_arguments_are_refused_by_name()
    {
        using var vm = new VirtualMachine(new VmOptions());
        Assert.Equal("text", Assert.Throws<ArgumentNullException>(() => CpuModel.Parse(null!)).ParamName);
        Assert.Equal("model", Assert.Throws<ArgumentNullException>(() => new CpuidTable(null!, 1, 46)).ParamName);
        Assert.Equal("vcpu", Assert.Throws<ArgumentNullException>(() => new CpuidTable(new CpuModel(), 1, 46).Execute(null!, 0, 0, out _, out _, out _, out _)).ParamName);
    }

    private static (uint Eax, uint Ebx, uint Ecx, uint Edx) Leaf(CpuidTable table, Vcpu cpu, uint leaf, uint subleaf)
    {
        table.Execute(cpu, leaf, subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx);
        return (eax, ebx, ecx, edx);
    }

    private static string Vendor(uint a, uint b, uint c) =>
        string.Concat(new[] { a, b, c }.SelectMany(BitConverter.GetBytes).Select(x => (char)x));
}
