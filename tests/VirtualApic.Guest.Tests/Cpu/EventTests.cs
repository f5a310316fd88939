// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>Events at instruction boundaries: interrupts, NMIs, the STI / MOV SS shadow, HLT wake-up, INIT and SIPI.</summary>
public class EventTests
{
    private const ulong Handler = 0x180000;

    /// <summary>A machine whose vector-0x40 and NMI handlers record the interrupted RIP in R15/R14 and IRETQ.</summary>
    private static TestMachine WithRecordingHandlers()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(r15, __qword_ptr[rsp]);
            a.inc(r13);
            a.iretq();
        }, Handler);
        m.Load(a =>
        {
            a.mov(r14, __qword_ptr[rsp]);
            a.iretq();
        }, Handler + 0x100);
        m.SetGate(0x40, Handler);
        m.SetGate(2, Handler + 0x100);
        return m;
    }

    [Fact]
    public void Interrupt_is_taken_at_the_next_boundary_only_when_IF_is_set()
    {
        var m = WithRecordingHandlers();
        ulong afterFirst = 0;
        afterFirst = m.Load(a => a.nop());
        m.Load(a =>
        {
            a.nop();
            a.nop();
            a.hlt();
        }, afterFirst);
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Interrupt, 0x40));
        m.Cpu.RequestEventCheck();
        Assert.Equal(StopReason.BudgetExhausted, m.Cpu.Run(1).Reason);
        Assert.Equal(0UL, m.Reg(13));          // IF = 0: not taken
        m.Cpu.Rflags = 0x202;
        m.Cpu.RequestEventCheck();
        m.RunToHalt();
        Assert.Equal(1UL, m.Reg(13));
        Assert.Equal(afterFirst, m.Reg(15));   // taken before the second instruction
    }

    [Fact]
    public void Sti_shadow_blocks_interrupts_and_nmis_for_one_instruction_even_across_run_calls()
    {
        var m = WithRecordingHandlers();
        ulong afterSti = m.Load(a => a.sti());
        ulong afterNop = m.Load(a => a.nop(), afterSti);
        m.Load(a => a.hlt(), afterNop);
        Assert.Equal(1, m.Cpu.Run(1).Retired);   // STI retires; the slice ends inside the shadow
        Assert.True(m.Cpu.InInterruptShadow);
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Nmi, 0));
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Interrupt, 0x40));
        m.Cpu.RequestEventCheck();
        Assert.Empty(m.Host.TakeEventCalls);     // nothing was even asked inside the shadow
        Assert.Equal(1, m.Cpu.Run(1).Retired);   // the NOP runs first: the shadow survived the switch
        Assert.Equal(Handler + 0x100, m.Cpu.Rip); // then the NMI, at the boundary after the NOP
        Assert.Equal(afterNop, m.Memory.ReadUInt64(m.Reg(4)));
        m.RunToHalt();
        Assert.Equal(afterNop, m.Reg(14));       // NMI taken after the NOP
        Assert.Equal(1UL, m.Reg(13));
    }

    [Fact]
    public void Mov_ss_shadow_blocks_events_for_one_instruction()
    {
        var m = WithRecordingHandlers();
        ulong afterSs = m.Load(a =>
        {
            a.mov(eax, TestMachine.Data);
            a.mov(ss, ax);
        });
        ulong afterNop = m.Load(a => a.nop(), afterSs);
        m.Load(a => a.hlt(), afterNop);
        Assert.Equal(2, m.Cpu.Run(2).Retired); // mov eax, mov ss
        Assert.True(m.Cpu.InInterruptShadow);
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Nmi, 0));
        m.Cpu.RequestEventCheck();
        m.RunToHalt();
        Assert.NotEqual(afterSs, m.Reg(14));
        Assert.Equal(afterNop, m.Reg(14));
    }

    [Fact]
    public void Sti_hlt_still_wakes_and_returns_after_the_hlt()
    {
        var m = WithRecordingHandlers();
        ulong afterHlt = m.Load(a =>
        {
            a.sti();
            a.hlt();
        });
        m.Load(a => a.hlt(), afterHlt);
        m.RunToHalt();
        Assert.Equal(StopReason.Halted, m.Cpu.Run(10).Reason); // nothing pending: stays halted
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Interrupt, 0x40));
        m.Cpu.RequestEventCheck();
        m.RunToHalt();
        Assert.Equal(afterHlt, m.Reg(15));
        Assert.Equal(1UL, m.Reg(13));
    }

    [Fact]
    public void Iret_reports_to_the_host_and_rechecks_events()
    {
        var m = WithRecordingHandlers();
        m.Load(a =>
        {
            a.nop();
            a.nop();
            a.hlt();
        });
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Nmi, 0));
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Nmi, 0));
        m.Cpu.RequestEventCheck();
        m.RunToHalt();
        Assert.Equal(2, m.Host.Irets.Count);
        Assert.Equal(TestMachine.CodeBase, m.Reg(14)); // the second NMI, taken right after the first IRET
    }

    [Fact]
    public void Init_then_sipi_starts_real_mode_and_the_trampoline_reaches_long_mode()
    {
        var m = WithRecordingHandlers();
        // Real-mode trampoline at 0x8000 (SIPI vector 8), as in kvm-unit-tests: PE, LGDT, far jump to
        // 32-bit code, PAE, CR3, EFER.LME, PG, far jump to 64-bit code.
        ulong gdtDescr = 0x8100;
        m.Memory.Write(gdtDescr, [0x4F, 0x00, 0x00, 0x10, 0, 0]); // limit 0x4F, base TestMachine.Gdt (0x1000)
        m.Load(
            a =>
            {
                a.mov(eax, cr0);
                a.or(eax, 1);
                a.mov(cr0, eax);
                a.lgdt(__[0x8100]);
                a.db(0x66, 0xEA);
                a.dd(0x9000);
                a.dw(TestMachine.Code32);
            },
            0x8000,
            16);
        m.Load(
            a =>
            {
                a.mov(eax, TestMachine.Data);
                a.mov(ds, ax);
                a.mov(ss, ax);
                a.mov(esp, 0x7000);
                a.mov(eax, 0x20);
                a.mov(cr4, eax);
                a.mov(eax, (uint)TestMachine.Pml4);
                a.mov(cr3, eax);
                a.mov(ecx, 0xC0000080);
                a.rdmsr();
                a.bts(eax, 8);
                a.wrmsr();
                a.mov(eax, cr0);
                a.or(eax, unchecked((int)0x80000000));
                a.mov(cr0, eax);
                a.push(TestMachine.Code64);
                a.push(0x9100);
                a.retf();
            },
            0x9000,
            32);
        m.Load(
            a =>
            {
                a.mov(rax, 0x64);
                a.hlt();
            },
            0x9100);
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Init, 0));
        m.Cpu.RequestEventCheck();
        Assert.Equal(StopReason.WaitForSipi, m.Cpu.Run(100).Reason);
        Assert.True(m.Cpu.IsWaitingForSipi);
        Assert.Equal(0x10UL, m.Cpu.Cr0); // CD and NW were clear and INIT keeps them (SDM Vol 3A table 10-1)
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Sipi, 8));
        m.Cpu.RequestEventCheck();
        m.RunToHalt();
        Assert.Equal(0x64UL, m.Reg(0));
        Assert.Equal(CpuMode.Long64, m.Cpu.Mode);
        Assert.Equal(0x500UL, m.Cpu.Efer & 0x500);
        Assert.Equal(0x7000UL, m.Reg(4));
    }

    /// <summary>
    /// An INIT and the SIPI behind it, both pending at one boundary (a sender's INIT-SIPI pair that
    /// arrived before this CPU ran): the CPU takes the INIT, and in wait-for-SIPI the SIPI, in the same
    /// run. Stopping with the SIPI still pending would leave a scheduler that only runs a waiting CPU
    /// when kicked with an AP that never starts (KVM kvm_apic_accept_events takes both in one pass).
    /// </summary>
    [Fact]
    public void Init_and_sipi_pending_together_start_the_cpu_in_one_run()
    {
        var m = new TestMachine();
        m.Load(
            a =>
            {
                a.mov(ax, 0x64);
                a.hlt();
            },
            0x8000,
            16);
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Init, 0));
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Sipi, 8));
        m.Cpu.RequestEventCheck();

        m.RunToHalt();

        Assert.False(m.Cpu.IsWaitingForSipi);
        Assert.Equal(CpuMode.Real, m.Cpu.Mode);
        Assert.Equal(0x64UL, m.Reg(0) & 0xFFFF);
        Assert.Equal((ushort)0x0800, m.Cpu.GetSegment(SegmentRegister.Cs).Selector); // CS = vector << 8
        Assert.Equal(4UL, m.Cpu.Rip); // after the HLT at 0800:0003
    }

    [Fact]
    public void Multiboot_entry_state_runs_32_bit_code()
    {
        var m = new TestMachine();
        m.Cpu.SetMultibootEntryState(0x9000, 0x9500);
        Assert.Equal(CpuMode.Protected32, m.Cpu.Mode);
        Assert.Equal(0x2BADB002UL, m.Reg(0));
        Assert.Equal(0x9500UL, m.Reg(3));
        Assert.Equal(0UL, m.Cpu.Rflags & 0x200);
        m.Load(
            a =>
            {
                a.mov(esp, 0x7000);
                a.push(ebx);
                a.pop(ecx);
                a.mov(__dword_ptr[0x9800], eax);
                a.hlt();
            },
            0x9000,
            32);
        m.RunToHalt();
        Assert.Equal(0x9500UL, m.Reg(1));
        Assert.Equal(0x2BADB002U, m.Memory.ReadUInt32(0x9800));
    }

    [Fact]
    public void Hypercall_port_io_cr8_and_cpuid_go_to_the_host()
    {
        var m = new TestMachine();
        m.Host.PortValues[0x3FD] = 0x60;
        m.Load(a =>
        {
            a.mov(eax, 10);
            a.mov(ebx, 5);
            a.mov(ecx, 6);
            a.vmcall();
            a.mov(r8, rax);
            a.mov(dx, 0x3FD);
            a.@in(al, dx);
            a.mov(r9, rax);
            a.mov(al, 0x41);
            a.mov(dx, 0x3F8);
            a.@out(dx, al);
            a.mov(eax, 0x12345678);
            a.@out(0xF4, eax);
            a.mov(ax, 0x05);
            a.mov(dx, 0x510);
            a.@out(dx, ax);
            a.mov(rax, 9);
            a.mov(cr8, rax);
            a.mov(eax, 1);
            a.xor(ecx, ecx);
            a.cpuid();
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(11UL, m.Reg(8));
        Assert.Equal(0x60UL, m.Reg(9) & 0xFF);
        Assert.Equal([((ushort)0x3F8, 0x41U, 1), ((ushort)0xF4, 0x12345678U, 4), ((ushort)0x510, 5U, 2)], m.Host.PortWrites.ToArray());
        Assert.Equal(9UL, m.Host.Cr8);
        Assert.Equal(2UL, m.Reg(0));
        Assert.Equal(2UL, m.Reg(3));
    }
}
