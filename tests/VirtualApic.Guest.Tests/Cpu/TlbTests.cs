// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// What a TLB may and may not do (SDM Vol 3 4.10): a cached translation never grants more than the paging
/// structures did when it was cached (rights for reads, writes and fetches at the CPL it was filled for, and a
/// write still sets the dirty flag, 4.8), and INVLPG, MOV to CR3 and paging-related changes of CR0, CR4 and
/// EFER make the next access use the paging structures as they are now (4.10.4). Accesses that straddle a page
/// stay split whatever is cached (4.5).
/// </summary>
public class TlbTests
{
    // TLB set 7 (no other page the tests touch maps there), page number with bit 8 set, linear bit 31 set.
    private const ulong T = 0x80_8010_7000;
    private const ulong Frame = 0x250000, Frame2 = 0x270000;
    private const ulong Xd = 1UL << 63, Dirty = 0x40, Smep = 1UL << 20;

    private static TestMachine Machine()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        return m;
    }

    [Fact]
    public void A_write_after_a_read_through_the_cached_entry_still_sets_dirty()
    {
        var m = Machine();
        m.MapChain(T, Frame);
        m.Load(a =>
        {
            a.mov(rbx, T);
            a.mov(rax, __qword_ptr[rbx]);
            a.mov(__qword_ptr[rbx + 8], 3);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(-1, m.HaltedInVector);
        Assert.Equal(3UL, m.Memory.ReadUInt64(Frame + 8));
        Assert.Equal(Frame | 0x67, m.Memory.ReadUInt64(TestMachine.ChainEntry(1, T)));
    }

    // (PTE flags, CR0.WP, CPL 3, error code): a read caches the page; the following write must still fault.
    [Theory]
    [InlineData(5UL | Dirty, true, false, 0x03UL)] // CPL 0, CR0.WP = 1, read-only
    [InlineData(5UL | Dirty, false, true, 0x07UL)] // CPL 3, CR0.WP = 0 does not matter for user writes
    public void A_write_to_a_read_only_page_faults_after_a_read_cached_it(ulong pte, bool wp, bool user, ulong expected)
    {
        var m = Machine();
        m.MapChain(T, Frame, pte: pte);
        if (!wp)
        {
            m.Cpu.SetControlRegisters(0x80000031, TestMachine.Pml4, 0x20, 0x900);
        }

        Action<Iced.Intel.Assembler> prelude = a =>
        {
            a.mov(rbx, T);
            a.mov(rax, __qword_ptr[rbx]);
        };
        ulong at = user ? m.LoadUser(prelude) : m.Load(prelude);
        m.Load(
            a =>
            {
                a.mov(__qword_ptr[rbx], 1);
                a.hlt();
            },
            at);
        m.RunToHalt();
        m.AssertException(14, at, (long)expected);
        Assert.Equal(T, m.Cpu.Cr2);
        Assert.Equal(0UL, m.Memory.ReadUInt64(Frame));
    }

    // (PTE flags, CR4, error code): a read caches the page; a fetch from it must still fault.
    [Theory]
    [InlineData(7UL | Xd, 0x20UL, 0x11UL)] // XD
    [InlineData(7UL, 0x20UL | Smep, 0x11UL)] // a user page at CPL 0 under SMEP
    public void A_fetch_from_a_non_executable_page_faults_after_a_read_cached_it(ulong pte, ulong cr4, ulong expected)
    {
        var m = Machine();
        m.Cpu.SetControlRegisters(0x80010031, TestMachine.Pml4, cr4, 0x900);
        m.Memory.WriteUInt64(TestMachine.Pml4, TestMachine.Pdpt | 3); // code and handlers in supervisor pages
        m.MapChain(T, Frame, pte: pte);
        m.Memory.Write(Frame, [0xF4]);
        m.Load(a =>
        {
            a.mov(rbx, T);
            a.mov(rax, __qword_ptr[rbx]);
            a.jmp(rbx);
        });
        m.RunToHalt();
        m.AssertException(14, T, (long)expected);
        Assert.Equal(T, m.Cpu.Cr2);
    }

    [Fact]
    public void A_user_read_after_a_supervisor_read_of_a_supervisor_page_faults()
    {
        var m = Machine();
        m.MapChain(T, Frame, pte: 3);
        m.Load(
            a =>
            {
                a.mov(rbx, T);
                a.mov(rax, __qword_ptr[rbx]); // completes, and may be cached for CPL 0
                a.mov(rax, TestMachine.CodeBase);
                a.jmp(rax); // on to CPL 3
            },
            0x102000);
        ulong at = m.LoadUser(a => a.mov(rbx, T));
        m.Load(
            a =>
            {
                a.mov(rax, __qword_ptr[rbx]);
                a.hlt();
            },
            at);
        m.Cpu.Rip = 0x102000;
        m.RunToHalt();
        m.AssertException(14, at, 0x05);
        Assert.Equal(T, m.Cpu.Cr2);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void After_invlpg_or_a_cr3_write_a_remapped_page_uses_the_new_translation(bool viaCr3)
    {
        var m = Machine();
        m.MapChain(T, Frame);
        m.Memory.WriteUInt64(Frame, 1);
        m.Memory.WriteUInt64(Frame2, 2);
        m.Load(a =>
        {
            a.mov(rbx, T);
            a.mov(rax, __qword_ptr[rbx]);
            a.mov(rcx, TestMachine.ChainEntry(1, T));
            a.mov(__qword_ptr[rcx], (int)(Frame2 | 7));
            if (viaCr3)
            {
                a.mov(rsi, cr3);
                a.mov(cr3, rsi);
            }
            else
            {
                a.invlpg(__byte_ptr[rbx]);
            }

            a.mov(rdx, __qword_ptr[rbx]);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(1UL, m.Reg(0));
        Assert.Equal(2UL, m.Reg(2));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void After_invlpg_or_a_cr3_write_a_write_to_a_page_made_read_only_faults(bool viaCr3)
    {
        var m = Machine();
        m.MapChain(T, Frame);
        ulong at = m.Load(a =>
        {
            a.mov(rbx, T);
            a.mov(__qword_ptr[rbx], 1); // cached for writing
            a.mov(rcx, TestMachine.ChainEntry(1, T));
            a.mov(__qword_ptr[rcx], (int)(Frame | 5 | Dirty));
            if (viaCr3)
            {
                a.mov(rsi, cr3);
                a.mov(cr3, rsi);
            }
            else
            {
                a.invlpg(__byte_ptr[rbx]);
            }
        });
        m.Load(
            a =>
            {
                a.mov(__qword_ptr[rbx], 2);
                a.hlt();
            },
            at);
        m.RunToHalt();
        m.AssertException(14, at, 0x03);
        Assert.Equal(1UL, m.Memory.ReadUInt64(Frame));
    }

    [Fact]
    public void Setting_CR0_WP_makes_a_cached_supervisor_write_to_a_read_only_page_fault()
    {
        var m = Machine();
        m.Cpu.SetControlRegisters(0x80000031, TestMachine.Pml4, 0x20, 0x900);
        m.MapChain(T, Frame, pte: 5 | Dirty);
        ulong at = m.Load(a =>
        {
            a.mov(rbx, T);
            a.mov(__qword_ptr[rbx], 1); // allowed: CR0.WP = 0
            a.mov(rax, cr0);
            a.or(eax, 1 << 16);
            a.mov(cr0, rax);
        });
        m.Load(
            a =>
            {
                a.mov(__qword_ptr[rbx], 2);
                a.hlt();
            },
            at);
        m.RunToHalt();
        m.AssertException(14, at, 0x03);
        Assert.Equal(1UL, m.Memory.ReadUInt64(Frame));
    }

    [Fact]
    public void Clearing_EFER_NXE_makes_a_cached_page_with_bit_63_a_reserved_bit_fault()
    {
        var m = Machine();
        m.MapChain(T, Frame, pte: 7 | Xd);
        ulong at = m.Load(a =>
        {
            a.mov(rbx, T);
            a.mov(rax, __qword_ptr[rbx]); // allowed: NXE = 1
            a.mov(ecx, 0xC0000080);
            a.mov(eax, 0x500); // LME | LMA, NXE cleared
            a.xor(edx, edx);
            a.wrmsr();
        });
        m.Load(
            a =>
            {
                a.mov(rax, __qword_ptr[rbx]);
                a.hlt();
            },
            at);
        m.RunToHalt();
        m.AssertException(14, at, 0x09);
    }

    [Fact]
    public void Setting_CR4_SMEP_makes_the_next_fetch_from_a_user_page_fault()
    {
        var m = Machine();
        m.Memory.WriteUInt64(TestMachine.Pml4, TestMachine.Pdpt | 3); // handlers in supervisor pages
        m.MapChain(T, Frame); // the code: a user page
        ulong next = m.Load(
            a =>
            {
                a.mov(rax, cr4);
                a.or(eax, (int)Smep);
                a.mov(cr4, rax);
            },
            Frame);
        m.Memory.Write(next, [0x90, 0xF4]);
        m.Cpu.Rip = T;
        m.RunToHalt();
        ulong rip = T + (next - Frame);
        m.AssertException(14, rip, 0x11);
        Assert.Equal(rip, m.Cpu.Cr2);
    }

    [Fact]
    public void Straddling_reads_writes_and_read_modify_writes_stay_split_when_the_first_page_is_cached()
    {
        var m = Machine();
        m.MapChain(T, Frame);
        m.MapChain(T + 0x1000, Frame2);
        m.Memory.WriteUInt64(Frame + 0xFF8, 0x4444_3333_2222_1111);
        m.Memory.WriteUInt64(Frame2, 0x8888_7777_6666_5555);
        m.Load(a =>
        {
            a.mov(rbx, T);
            a.mov(__qword_ptr[rbx], 0); // caches the first page for reading and writing
            a.mov(rax, __qword_ptr[rbx + 0xFFC]);
            a.mov(rcx, 0x0102_0304_0506_0708);
            a.mov(__qword_ptr[rbx + 0xFFA], rcx);
            a.mov(__qword_ptr[rbx], 0);
            a.add(__dword_ptr[rbx + 0xFFE], 0x10001);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(-1, m.HaltedInVector);
        Assert.Equal(0x6666_5555_4444_3333UL, m.Reg(0));
        Assert.Equal(0x0305_0506_0708_1111UL, m.Memory.ReadUInt64(Frame + 0xFF8));
        Assert.Equal(0x8888_7777_6666_0103UL, m.Memory.ReadUInt64(Frame2));
        Assert.Equal(0UL, m.Memory.ReadUInt64(Frame + 0x1000)); // the physically next page is not touched
    }

    [Fact]
    public void A_read_modify_write_through_a_cached_entry_reads_and_writes_the_mapped_bytes()
    {
        var m = Machine();
        m.MapChain(T, Frame);
        m.Load(a =>
        {
            a.mov(rbx, T);
            a.mov(__qword_ptr[rbx + 0x18], 5); // caches the page for writing
            a.add(__qword_ptr[rbx + 0x18], 1);
            a.add(__qword_ptr[rbx + 0x18], 1);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(7UL, m.Memory.ReadUInt64(Frame + 0x18));
    }

    [Fact]
    public void Setting_accessed_and_dirty_flags_in_a_page_table_that_holds_code_invalidates_that_code()
    {
        // The PT of linear 0x80_0000_0000.. is the page of the code itself: the walk's A and D updates are stores
        // into executed code, and the next execution must see them (SDM Vol 3 11.6, self-modifying code).
        const ulong Code = TestMachine.CodeBase, Mapped = 0x80_0010_0000; // PTE 256 = Code + 0x800
        var m = Machine();
        m.Memory.WriteUInt64(TestMachine.Pml4 + 8, TestMachine.ChainPdpt | 7);
        m.Memory.WriteUInt64(TestMachine.ChainPdpt, TestMachine.ChainPd | 7);
        m.Memory.WriteUInt64(TestMachine.ChainPd, Code | 7);

        // At Code + 0x7FF: mov al, imm8 whose immediate is the PTE's flag byte, then the PTE's next bytes
        // jmp +5 over the rest of it, to a RET. PTE = 0x5EB03: frame 0x5E000, P | R/W, ignored bits 8-11.
        m.Memory.Write(Code + 0x7FF, [0xB0, 0x03, 0xEB, 0x05, 0, 0, 0, 0, 0, 0xC3]);
        m.Load(a =>
        {
            a.mov(rsi, Code + 0x7FF);
            a.call(rsi);
            a.mov(bl, al);
            a.mov(rdi, Mapped);
            a.mov(rcx, __qword_ptr[rdi]); // sets A
            a.call(rsi);
            a.mov(bh, al);
            a.mov(__qword_ptr[rdi], rcx); // sets D
            a.call(rsi);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(-1, m.HaltedInVector);
        Assert.Equal(0x2303UL, m.Reg(3) & 0xFFFF);
        Assert.Equal(0x63UL, m.Reg(0) & 0xFF);
    }
}
