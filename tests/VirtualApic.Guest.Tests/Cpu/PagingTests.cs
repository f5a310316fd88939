// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>4-level paging: page sizes, permissions, accessed/dirty bits, the TLB, and #PF error codes and CR2.</summary>
public class PagingTests
{
    private const ulong Handler = 0x180000;
    private const ulong Va = 0x4000_0000; // 1 GiB: mapped through TestMachine.Map4K

    private static TestMachine WithPfHandler()
    {
        var m = new TestMachine();
        m.Load(a => a.hlt(), Handler);
        m.SetGate(14, Handler);
        return m;
    }

    private static ulong Frame(TestMachine m, int slot) => m.Memory.ReadUInt64(m.Reg(4) + (ulong)(8 * slot));

    [Fact]
    public void Four_kib_page_translates_and_sets_accessed_then_dirty()
    {
        var m = WithPfHandler();
        m.Map4K(Va + 0x3000, 0x250000, 0x3);
        m.Memory.WriteUInt64(0x250010, 0xCAFE);
        m.Load(a =>
        {
            a.mov(rax, __qword_ptr[Va + 0x3010]);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0xCAFEUL, m.Reg(0));
        ulong pte = m.Memory.ReadUInt64(0x20000 + (((0UL * 512) + 0) % 64 * 0x1000) + (3 * 8));
        Assert.Equal(0x20UL, pte & 0x60); // accessed, not dirty

        var w = WithPfHandler();
        w.Map4K(Va + 0x3000, 0x250000, 0x3);
        w.Load(a =>
        {
            a.mov(__qword_ptr[Va + 0x3018], 7);
            a.hlt();
        });
        w.RunToHalt();
        Assert.Equal(7UL, w.Memory.ReadUInt64(0x250018));
        ulong wpte = w.Memory.ReadUInt64(0x20000 + (3 * 8));
        Assert.Equal(0x60UL, wpte & 0x60);
        Assert.Equal(0x20UL, w.Memory.ReadUInt64(TestMachine.Pml4) & 0x20);
    }

    [Fact]
    public void A_read_then_a_write_through_the_same_tlb_entry_still_sets_dirty()
    {
        var m = WithPfHandler();
        m.Map4K(Va, 0x250000, 0x3);
        m.Load(a =>
        {
            a.mov(rax, __qword_ptr[Va]);
            a.mov(__qword_ptr[Va], 1);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x60UL, m.Memory.ReadUInt64(0x20000) & 0x60);
    }

    [Fact]
    public void Two_mib_and_one_gib_pages()
    {
        var m = new TestMachine();
        // PDPT[2] = 1 GiB page at physical 0 ; PD[5] (2 MiB page) remapped to physical 0x400000.
        m.Memory.WriteUInt64(TestMachine.Pdpt + 16, 0x0UL | 0x83);
        m.Memory.WriteUInt64(TestMachine.Pd + (5 * 8), 0x400000UL | 0x83);
        m.Memory.WriteUInt64(0x400123, 0x1111);
        m.Memory.WriteUInt64(0x300040, 0x2222);
        m.Load(a =>
        {
            a.mov(rax, __qword_ptr[(5UL << 21) + 0x123]);
            a.mov(rcx, 0x8000_0000UL + 0x300040);
            a.mov(rbx, __qword_ptr[rcx]);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x1111UL, m.Reg(0));
        Assert.Equal(0x2222UL, m.Reg(3));
    }

    [Theory]
    [InlineData(false, 0x2UL)]   // not present, write
    [InlineData(true, 0x3UL)]    // present read-only page with CR0.WP, write
    public void Write_faults_report_cr2_and_error_code_and_leave_state(bool present, ulong expectedError)
    {
        var m = WithPfHandler();
        if (present)
        {
            m.Map4K(Va, 0x250000, 0x1);
        }
        else
        {
            m.Map4K(Va + 0x1000, 0x250000, 0x3); // creates the table; Va itself stays absent
        }

        m.Memory.WriteUInt64(0x250008, 5);
        ulong end = m.Load(a => a.mov(rbx, Va + 8));
        m.Load(a =>
        {
            a.add(__qword_ptr[rbx], 1);
            a.hlt();
        }, end);
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
        Assert.Equal(Va + 8, m.Cpu.Cr2);
        Assert.Equal(expectedError, Frame(m, 0));
        Assert.Equal(end, Frame(m, 1));
        Assert.Equal(5UL, m.Memory.ReadUInt64(0x250008));
    }

    [Fact]
    public void Supervisor_write_to_read_only_page_is_allowed_when_WP_is_clear()
    {
        var m = WithPfHandler();
        m.Map4K(Va, 0x250000, 0x1);
        m.Cpu.SetControlRegisters(0x80000031, TestMachine.Pml4, 0x20, 0x900);
        m.Load(a =>
        {
            a.mov(__qword_ptr[Va], 9);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(9UL, m.Memory.ReadUInt64(0x250000));
    }

    [Fact]
    public void Nx_fetch_faults_with_the_instruction_fetch_bit()
    {
        var m = WithPfHandler();
        m.Map4K(Va, 0x250000, 0x3 | (1UL << 63));
        m.Memory.Write(0x250000, [0xF4]);
        m.Load(a =>
        {
            a.mov(rax, Va);
            a.jmp(rax);
        });
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
        Assert.Equal(0x11UL, Frame(m, 0));
        Assert.Equal(Va, Frame(m, 1));
        Assert.Equal(Va, m.Cpu.Cr2);
    }

    [Fact]
    public void Nx_bit_without_EFER_NXE_is_a_reserved_bit_fault()
    {
        var m = WithPfHandler();
        m.Cpu.SetControlRegisters(0x80010031, TestMachine.Pml4, 0x20, 0x100);
        m.Map4K(Va, 0x250000, 0x3 | (1UL << 63));
        m.Load(a =>
        {
            a.mov(rax, __qword_ptr[Va]);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x9UL, Frame(m, 0)); // P | RSVD, read
    }

    [Fact]
    public void User_access_to_a_supervisor_page_faults_with_U_set()
    {
        var m = WithPfHandler();
        m.Memory.WriteUInt64(TestMachine.Tss + 4, 0x70000);
        m.Map4K(Va, 0x250000, 0x3); // no U bit
        m.Load(a =>
        {
            a.mov(ax, TestMachine.TssSel);
            a.ltr(ax);
            a.push(TestMachine.UserData);
            a.push(0x60000);
            a.push(0x2);
            a.push(TestMachine.UserCode);
            a.push(0x101000);
            a.iretq();
        });
        m.Load(a =>
        {
            a.mov(__qword_ptr[Va], 1);
            a.hlt();
        }, 0x101000);
        m.RunToHalt();
        Assert.Equal(0x7UL, Frame(m, 0)); // P | W | U
    }

    [Fact]
    public void After_invlpg_or_a_cr3_write_the_current_translation_is_used()
    {
        // Va + 0x7000 uses TLB set 7: no collision with the code (set 0) or the stack (set 0x7F).
        const ulong V = Va + 0x7000;
        var m = new TestMachine();
        m.Map4K(V, 0x250000, 0x3);
        m.Memory.WriteUInt64(0x250000, 1);
        m.Memory.WriteUInt64(0x260000, 2);
        ulong pteAddress = 0x20000 + (7 * 8);
        m.Load(a =>
        {
            a.mov(rax, __qword_ptr[V]);            // fills the TLB
            a.mov(rcx, pteAddress);
            a.mov(__qword_ptr[rcx], 0x260003);       // remap without invalidation
            a.mov(rbx, __qword_ptr[V]);            // either translation: the SDM lets a TLB keep the old one (4.10.4.3)
            a.invlpg(__byte_ptr[V]);
            a.mov(rdx, __qword_ptr[V]);            // now 2
            a.mov(__qword_ptr[rcx], 0x250003);
            a.mov(rsi, cr3);
            a.mov(cr3, rsi);
            a.mov(rdi, __qword_ptr[V]);            // back to 1 after the CR3 write
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(1UL, m.Reg(0));
        Assert.Equal(2UL, m.Reg(2));
        Assert.Equal(1UL, m.Reg(7));
    }

    [Fact]
    public void Non_canonical_address_is_GP()
    {
        var m = new TestMachine();
        m.Load(a => a.hlt(), Handler);
        m.SetGate(13, Handler);
        m.Load(a =>
        {
            a.mov(rax, unchecked((long)0x8000_0000_0000_0000));
            a.mov(rbx, __qword_ptr[rax]);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
    }

    [Fact]
    public void Accesses_straddling_a_page_boundary_are_split()
    {
        var m = new TestMachine();
        m.Map4K(Va, 0x250000, 0x3);
        m.Map4K(Va + 0x1000, 0x270000, 0x3);
        m.Load(a =>
        {
            a.mov(rax, 0x1122334455667788);
            a.mov(__qword_ptr[Va + 0xFFC], rax);
            a.mov(rbx, __qword_ptr[Va + 0xFFC]);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x55667788U, m.Memory.ReadUInt32(0x250FFC));
        Assert.Equal(0x11223344U, m.Memory.ReadUInt32(0x270000));
        Assert.Equal(0x1122334455667788UL, m.Reg(3));
    }

    [Fact]
    public void Mmio_pages_go_to_the_host_with_address_and_size()
    {
        var m = new TestMachine();
        m.Host.MmioPages.Add(0xFEE00000);
        m.Host.MmioValues[0xFEE00030] = 0x50014;
        // Identity-map the APIC page with a 2 MiB page in the 4th GiB.
        m.Memory.WriteUInt64(TestMachine.Pdpt + (3 * 8), 0xC0000000UL | 0x83);
        m.Load(a =>
        {
            a.mov(rcx, 0xFEE00000);
            a.mov(eax, __dword_ptr[rcx + 0x30]);
            a.mov(__dword_ptr[rcx + 0xB0], 0);
            a.mov(__word_ptr[rcx + 0x80], 0x10);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x50014UL, m.Reg(0));
        Assert.Equal([(0xFEE000B0UL, 0UL, 4), (0xFEE00080UL, 0x10UL, 2)], m.Host.MmioWrites.ToArray());
    }
}
