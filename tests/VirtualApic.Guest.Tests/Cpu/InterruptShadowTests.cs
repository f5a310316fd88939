// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// The interrupt shadow (SDM Vol 3A 6.8.3; Vol 2 STI, MOV, POP): STI with IF = 0 and a load of SS by MOV or
/// POP inhibit interrupts (and, as this engine models it, NMIs) on the boundary after the next instruction
/// only; STI with IF already 1 does not inhibit, so in STI; STI only the first one delays; an exception
/// delivered from the shadowed instruction ends the shadow (the handler's first boundary is open).
/// Every handler here is the <see cref="TestMachine.HaltOnExceptions"/> HLT of its vector.
/// </summary>
public class InterruptShadowTests
{
    private static TestMachine Machine(int gateType = 0xE)
    {
        var m = new TestMachine();
        m.HaltOnExceptions(256, gateType);
        return m;
    }

    private static void Queue(TestMachine m, CpuEvent e)
    {
        m.Host.Events.Enqueue(e);
        m.Cpu.RequestEventCheck();
    }

    [Fact]
    public void In_sti_sti_only_the_first_delays_the_interrupt()
    {
        var m = Machine();
        ulong afterSecond = m.Load(a =>
        {
            a.sti();
            a.sti();
        });
        m.Load(a =>
        {
            a.nop();
            a.hlt();
        }, afterSecond);
        Queue(m, new CpuEvent(CpuEventKind.Interrupt, 0x40));
        m.RunToHalt();
        Assert.Equal(TestMachine.HandlerOf(0x40) + 1, m.Cpu.Rip);
        Assert.Equal(afterSecond, m.StackSlot(0)); // taken after the second STI, before the NOP
    }

    [Fact]
    public void Sti_with_IF_already_set_does_not_delay_the_interrupt()
    {
        var m = Machine();
        m.Cpu.Rflags = 0x202;
        ulong afterNop = m.Load(a => a.nop());
        ulong afterSti = m.Load(a => a.sti(), afterNop);
        m.Load(a =>
        {
            a.nop();
            a.hlt();
        }, afterSti);
        Assert.Equal(1, m.Cpu.Run(1).Retired);
        Queue(m, new CpuEvent(CpuEventKind.Interrupt, 0x40));
        Assert.Equal(1, m.Cpu.Run(1).Retired);     // the interrupt is taken before STI; its HLT retires
        Assert.Equal(TestMachine.HandlerOf(0x40) + 1, m.Cpu.Rip);
        Assert.Equal(afterNop, m.StackSlot(0));
    }

    [Fact]
    public void Pop_ss_delays_an_NMI_past_the_next_instruction()
    {
        var m = Machine();
        m.EnterCompatibilityMode();
        ulong afterPop = m.Load(
            a =>
            {
                a.push(ss);
                a.pop(ss);
            },
            TestMachine.CodeBase,
            32);
        ulong afterNop = m.Load(a => a.nop(), afterPop, 32);
        m.Load(a => a.hlt(), afterNop, 32);
        Assert.Equal(2, m.Cpu.Run(2).Retired);
        Assert.True(m.Cpu.InInterruptShadow);
        Queue(m, new CpuEvent(CpuEventKind.Nmi, 0));
        m.RunToHalt();
        Assert.Equal(TestMachine.HandlerOf(2) + 1, m.Cpu.Rip);
        Assert.Equal(afterNop, m.StackSlot(0));
    }

    [Fact]
    public void An_exception_from_the_shadowed_instruction_ends_the_shadow()
    {
        // STI (IF 0 -> 1) shadows UD2; #UD goes through a trap gate (IF stays 1), and the pending
        // interrupt is taken at the first boundary of the #UD handler, before its HLT.
        var m = Machine(gateType: 0xF);
        ulong ud2 = m.Load(a => a.sti());
        m.Load(a => a.ud2(), ud2);
        Queue(m, new CpuEvent(CpuEventKind.Interrupt, 0x40));
        m.RunToHalt();
        Assert.Equal(TestMachine.HandlerOf(0x40) + 1, m.Cpu.Rip);
        Assert.Equal(TestMachine.HandlerOf(6), m.StackSlot(0));
        Assert.Equal(ud2, m.StackSlot(6));         // #UD's frame above the interrupt's (8 bytes of alignment)
    }

    [Fact]
    public void An_exception_leaves_no_shadow_for_the_handlers_first_instruction()
    {
        // The #UD handler's first instruction is an OUT that makes an interrupt pending: it is taken
        // right after that OUT, not one instruction later.
        var m = Machine(gateType: 0xF);
        m.Memory.Write(TestMachine.HandlerOf(6), [0xE6, 0x80, 0x90, 0xF4]); // out 0x80, al; nop; hlt
        m.Host.OnPortOut = (_, _) => m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Interrupt, 0x40));
        m.Cpu.Rflags = 0x202;
        m.Load(a => a.ud2());
        m.RunToHalt();
        Assert.Equal(TestMachine.HandlerOf(0x40) + 1, m.Cpu.Rip);
        Assert.Equal(TestMachine.HandlerOf(6) + 2, m.StackSlot(0));
    }
}
