// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// Events the host hands the CPU at instruction boundaries: INIT (SDM Vol 3 9.1 and Table 9-1: RFLAGS becomes
/// 2, so IF falls), the wait-for-SIPI state in which interrupts and NMIs are not taken (Vol 3 9.4.3 / 10.4.7.3),
/// SIPI, an NMI through vector 2 waking HLT (6.7), and events queued behind one another.
/// </summary>
public class HostEventTests
{
    private static TestMachine Machine(int gateType = 0xE)
    {
        var m = new TestMachine();
        m.HaltOnExceptions(256, gateType);

        return m;
    }

    private static void Queue(TestMachine m, params CpuEvent[] events)
    {
        foreach (var e in events)
        {
            m.Host.Events.Enqueue(e);
        }

        m.Cpu.RequestEventCheck();
    }

    [Theory]
    [InlineData(0x202UL, new[] { false })]
    [InlineData(0x2UL, new bool[0])]
    public void Init_reports_IF_falling_only_if_it_was_set(ulong rflags, bool[] reported)
    {
        var m = Machine();
        m.Cpu.Rflags = rflags;
        m.Load(a => a.hlt());
        Queue(m, new CpuEvent(CpuEventKind.Init, 0));
        Assert.Equal(StopReason.WaitForSipi, m.Cpu.Run(100).Reason);
        Assert.Equal(2UL, m.Cpu.Rflags);
        Assert.Equal(reported, m.Host.InterruptFlagChanges.ToArray());
    }

    [Fact]
    public void Interrupts_and_NMIs_while_waiting_for_SIPI_are_not_taken_and_SIPI_starts_at_its_page()
    {
        var m = Machine();
        m.Host.RespectInterruptFlag = false;
        m.Memory.Write(0x8000, [0xF4]); // HLT at 0800:0000
        Queue(
            m,
            new CpuEvent(CpuEventKind.Init, 0),
            new CpuEvent(CpuEventKind.Interrupt, 0x40),
            new CpuEvent(CpuEventKind.Nmi, 0),
            new CpuEvent(CpuEventKind.Sipi, 8));

        // One run: in wait-for-SIPI each event taken is followed by another look, so the interrupt and
        // the NMI are dropped and the SIPI behind them starts the CPU before the run ends.
        var r = m.Cpu.Run(100);

        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Empty(m.Host.Events);
        Assert.Equal(CpuMode.Real, m.Cpu.Mode);
        Assert.Equal(0x800, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal(1UL, m.Cpu.Rip); // ran the HLT at the SIPI page: nothing was delivered
        Assert.Equal(0UL, m.Reg(4));
    }

    [Fact]
    public void A_SIPI_outside_wait_for_SIPI_is_ignored()
    {
        var m = Machine();
        ulong end = m.Load(a => a.nop());
        m.Load(a => a.hlt(), end);
        Queue(m, new CpuEvent(CpuEventKind.Sipi, 8));
        m.RunToHalt();
        Assert.Equal(CpuMode.Long64, m.Cpu.Mode);
        Assert.Equal(end + 1, m.Cpu.Rip);
    }

    [Fact]
    public void An_NMI_wakes_HLT_through_vector_2_even_with_IF_clear()
    {
        var m = Machine();
        ulong afterHlt = m.Load(a => a.hlt());
        m.RunToHalt();
        Assert.Equal(StopReason.Halted, m.Cpu.Run(10).Reason);
        Queue(m, new CpuEvent(CpuEventKind.Nmi, 0));
        m.RunToHalt();
        Assert.Equal(TestMachine.HandlerOf(2) + 1, m.Cpu.Rip);
        Assert.Equal(afterHlt, m.Memory.ReadUInt64(m.Reg(4)));
        Assert.Equal(TestMachine.StackTop - 40, m.Reg(4)); // no error code
    }

    [Fact]
    public void An_interrupt_wakes_HLT_through_its_vector()
    {
        var m = Machine();
        m.Cpu.Rflags = 0x202;
        ulong afterHlt = m.Load(a => a.hlt());
        m.RunToHalt();
        Queue(m, new CpuEvent(CpuEventKind.Interrupt, 0x41));
        m.RunToHalt();
        Assert.Equal(TestMachine.HandlerOf(0x41) + 1, m.Cpu.Rip);
        Assert.Equal(afterHlt, m.Memory.ReadUInt64(m.Reg(4)));
        Assert.Equal(TestMachine.StackTop - 40, m.Reg(4));
    }

    [Fact]
    public void An_event_queued_behind_another_is_taken_at_a_later_boundary_without_a_new_request()
    {
        // Trap gates keep IF = 1; the first handler is NOP; HLT, and the second interrupt comes after its NOP.
        var m = Machine(gateType: 0xF);
        m.Memory.Write(TestMachine.HandlerOf(0x40), [0x90, 0xF4]);
        m.Cpu.Rflags = 0x202;
        m.Load(a => a.hlt());
        Queue(m, new CpuEvent(CpuEventKind.Interrupt, 0x40), new CpuEvent(CpuEventKind.Interrupt, 0x41));
        m.RunToHalt();
        Assert.Equal(TestMachine.HandlerOf(0x41) + 1, m.Cpu.Rip);
        Assert.Equal(TestMachine.HandlerOf(0x40) + 1, m.Memory.ReadUInt64(m.Reg(4)));
        Assert.Equal(TestMachine.CodeBase, m.Memory.ReadUInt64(m.Reg(4) + 48)); // above 8 bytes of 16-byte alignment
    }

    [Fact]
    public void The_host_is_asked_once_per_check_request()
    {
        var m = Machine();
        m.Load(a =>
        {
            a.nop();
            a.nop();
            a.nop();
            a.hlt();
        });
        m.Cpu.RequestEventCheck();
        m.RunToHalt();
        Assert.Single(m.Host.TakeEventCalls);
    }
}
