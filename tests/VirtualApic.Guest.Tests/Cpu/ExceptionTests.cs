// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>Precise faults and IDT delivery in 64-bit mode: the handler is a HLT, so the CPU stops inside it
/// and the test reads the frame it pushed.</summary>
public class ExceptionTests
{
    private const ulong Handler = 0x180000;

    private static TestMachine WithHandler(int vector, int type = 0xE, int ist = 0)
    {
        var m = new TestMachine();
        m.Load(a => a.hlt(), Handler);
        m.SetGate(vector, Handler, type, ist: ist);
        return m;
    }

    private static ulong Frame(TestMachine m, int slot) => m.Memory.ReadUInt64(m.Reg(4) + (ulong)(8 * slot));

    [Fact]
    public void Divide_by_zero_raises_DE_with_RIP_at_the_div_and_no_state_change()
    {
        var m = WithHandler(0);
        ulong end = m.Load(a =>
        {
            a.mov(rax, 1234);
            a.mov(rdx, 0);
            a.xor(ebx, ebx);
        });
        m.Load(a =>
        {
            a.div(rbx);
            a.hlt();
        }, end);
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
        Assert.Equal(end, Frame(m, 0));                      // RIP of the DIV
        Assert.Equal((ulong)TestMachine.Code64, Frame(m, 1)); // CS
        Assert.Equal(TestMachine.StackTop, Frame(m, 3));     // old RSP
        Assert.Equal((ulong)TestMachine.Data, Frame(m, 4));  // SS
        Assert.Equal(1234UL, m.Reg(0));
        Assert.Equal(0UL, m.Reg(2));
        Assert.Equal(TestMachine.StackTop - 40, m.Reg(4));
    }

    [Fact]
    public void Quotient_overflow_raises_DE_for_div_and_idiv()
    {
        var m = WithHandler(0);
        m.Load(a =>
        {
            a.mov(eax, 0);
            a.mov(edx, 1);
            a.mov(ecx, 1);
            a.div(ecx); // 2^32 / 1 does not fit in 32 bits
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);

        var m2 = WithHandler(0);
        m2.Load(a =>
        {
            a.mov(rax, long.MinValue);
            a.cqo();
            a.mov(rcx, -1);
            a.idiv(rcx);
            a.hlt();
        });
        m2.RunToHalt();
        Assert.Equal(Handler + 1, m2.Cpu.Rip);
    }

    [Fact]
    public void Ud2_raises_UD_with_RIP_at_the_ud2()
    {
        var m = WithHandler(6);
        ulong end = m.Load(a => a.nop());
        m.Load(a =>
        {
            a.ud2();
            a.hlt();
        }, end);
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
        Assert.Equal(end, Frame(m, 0));
    }

    [Fact]
    public void Unknown_msr_raises_GP0_precisely()
    {
        var m = WithHandler(13);
        ulong end = m.Load(a =>
        {
            a.mov(ecx, 0x12345);
            a.mov(eax, 7);
            a.mov(edx, 9);
        });
        m.Load(a =>
        {
            a.rdmsr();
            a.hlt();
        }, end);
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
        Assert.Equal(0UL, Frame(m, 0));   // error code 0
        Assert.Equal(end, Frame(m, 1));   // RIP of RDMSR
        Assert.Equal(7UL, m.Reg(0));      // EAX/EDX untouched
        Assert.Equal(9UL, m.Reg(2));
    }

    [Fact]
    public void Host_msr_reads_and_writes_and_cpu_owned_msrs()
    {
        var m = new TestMachine();
        m.Host.Msrs[0x1B] = 0xFEE00900;
        m.Load(a =>
        {
            a.mov(ecx, 0x1B);
            a.rdmsr();
            a.mov(r8, rax);
            a.mov(eax, 0xFEE00D00);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(ecx, 0xC0000102);
            a.mov(eax, 0x1000);
            a.mov(edx, 0xFFFF8000);
            a.wrmsr();
            a.swapgs();
            a.mov(ecx, 0xC0000101);
            a.rdmsr();
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0xFEE00900UL, m.Reg(8));
        Assert.Equal(0xFEE00D00UL, m.Host.Msrs[0x1B]);
        Assert.Equal(0x1000UL, m.Reg(0));
        Assert.Equal(0xFFFF8000UL, m.Reg(2));
    }

    [Fact]
    public void Privileged_instruction_at_cpl3_raises_GP()
    {
        var m = WithHandler(13);
        m.Memory.WriteUInt64(TestMachine.Tss + 4, 0x70000); // RSP0
        m.Load(a =>
        {
            a.mov(ax, TestMachine.TssSel);
            a.ltr(ax);
            // IRETQ to CPL 3: SS, RSP, RFLAGS, CS, RIP
            a.push(TestMachine.UserData);
            a.push(0x60000);
            a.push(0x2);
            a.push(TestMachine.UserCode);
            a.push(0x101000);
            a.iretq();
        });
        m.Load(a =>
        {
            a.nop();
            a.cli();
            a.hlt();
        }, 0x101000);
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
        Assert.Equal(0, m.Cpu.Cpl);
        Assert.Equal(0x70000UL - 48, m.Reg(4));              // stack switched to RSP0, 6 slots
        Assert.Equal(0UL, Frame(m, 0));                        // #GP(0)
        Assert.Equal(0x101001UL, Frame(m, 1));                 // RIP of CLI
        Assert.Equal((ulong)TestMachine.UserCode, Frame(m, 2));
        Assert.Equal(0x60000UL, Frame(m, 4));
        Assert.Equal((ulong)TestMachine.UserData, Frame(m, 5));
    }

    [Fact]
    public void Trap_gate_keeps_IF_interrupt_gate_clears_it_and_iretq_restores()
    {
        var m = WithHandler(0x80, type: 0xF);
        m.SetGate(0x81, Handler + 0x10, type: 0xE);
        m.Load(a =>
        {
            a.pushfq();
            a.pop(rax);
            a.mov(r9, rax);
            a.iretq();
        }, Handler + 0x10);
        m.Load(a =>
        {
            a.sti();
            a.@int(0x81);
            a.mov(r10, 1);
            a.@int(0x80);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
        Assert.Equal(0UL, m.Reg(9) & 0x200);            // interrupt gate: IF = 0 inside
        Assert.Equal(1UL, m.Reg(10));                   // returned from the first handler
        Assert.Equal(0x200UL, m.Cpu.Rflags & 0x200);    // trap gate: IF stays 1
        Assert.Contains(true, m.Host.Irets);
        Assert.Equal([true, false, true], m.Host.InterruptFlagChanges.ToArray());
    }

    [Fact]
    public void Ist_switches_to_an_aligned_stack()
    {
        var m = WithHandler(3, ist: 2);
        m.Memory.WriteUInt64(TestMachine.Tss + 0x24 + 8, 0x7000F); // IST2, misaligned on purpose
        m.Load(a =>
        {
            a.mov(ax, TestMachine.TssSel);
            a.ltr(ax);
            a.int3();
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
        Assert.Equal(0x70000UL - 40, m.Reg(4));
        Assert.Equal(TestMachine.StackTop, Frame(m, 3));
    }

    [Fact]
    public void Software_int_through_a_gate_with_low_DPL_from_cpl3_is_GP_with_the_idt_error_code()
    {
        var m = WithHandler(13);
        m.SetGate(0x30, Handler, dpl: 0);
        m.Memory.WriteUInt64(TestMachine.Tss + 4, 0x70000);
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
        m.Load(a => a.@int(0x30), 0x101000);
        m.RunToHalt();
        Assert.Equal((0x30UL * 8) + 2, Frame(m, 0));
    }

    [Fact]
    public void Not_present_gate_raises_NP_and_a_fault_during_GP_delivery_is_a_double_fault()
    {
        var m = WithHandler(8);
        m.SetGate(11, Handler, present: false);
        m.SetGate(13, Handler, present: false);
        m.Load(a =>
        {
            a.mov(ecx, 0x999);
            a.rdmsr(); // #GP -> gate 13 not present -> #NP (contributory) -> #DF
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(Handler + 1, m.Cpu.Rip);
        Assert.Equal(0UL, Frame(m, 0)); // #DF error code 0
    }

    [Fact]
    public void Fault_without_any_usable_gate_is_a_triple_fault_shutdown()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.ud2();
        });
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Shutdown, r.Reason);
        Assert.True(m.Cpu.IsShutdown);
        Assert.Equal(StopReason.Shutdown, m.Cpu.Run(100).Reason);
    }

    [Fact]
    public void Benign_after_benign_is_delivered_serially()
    {
        // #UD's gate is not present: #NP is delivered (benign first, so no #DF).
        var m = WithHandler(11);
        m.SetGate(6, Handler, present: false);
        m.Load(a => a.ud2());
        m.RunToHalt();
        Assert.Equal((6UL * 8) + 2, Frame(m, 0));
    }

    [Fact]
    public void Lock_prefix_on_a_register_destination_is_UD_and_on_memory_works()
    {
        var m = WithHandler(6);
        m.Memory.WriteUInt64(0x200000, 41);
        m.Load(a =>
        {
            a.@lock.inc(__qword_ptr[0x200000]);
            a.@lock.add(__dword_ptr[0x200000], 1);
            a.mov(eax, 5);
            a.@lock.xadd(__dword_ptr[0x200000], eax);
            a.db(0xF0, 0x48, 0xFF, 0xC0); // lock inc rax
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(48UL, m.Memory.ReadUInt64(0x200000));
        Assert.Equal(43UL, m.Reg(0));
        Assert.Equal(Handler + 1, m.Cpu.Rip);
    }
}
