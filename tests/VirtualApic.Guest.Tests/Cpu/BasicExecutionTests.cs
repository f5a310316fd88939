// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

public class BasicExecutionTests
{
    [Fact]
    public void Mov_add_and_hlt_retire_and_stop_halted()
    {
        var m = new TestMachine();
        ulong end = m.Load(a =>
        {
            a.mov(rax, 5);
            a.add(rax, 7);
            a.hlt();
        });
        var r = m.RunToHalt();
        Assert.Equal(12UL, m.Reg(0));
        Assert.Equal(3, r.Retired);
        Assert.True(m.Cpu.IsHalted);
        Assert.Equal(1, m.Host.Halts);
        Assert.Equal(end, m.Cpu.Rip);
    }

    [Fact]
    public void Thirty_two_bit_writes_zero_extend_and_narrow_writes_merge()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rax, unchecked((long)0xFFFF_FFFF_FFFF_FFFF));
            a.mov(eax, 1);
            a.mov(rbx, unchecked((long)0xFFFF_FFFF_FFFF_FFFF));
            a.mov(bx, 2);
            a.mov(rcx, unchecked((long)0xFFFF_FFFF_FFFF_FFFF));
            a.mov(cl, 3);
            a.mov(rdx, unchecked((long)0xFFFF_FFFF_FFFF_FFFF));
            a.mov(dh, 4);
            a.mov(rsi, unchecked((long)0xFFFF_FFFF_FFFF_FFFF));
            a.add(esi, 0);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(1UL, m.Reg(0));
        Assert.Equal(0xFFFF_FFFF_FFFF_0002UL, m.Reg(3));
        Assert.Equal(0xFFFF_FFFF_FFFF_FF03UL, m.Reg(1));
        Assert.Equal(0xFFFF_FFFF_FFFF_04FFUL, m.Reg(2));
        Assert.Equal(0x0000_0000_FFFF_FFFFUL, m.Reg(6));
    }

    [Fact]
    public void High_byte_registers_without_rex_and_sil_dil_spl_bpl_with_rex()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rax, 0x1122);
            a.mov(rsi, 0x3344);
            a.mov(rdi, 0x5566);
            a.mov(ah, al);        // no REX: AH
            a.mov(sil, dil);      // REX: SIL <- DIL (not DH <- BH)
            a.mov(rbx, 0x7788);
            a.mov(bh, 0x99);
            a.mov(r8, 0);
            a.mov(r8b, bl);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x2222UL, m.Reg(0));
        Assert.Equal(0x3366UL, m.Reg(6));
        Assert.Equal(0x5566UL, m.Reg(7));
        Assert.Equal(0x9988UL, m.Reg(3));
        Assert.Equal(0x88UL, m.Reg(8));
    }

    [Fact]
    public void Immediates_are_sign_extended()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rax, 0);
            a.add(rax, -1);          // imm8 sign-extended to 64
            a.mov(rbx, 0);
            a.add(rbx, -0x1000);     // imm32 sign-extended to 64
            a.mov(rcx, -2);          // imm32 sign-extended mov (C7)
            a.xor(edx, edx);
            a.add(dx, -1);           // imm8 sign-extended to 16
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(ulong.MaxValue, m.Reg(0));
        Assert.Equal(unchecked((ulong)-0x1000L), m.Reg(3));
        Assert.Equal(unchecked((ulong)-2L), m.Reg(1));
        Assert.Equal(0xFFFFUL, m.Reg(2));
    }

    [Fact]
    public void Call_ret_push_pop_lea_and_loops()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            var fn = a.CreateLabel();
            var loop = a.CreateLabel();
            a.mov(ecx, 10);
            a.xor(eax, eax);
            a.Label(ref loop);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jnz(loop);
            a.push(rax);
            a.call(fn);
            a.pop(rdx);
            a.hlt();
            a.Label(ref fn);
            a.lea(rbx, __[rax + rax * 2 + 5]);
            a.ret();
        });
        m.RunToHalt();
        Assert.Equal(55UL, m.Reg(0));
        Assert.Equal(170UL, m.Reg(3));
        Assert.Equal(55UL, m.Reg(2));
        Assert.Equal(TestMachine.StackTop, m.Reg(4));
    }

    [Fact]
    public void Memory_operands_rip_relative_and_gs_based()
    {
        var m = new TestMachine();
        m.Memory.WriteUInt64(0x200000, 0x1111);
        m.Memory.WriteUInt64(0x300010, 0x2222);
        m.Load(a =>
        {
            var data = a.CreateLabel();
            a.mov(rax, __qword_ptr[data]);
            a.mov(ecx, 0xC0000101);
            a.mov(eax, 0x300000);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(rbx, __qword_ptr[0x200000]);
            a.mov(rsi, __qword_ptr.gs[0x10]);
            a.mov(rdi, __qword_ptr[data]);
            a.hlt();
            a.Label(ref data);
            a.dq(0xABCDEF);
        });
        m.RunToHalt();
        Assert.Equal(0x1111UL, m.Reg(3));
        Assert.Equal(0x2222UL, m.Reg(6));
        Assert.Equal(0xABCDEFUL, m.Reg(7));
    }

    [Fact]
    public void Unsupported_instruction_stops_with_address_bytes_and_disassembly()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.nop();
            a.xgetbv();
        });
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.NotNull(r.Unsupported);
        Assert.Equal(TestMachine.CodeBase + 1, r.Unsupported!.Rip);
        Assert.Equal(new byte[] { 0x0F, 0x01, 0xD0 }, r.Unsupported.Bytes);
        Assert.Contains("xgetbv", r.Unsupported.Disassembly, StringComparison.Ordinal);
        Assert.Equal(TestMachine.CodeBase + 1, m.Cpu.Rip);
        Assert.Equal(1, r.Retired);
    }

    [Fact]
    public void Budget_exhaustion_returns_and_resumes()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            var l = a.CreateLabel();
            a.mov(ecx, 100);
            a.Label(ref l);
            a.dec(ecx);
            a.jnz(l);
            a.hlt();
        });
        var r = m.Cpu.Run(50);
        Assert.Equal(StopReason.BudgetExhausted, r.Reason);
        Assert.Equal(50, r.Retired);
        m.RunToHalt();
        Assert.Equal(0UL, m.Reg(1));
        Assert.Equal(202, m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void Pause_and_host_requested_yield_end_the_run()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.pause();
            a.mov(al, 1);
            a.@out(0x80, al);
            a.mov(al, 2);
            a.hlt();
        });
        m.Host.OnPortOut = (_, _) => m.Cpu.RequestYield();
        Assert.Equal(StopReason.Pause, m.Cpu.Run(100).Reason);
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.YieldRequested, r.Reason);
        Assert.Equal(2, r.Retired);
        Assert.Equal(1UL, m.Reg(0) & 0xFF);
        m.RunToHalt();
        Assert.Equal(2UL, m.Reg(0) & 0xFF);
    }
}
