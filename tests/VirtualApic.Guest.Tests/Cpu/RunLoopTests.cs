// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// The run loop's contract (the engine's own, docs/guest-engine-cpu.md "Run(maxInstructions)" and
/// docs/guest-engine.md "Scheduling"): the exact count of retired instructions per call, where Run stops
/// and why (budget, HLT, PAUSE, unsupported fetch, triple fault), and what it reports. The architectural
/// parts: RIP after HLT is the next instruction (SDM Vol 2 HLT), IP/EIP wrap at the operand-size boundary
/// and linear addresses wrap at 4 GiB outside IA-32e mode (SDM Vol 3 3.4, 5.3), the CS base is 0 in
/// 64-bit mode (Vol 3 3.4.4), a triple fault enters shutdown (Vol 3 6.15, interrupt 8).
/// </summary>
public class RunLoopTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void Run_retires_exactly_the_budget_and_leaves_RIP_at_the_next_instruction(int budget)
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            for (int i = 0; i < 10; i++)
            {
                a.inc(eax);
            }

            a.hlt();
        });
        var r = m.Cpu.Run(budget);
        Assert.Equal(StopReason.BudgetExhausted, r.Reason);
        Assert.Equal(budget, r.Retired);
        Assert.Equal((ulong)budget, m.Reg(0));
        Assert.Equal(TestMachine.CodeBase + (ulong)(2 * budget), m.Cpu.Rip); // INC r32 is 2 bytes
        Assert.Equal(budget, m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void Hlt_retires_stops_the_run_and_leaves_RIP_after_it_and_a_halted_CPU_stays_put()
    {
        var m = new TestMachine();
        ulong afterHlt = m.Load(a =>
        {
            a.nop();
            a.hlt();
            a.inc(eax);
        }) - 2;
        var r = m.Cpu.Run(100);
        Assert.Equal(new RunResult(StopReason.Halted, 2), r);
        Assert.Equal(afterHlt, m.Cpu.Rip);
        Assert.True(m.Cpu.IsHalted);

        // Nothing deliverable: a halted CPU returns at once, retiring nothing, whatever the budget.
        Assert.Equal(new RunResult(StopReason.Halted, 0), m.Cpu.Run(100));
        Assert.Equal(afterHlt, m.Cpu.Rip);
        Assert.Equal(0UL, m.Reg(0));
        Assert.Equal(1, m.Host.Halts);
    }

    [Fact]
    public void Pause_ends_the_run_after_it_retires_and_the_next_run_goes_on()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.pause();
            a.nop();
            a.nop();
            a.hlt();
        });
        Assert.Equal(new RunResult(StopReason.Pause, 1), m.Cpu.Run(100));
        Assert.Equal(new RunResult(StopReason.Halted, 3), m.Cpu.Run(100));
    }

    [Fact]
    public void An_unsupported_instruction_in_a_later_run_counts_only_that_runs_instructions()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.nop();
            a.nop();
            a.nop();
            a.xgetbv();
        });
        Assert.Equal(2, m.Cpu.Run(2).Retired);
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Equal(1, r.Retired);
        Assert.Equal(TestMachine.CodeBase + 3, r.Unsupported!.Rip);
        Assert.Equal(TestMachine.CodeBase + 3, m.Cpu.Rip);
        Assert.Equal(3, m.Cpu.InstructionsRetired);
    }

    /// <summary>A jump to code that is not RAM (exactly at its end, or far beyond) or is a host MMIO page.</summary>
    [Theory]
    [InlineData(16UL << 20, false)]
    [InlineData(32UL << 20, false)]
    [InlineData(0x400000UL, true)]
    public void Fetching_code_outside_RAM_or_from_MMIO_stops_cleanly_naming_the_address(ulong target, bool mmio)
    {
        var m = new TestMachine();
        if (mmio)
        {
            m.Host.MmioPages.Add(target);
        }

        m.Load(a =>
        {
            a.mov(rax, (long)target);
            a.jmp(rax);
        });
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Equal(2, r.Retired);
        Assert.Equal(target, m.Cpu.Rip);
        Assert.Equal(target, r.Unsupported!.Rip);
        Assert.Equal(target, r.Unsupported.LinearAddress);
        Assert.Equal($"instruction fetch from MMIO or unbacked physical address {target:X}", r.Unsupported.Reason);
        if (!mmio)
        {
            Assert.Empty(r.Unsupported.Bytes);          // nothing there to show
            Assert.Equal(string.Empty, r.Unsupported.Disassembly);
        }
    }

    [Fact]
    public void An_instruction_running_off_the_end_of_RAM_stops_at_its_start_with_the_bytes_that_exist()
    {
        var m = new TestMachine();
        const ulong End = 16UL << 20;
        ulong start = End - 4;
        m.Memory.Write(start, [0x48, 0xB8, 0x11, 0x22]); // movabs rax, imm64: 6 of its 10 bytes lie beyond RAM
        m.Load(a =>
        {
            a.mov(rax, (long)start);
            a.jmp(rax);
        });
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Equal(start, m.Cpu.Rip);
        Assert.Equal($"instruction fetch from MMIO or unbacked physical address {End:X}", r.Unsupported!.Reason);
        Assert.Equal(new byte[] { 0x48, 0xB8, 0x11, 0x22 }, r.Unsupported.Bytes);
        Assert.Equal(string.Empty, r.Unsupported.Disassembly); // four bytes are not an instruction
    }

    [Fact]
    public void A_triple_fault_stops_in_shutdown_and_later_runs_retire_nothing_until_INIT()
    {
        var m = new TestMachine();
        m.SetIdtLimit(0); // #UD -> #GP (vector beyond the IDT) -> #DF (also beyond it) -> shutdown
        m.Load(a =>
        {
            a.nop();
            a.ud2();
        });
        Assert.Equal(new RunResult(StopReason.Shutdown, 1), m.Cpu.Run(100));
        Assert.True(m.Cpu.IsShutdown);
        Assert.Equal(TestMachine.CodeBase + 1, m.Cpu.Rip);
        Assert.Equal(new RunResult(StopReason.Shutdown, 0), m.Cpu.Run(100));

        m.Cpu.InitAndWaitForSipi();
        Assert.False(m.Cpu.IsShutdown);
        Assert.Equal(new RunResult(StopReason.WaitForSipi, 0), m.Cpu.Run(100));
    }

    [Fact]
    public void An_external_interrupt_whose_delivery_triple_faults_stops_in_shutdown_before_any_instruction()
    {
        var m = new TestMachine();
        m.SetIdtLimit(0);
        m.Cpu.Rflags = 0x202;
        m.Load(a => a.hlt());
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Interrupt, 0x40));
        m.Cpu.RequestEventCheck();
        Assert.Equal(new RunResult(StopReason.Shutdown, 0), m.Cpu.Run(100));
        Assert.Equal(TestMachine.CodeBase, m.Cpu.Rip);
    }

    [Fact]
    public void Sixteen_bit_IP_wraps_within_the_code_segment()
    {
        var m = new TestMachine();
        m.Cpu.SetControlRegisters(0x10, 0, 0, 0); // real mode
        m.Cpu.SetSegment(SegmentRegister.Cs, SegmentCache.RealMode(0x1000, code: true));
        m.Memory.Write(0x1FFFF, [0x90]);       // NOP at 1000:FFFF
        m.Memory.Write(0x10000, [0xF4]);       // HLT at 1000:0000
        m.Cpu.Rip = 0xFFFF;
        m.RunToHalt();
        Assert.Equal(1UL, m.Cpu.Rip);
    }

    [Fact]
    public void Thirty_two_bit_EIP_and_the_linear_address_wrap_at_4_GiB_outside_IA32e_mode()
    {
        var m = new TestMachine();
        m.EnterProtectedMode32();
        m.Cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(TestMachine.Code32, 0x10000, 0xFFFFFFFF, 0xC09B));
        m.Memory.Write(0xFFFF, [0x90]);  // CS base 0x10000 + EIP 0xFFFFFFFF wraps to linear 0xFFFF
        m.Memory.Write(0x10000, [0xF4]); // EIP 0 after the wrap
        m.Cpu.Rip = 0xFFFFFFFF;
        m.RunToHalt();
        Assert.Equal(1UL, m.Cpu.Rip);
    }

    [Fact]
    public void In_64_bit_mode_the_CS_base_is_treated_as_zero()
    {
        var m = new TestMachine();
        m.Cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(TestMachine.Code64, 0x10000, 0xFFFFFFFF, 0xA09B));
        ulong end = m.Load(a =>
        {
            a.mov(eax, 5);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(5UL, m.Reg(0));
        Assert.Equal(end, m.Cpu.Rip);
    }

    [Fact]
    public void Relative_branches_in_32_bit_code_land_on_their_targets()
    {
        var m = new TestMachine();
        m.EnterProtectedMode32();
        m.Load(
            a =>
            {
                var loop = a.CreateLabel();
                var skip = a.CreateLabel();
                var fn = a.CreateLabel();
                a.mov(ecx, 5);
                a.xor(eax, eax);
                a.Label(ref loop);
                a.add(eax, ecx);
                a.dec(ecx);
                a.jnz(loop);            // Jcc rel8 backwards
                a.jmp(skip);            // JMP forwards
                a.mov(eax, 0xBAD);
                a.Label(ref skip);
                a.call(fn);             // CALL rel32
                a.mov(ecx, 3);
                a.xor(edx, edx);
                var l2 = a.CreateLabel();
                a.Label(ref l2);
                a.inc(edx);
                a.loop(l2);             // LOOP (ECX in 32-bit code)
                a.hlt();
                a.Label(ref fn);
                a.add(eax, 100);
                a.ret();
            },
            TestMachine.CodeBase,
            32);
        m.Cpu.SetRegister(4, TestMachine.StackTop);
        m.RunToHalt();
        Assert.Equal(115UL, m.Reg(0));
        Assert.Equal(3UL, m.Reg(2));
    }
}
