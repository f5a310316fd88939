// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// What the decode cache must not change: a store to code that already ran, or to the next instruction,
/// takes effect when it is next executed (SDM Vol 3 11.6, self-modifying code; the engine documents that
/// it checks per instruction), also for an instruction that straddles two pages and after many decodes
/// in one page; the same bytes run as 16-, 32- or 64-bit code decode by the current code size (Vol 3
/// 5.2.1); instruction length is limited to 15 bytes (Vol 2 2.3.11: #GP(0) beyond, an invalid opcode
/// inside the limit is #UD); the address size (67H prefix, the register widths in the address) masks
/// the effective address (Vol 1 3.7.5); XLAT uses the default address size.
/// </summary>
public class DecodeCacheTests
{
    [Fact]
    public void A_store_to_an_already_executed_instruction_in_the_same_page_takes_effect_on_the_next_pass()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 2);
            a.Label(ref loop);
            a.add(ebx, 1);                          // 83 C3 01: the immediate is patched to 0x10
            a.lea(rdx, __[loop]);
            a.mov(__byte_ptr[rdx + 2], 0x10);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x11UL, m.Reg(3));
    }

    [Fact]
    public void A_store_to_the_next_instruction_that_already_ran_takes_effect()
    {
        // Each pass stores AL into the immediate of the ADD right after the store; the second pass
        // changes it from 1 to 0x10, and that ADD already ran (and was decoded) on the first pass.
        var m = new TestMachine();
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            var patched = a.CreateLabel();
            a.lea(rdx, __[patched]);
            a.mov(ecx, 2);
            a.mov(al, 1);
            a.Label(ref loop);
            a.mov(__byte_ptr[rdx + 2], al);
            a.Label(ref patched);
            a.add(ebx, 1);                          // 83 C3 ib
            a.mov(al, 0x10);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x11UL, m.Reg(3));
    }

    [Fact]
    public void Code_mapped_at_two_linear_addresses_is_relative_to_the_one_it_runs_at()
    {
        // One physical page at linear 0x100000 and 0x40100000: EIP-relative LEA and a relative CALL
        // resolve against the RIP they run at (the decode is shared by physical page).
        var m = new TestMachine();
        const ulong Alias = 0x40100000;
        m.Map4K(Alias, TestMachine.CodeBase, 0x7);
        m.Load(a =>
        {
            var fn = a.CreateLabel();
            a.db(0x67, 0x48, 0x8D, 0x05);           // lea rax, [eip - 0x200000]
            a.dd(unchecked((int)0xFFE00000));
            a.call(fn);
            a.hlt();
            a.Label(ref fn);
            a.mov(rbx, __qword_ptr[rsp]);
            a.ret();
        });
        m.RunToHalt();
        Assert.Equal(0xFFF00008UL, m.Reg(0));
        Assert.Equal(TestMachine.CodeBase + 13, m.Reg(3));
        m.Resume(Alias);
        m.RunToHalt();
        Assert.Equal(0x3FF00008UL, m.Reg(0));
        Assert.Equal(Alias + 13, m.Reg(3));
        Assert.Equal(Alias + 14, m.Cpu.Rip);
    }

    [Fact]
    public void A_store_to_code_in_another_page_is_seen_when_that_page_runs_again()
    {
        var m = new TestMachine();
        const ulong Fn = 0x140000;
        m.Load(
            a =>
            {
                a.add(ebx, 1);
                a.ret();
            },
            Fn);
        m.Load(a =>
        {
            a.call((ulong)Fn);
            a.nop();                                // fetch from this page again in between
            a.mov(__byte_ptr[Fn + 2], 0x10);        // patch the immediate while another page is current
            a.nop();
            a.call((ulong)Fn);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x11UL, m.Reg(3));
    }

    [Fact]
    public void An_instruction_straddling_two_pages_sees_a_store_to_its_second_page()
    {
        var m = new TestMachine();
        const ulong Page = 0x141000;
        ulong insn = Page - 3;                      // B8 imm32: the opcode and two bytes here, two in the next page
        m.Memory.Write(insn, [0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3]);
        m.Load(a =>
        {
            a.call((ulong)insn);
            a.mov(ebx, eax);
            a.mov(__byte_ptr[Page], 0x7F);          // byte 3 of the immediate, in the second page
            a.call((ulong)insn);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(1UL, m.Reg(3));
        Assert.Equal(0x007F0001UL, m.Reg(0));
    }

    [Fact]
    public void Many_instructions_in_one_page_all_run_right_on_every_pass()
    {
        const int Count = 150;
        var m = new TestMachine();
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 3);
            a.Label(ref loop);
            for (int i = 0; i < Count; i++)
            {
                a.add(eax, i + 1);
            }

            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        var r = m.RunToHalt();
        Assert.Equal((ulong)(3 * Count * (Count + 1) / 2), m.Reg(0));
        Assert.Equal(1 + (3 * (Count + 2)) + 1, r.Retired);
    }

    [Fact]
    public void The_same_bytes_decode_by_the_current_code_size()
    {
        // 48 40 90 F4: 64-bit code reads REX.W, REX, NOP, HLT; 32-bit code DEC EAX, INC EAX, NOP, HLT.
        var m = new TestMachine();
        m.Memory.Write(TestMachine.CodeBase, [0x48, 0x40, 0x90, 0xF4]);
        m.Cpu.SetRegister(0, 0x100);
        var r64 = m.RunToHalt();
        Assert.Equal(2, r64.Retired);
        Assert.Equal(0x100UL, m.Reg(0));

        m.Resume(TestMachine.CodeBase, new SegmentCache(TestMachine.Code32, 0, 0xFFFFFFFF, 0xC09B));
        var r32 = m.RunToHalt();
        Assert.Equal(4, r32.Retired);
        Assert.Equal(0x100UL, m.Reg(0));

        // 16-bit: 66 48 is DEC EAX, 40 INC AX: the same page a third time (CS based at the page, IP 0).
        m.Memory.Write(TestMachine.CodeBase, [0x66, 0x48, 0x40, 0xF4]);
        m.Resume(0, new SegmentCache(TestMachine.Code16, TestMachine.CodeBase, 0xFFFF, 0x009B));
        m.Cpu.SetRegister(0, 0x10000);
        var r16 = m.RunToHalt();
        Assert.Equal(3, r16.Retired);
        Assert.Equal(0UL, m.Reg(0)); // EAX 0x10000 - 1 = 0xFFFF, then AX + 1 wraps to 0
        Assert.Equal(4UL, m.Cpu.Rip);
    }

    [Fact]
    public void Code_at_the_same_offset_of_two_pages_runs_its_own_bytes()
    {
        // Real mode: 1000:0000 and 9000:0000 are physical pages 0x10 and 0x90 (0x80 pages apart).
        var m = new TestMachine();
        m.Cpu.SetControlRegisters(0x10, 0, 0, 0);
        m.Memory.Write(0x10000, [0xB8, 0x01, 0x00, 0xF4]); // mov ax, 1; hlt
        m.Memory.Write(0x90000, [0xB8, 0x02, 0x00, 0xF4]); // mov ax, 2; hlt
        ushort[] segments = [0x1000, 0x9000, 0x1000];
        ulong[] expected = [1, 2, 1];
        for (int i = 0; i < segments.Length; i++)
        {
            m.Resume(0, SegmentCache.RealMode(segments[i], code: true));
            m.RunToHalt();
            Assert.Equal(expected[i], m.Reg(0) & 0xFFFF);
        }
    }

    [Fact]
    public void An_instruction_longer_than_15_bytes_is_GP0_at_its_first_byte()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        ulong at = TestMachine.CodeBase + 1;
        m.Memory.Write(TestMachine.CodeBase, [0x90]);
        m.Memory.Write(at, [.. Enumerable.Repeat((byte)0x66, 15), 0x90]); // 16 bytes
        m.RunToHalt();
        m.AssertException(13, at, errorCode: 0);
    }

    /// <summary>Redundant CS prefixes before MOV EAX, imm32 (5 bytes): 15 bytes in all run, 16 are #GP(0).</summary>
    [Theory]
    [InlineData(10, false)]
    [InlineData(11, true)]
    public void The_length_limit_counts_the_operands_after_the_prefixes(int prefixes, bool tooLong)
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        ulong at = TestMachine.CodeBase + 1;
        m.Memory.Write(TestMachine.CodeBase, [0x90]);
        m.Memory.Write(at, [.. Enumerable.Repeat((byte)0x2E, prefixes), 0xB8, 0x44, 0x33, 0x22, 0x11, 0xF4]);
        m.RunToHalt();
        if (tooLong)
        {
            m.AssertException(13, at, errorCode: 0);
            Assert.Equal(0UL, m.Reg(0));
        }
        else
        {
            Assert.Equal(at + (ulong)prefixes + 6, m.Cpu.Rip);
            Assert.Equal(0x11223344UL, m.Reg(0));
        }
    }

    [Fact]
    public void An_invalid_opcode_within_15_bytes_is_UD_not_GP()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        ulong at = TestMachine.CodeBase + 1;
        m.Memory.Write(TestMachine.CodeBase, [0x90]);
        m.Memory.Write(at, [.. Enumerable.Repeat((byte)0x66, 14), 0x06]); // PUSH ES is invalid in 64-bit mode
        m.RunToHalt();
        m.AssertException(6, at);
    }

    [Fact]
    public void A_32_bit_address_size_truncates_the_effective_address()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rbx, -8);
            a.mov(rcx, 0x7FFFFFF8);
            a.db(0x67, 0x48, 0x8D, 0x43, 0x10);              // lea rax, [ebx + 0x10]
            a.db(0x67, 0x48, 0x8D, 0x34, 0x4D, 0x20, 0, 0, 0); // lea rsi, [ecx*2 + 0x20]
            a.mov(rdx, -8);
            a.lea(rdi, __[rdx + 0x10]);                      // 64-bit address size: no truncation
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(8UL, m.Reg(0));
        Assert.Equal(0x10UL, m.Reg(6));
        Assert.Equal(8UL, m.Reg(7));
    }

    [Fact]
    public void EIP_relative_addressing_truncates_to_32_bits_and_RIP_relative_does_not()
    {
        var m = new TestMachine();
        ulong start = TestMachine.CodeBase;
        m.Load(a =>
        {
            a.db(0x67, 0x48, 0x8D, 0x05); // lea rax, [eip - 0x200000]
            a.dd(unchecked((int)0xFFE00000));
            a.db(0x48, 0x8D, 0x1D);       // lea rbx, [rip - 0x200000]
            a.dd(unchecked((int)0xFFE00000));
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(unchecked(start + 8 - 0x200000) & 0xFFFFFFFF, m.Reg(0));
        Assert.Equal(unchecked(start + 15 - 0x200000), m.Reg(3));
    }

    [Fact]
    public void Xlat_in_64_bit_mode_uses_the_whole_of_RBX()
    {
        var m = new TestMachine();
        m.Memory.Write(0x200005, [0x5A]);
        m.Load(a =>
        {
            a.mov(ebx, 0x200000);
            a.mov(eax, 5);
            a.xlatb();
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x5AUL, m.Reg(0));
    }
}
