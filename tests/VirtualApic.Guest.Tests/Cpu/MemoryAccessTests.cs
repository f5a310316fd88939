// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// Linear and physical accesses around paging: segment bases (SDM Vol 1 3.3.4 and Vol 3 3.4.4: in 64-bit mode only
/// FS and GS bases are added, outside it every base, modulo 2^32), implicit supervisor-mode accesses to system
/// structures (Vol 3 4.6.1), RAM and MMIO routing (the engine's <see cref="ICpuHost.IsMmioPage"/> contract and RAM's
/// end), the clean stops for what the engine does not model, and the code bytes an unsupported stop reports.
/// </summary>
public class MemoryAccessTests
{
    private const ulong T = 0x80_0000_7000; // PML4 slot 1, through TestMachine.MapChain
    private const ulong Frame = 0x250000;
    private const ulong Apic = 0xFEE00000; // beyond RAM, identity-mapped by a 1 GiB page in the tests that use it
    private const long Ram = 16 << 20;

    private static TestMachine WithApicPage()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.Memory.WriteUInt64(TestMachine.Pdpt + (3 * 8), 0xC0000000UL | 0x83);
        return m;
    }

    // ---- segment bases ----

    [Fact]
    public void In_64_bit_mode_only_FS_and_GS_bases_are_added()
    {
        var m = new TestMachine();
        foreach (var s in new[] { SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Ss })
        {
            m.Cpu.SetSegment(s, new SegmentCache(TestMachine.Data, 0x10000, 0xFFFFFFFF, 0xC093));
        }

        m.Cpu.SetSegment(SegmentRegister.Fs, new SegmentCache(TestMachine.Data, 0x10000, 0xFFFFFFFF, 0xC093));
        m.Cpu.SetSegment(SegmentRegister.Gs, new SegmentCache(TestMachine.Data, 0x20000, 0xFFFFFFFF, 0xC093));
        m.Memory.WriteUInt64(Frame, 1);
        m.Memory.WriteUInt64(Frame + 0x10000, 2);
        m.Memory.WriteUInt64(Frame + 0x20000, 3);
        m.Load(a =>
        {
            a.mov(rbx, Frame);
            a.mov(rax, __qword_ptr[rbx]); // DS
            a.mov(rcx, __qword_ptr.fs[rbx]);
            a.mov(rdx, __qword_ptr.gs[rbx]);
            a.mov(rsi, __qword_ptr.es[rbx]);
            a.mov(rbp, rbx);
            a.mov(rdi, __qword_ptr[rbp]); // SS
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(1UL, m.Reg(0));
        Assert.Equal(2UL, m.Reg(1));
        Assert.Equal(3UL, m.Reg(2));
        Assert.Equal(1UL, m.Reg(6));
        Assert.Equal(1UL, m.Reg(7));
    }

    [Fact]
    public void Outside_64_bit_mode_every_base_is_added_modulo_4_GiB()
    {
        var m = new TestMachine();
        m.EnterCompatibilityMode();
        m.Cpu.SetSegment(SegmentRegister.Ds, new SegmentCache(TestMachine.Data, 0x10000, 0xFFFFFFFF, 0xC093));
        m.Cpu.SetSegment(SegmentRegister.Es, new SegmentCache(TestMachine.Data, 0xFFFF0000, 0xFFFFFFFF, 0xC093));
        m.Memory.WriteUInt32(Frame, 1);
        m.Memory.WriteUInt32(Frame + 0x10000, 2);
        m.Load(
            a =>
            {
                a.mov(ebx, (uint)Frame);
                a.mov(eax, __dword_ptr[ebx]); // DS: base + offset
                a.mov(ecx, __dword_ptr.es[ebx + 0x10000]); // ES: 0xFFFF0000 + 0x260000 wraps to 0x250000
                a.hlt();
            },
            bitness: 32);
        m.RunToHalt();
        Assert.Equal(2UL, m.Reg(0));
        Assert.Equal(1UL, m.Reg(1));
    }

    // ---- implicit supervisor-mode accesses ----

    [Fact]
    public void A_cpl_3_segment_load_sets_the_accessed_bit_in_a_GDT_on_a_supervisor_only_page()
    {
        const ushort Sel = 0x53; // GDT index 10: DPL 3 data, accessed bit clear
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.MapChain(T, 0x290000, pte: 3); // supervisor-only
        byte[] gdt = new byte[0x58];
        m.Memory.Read(TestMachine.Gdt, gdt.AsSpan(0, 0x50));
        m.Memory.Write(0x290000, gdt);
        m.Memory.WriteUInt64(0x290000 + 0x50, 0x00CFF2000000FFFF);
        m.Cpu.SetDescriptorTables(new DescriptorTable(T, 0x57), m.Cpu.Idtr);
        ulong end = m.LoadUser(a =>
        {
            a.mov(ax, Sel);
            a.mov(ds, ax);
            a.ud2();
        });
        m.RunToHalt();
        m.AssertException(6, end - 2);
        Assert.Equal(Sel, m.Cpu.GetSegment(SegmentRegister.Ds).Selector);
        Assert.Equal(0xF3, m.Memory.Bytes[0x290000 + 0x50 + 5]);
    }

    // ---- RAM and MMIO ----

    [Fact]
    public void A_host_mmio_page_inside_ram_is_never_served_from_ram()
    {
        var m = new TestMachine();
        m.Host.MmioPages.Add(Frame);
        m.Host.MmioValues[Frame + 0x10] = 0x1122_3344;
        m.Memory.WriteUInt32(Frame + 0x10, 0xAAAA_AAAA);
        m.Load(a =>
        {
            a.mov(rbx, Frame);
            a.mov(eax, __dword_ptr[rbx + 0x10]);
            a.mov(ecx, __dword_ptr[rbx + 0x10]); // a second time: still the host's
            a.mov(__dword_ptr[rbx + 0x10], 0x55);
            a.mov(__dword_ptr[rbx + 0x10], 0x66);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x1122_3344UL, m.Reg(0));
        Assert.Equal(0x1122_3344UL, m.Reg(1));
        Assert.Equal([(Frame + 0x10, 0x55UL, 4), (Frame + 0x10, 0x66UL, 4)], m.Host.MmioWrites.ToArray());
        Assert.Equal(0xAAAA_AAAAU, m.Memory.ReadUInt32(Frame + 0x10));
    }

    [Fact]
    public void The_page_right_after_ram_goes_to_the_host_every_time()
    {
        var m = new TestMachine();
        m.Host.MmioValues[Ram + 8] = 0x77;
        const ulong Code = 0x10A000; // not in the TLB set of page Ram (set 0, that of CodeBase)
        m.Load(
            a =>
            {
                a.mov(rbx, Ram);
                a.mov(rax, __qword_ptr[rbx + 8]);
                a.mov(rcx, __qword_ptr[rbx + 8]);
                a.mov(__qword_ptr[rbx + 8], 9);
                a.hlt();
            },
            Code);
        m.Cpu.Rip = Code;
        m.RunToHalt();
        Assert.Equal(0x77UL, m.Reg(0));
        Assert.Equal(0x77UL, m.Reg(1));
        Assert.Equal([((ulong)Ram + 8, 9UL, 8)], m.Host.MmioWrites.ToArray());
    }

    [Fact]
    public void The_last_bytes_of_ram_are_ram_and_an_access_across_its_end_is_split_bytewise()
    {
        var m = new TestMachine();
        m.Memory.WriteUInt64(Ram - 8, 0x0807_0605_0403_0201);
        m.Host.MmioValues[Ram] = 0xA1;
        m.Host.MmioValues[Ram + 1] = 0xA2;
        m.Load(a =>
        {
            a.mov(rbx, Ram - 8);
            a.mov(rax, __qword_ptr[rbx]);
            a.mov(__qword_ptr[rbx], rax); // written back: no host write
            a.add(__qword_ptr[rbx], 0x10);
            a.mov(ecx, __dword_ptr[rbx + 6]); // two bytes of RAM, two of the host
            a.mov(__dword_ptr[rbx + 6], 0x4433_2211);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x0807_0605_0403_0201UL, m.Reg(0));
        Assert.Equal(0xA2A1_0807UL, m.Reg(1));
        Assert.Equal(0x2211_0605_0403_0211UL, m.Memory.ReadUInt64((ulong)Ram - 8));
        Assert.Equal([((ulong)Ram, 0x33UL, 1), ((ulong)Ram + 1, 0x44UL, 1)], m.Host.MmioWrites.ToArray());
    }

    [Fact]
    public void Aligned_mmio_accesses_go_whole_and_unaligned_ones_bytewise()
    {
        var m = WithApicPage();
        m.Host.MmioValues[Apic + 0x14] = 0x1122_3344;
        for (ulong b = 0; b < 4; b++)
        {
            m.Host.MmioValues[Apic + 0x1A + b] = 0xA0 + b; // the byte-sized answers of the host
        }

        m.Load(a =>
        {
            a.mov(rbx, Apic);
            a.mov(eax, __dword_ptr[rbx + 0x14]);
            a.mov(ecx, __dword_ptr[rbx + 0x1A]);
            a.mov(__dword_ptr[rbx + 0x24], 0x0102_0304);
            a.mov(__dword_ptr[rbx + 0x32], 0x0506_0708);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x1122_3344UL, m.Reg(0));
        Assert.Equal(0xA3A2_A1A0UL, m.Reg(1));
        Assert.Equal(
            [
                (Apic + 0x24, 0x0102_0304UL, 4),
                (Apic + 0x32, 0x08UL, 1), (Apic + 0x33, 0x07UL, 1), (Apic + 0x34, 0x06UL, 1), (Apic + 0x35, 0x05UL, 1),
            ],
            m.Host.MmioWrites.ToArray());
    }

    [Fact]
    public void Mmio_accesses_use_exactly_their_size()
    {
        var m = WithApicPage();
        m.Host.MmioValues[Apic + 0x20] = 0xFFFF_FFFF_FFFF_1234; // a host that answers wider than asked
        m.Host.MmioValues[Apic + 0x28] = 0x1122_3344_5566_7788;
        m.Load(a =>
        {
            a.mov(rbx, Apic);
            a.movzx(eax, __word_ptr[rbx + 0x20]);
            a.mov(rcx, __qword_ptr[rbx + 0x28]);
            a.mov(rdx, unchecked((long)0xFFFF_FFFF_FFFF_5678));
            a.mov(__word_ptr[rbx + 0x30], dx);
            a.mov(__qword_ptr[rbx + 0x38], rcx);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x1234UL, m.Reg(0));
        Assert.Equal(0x1122_3344_5566_7788UL, m.Reg(1));
        Assert.Equal([(Apic + 0x30, 0x5678UL, 2), (Apic + 0x38, 0x1122_3344_5566_7788UL, 8)], m.Host.MmioWrites.ToArray());
    }

    // ---- page tables at RAM's end ----

    [Fact]
    public void A_page_table_in_the_last_page_of_ram_is_walked()
    {
        const ulong Linear = 0x80_001F_F000; // PT index 511
        const ulong LastPt = Ram - 0x1000;
        var m = new TestMachine();
        m.MapChain(T, Frame);
        m.Memory.WriteUInt64(TestMachine.ChainEntry(2, Linear), LastPt | 7);
        m.Memory.WriteUInt64(LastPt + (511 * 8), Frame | 7);
        m.Memory.WriteUInt64(Frame + 0x20, 0x4242);
        m.Load(a =>
        {
            a.mov(rbx, Linear);
            a.mov(rax, __qword_ptr[rbx + 0x20]);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x4242UL, m.Reg(0));
    }

    [Fact]
    public void Paging_structures_outside_ram_stop_cleanly_naming_the_address()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rax, Ram);
            a.mov(cr3, rax);
            a.nop();
        });
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("page-table entry outside RAM at physical 1000000", r.Unsupported!.Reason, StringComparison.Ordinal);
    }

    // ---- unsupported stops ----

    [Fact]
    public void An_unsupported_instruction_on_a_supervisor_page_at_cpl_0_reports_its_bytes()
    {
        var m = new TestMachine();
        m.MapChain(T, Frame, pte: 3);
        m.Memory.Write(Frame, [0x0F, 0x01, 0xD0, 0xF4]); // xgetbv
        m.Cpu.Rip = T;
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Equal(T, r.Unsupported!.Rip);
        Assert.Equal(new byte[] { 0x0F, 0x01, 0xD0 }, r.Unsupported.Bytes);
    }

    [Theory]
    [InlineData(Ram)]
    [InlineData(Ram + 0x5000)]
    public void Fetching_from_beyond_ram_stops_with_no_code_bytes(long target)
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rax, target);
            a.jmp(rax);
        });
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains($"physical address {target:X}", r.Unsupported!.Reason, StringComparison.Ordinal);
        Assert.Empty(r.Unsupported.Bytes);
        Assert.Equal(string.Empty, r.Unsupported.Disassembly);
    }

    [Fact]
    public void Enabling_paging_outside_ia32e_mode_stops_cleanly_with_no_code_bytes()
    {
        var m = new TestMachine();
        m.EnterProtectedMode32();
        m.Load(
            a =>
            {
                a.mov(eax, cr0);
                a.or(eax, unchecked((int)0x8000_0000));
                a.mov(cr0, eax);
                a.nop();
            },
            bitness: 32);
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("paging outside IA-32e mode", r.Unsupported!.Reason, StringComparison.Ordinal);
        Assert.Empty(r.Unsupported.Bytes);
    }
}
