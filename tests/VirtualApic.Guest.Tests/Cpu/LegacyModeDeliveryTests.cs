// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// Event delivery outside IA-32e mode. 32-bit protected mode through 8-byte gates (SDM Vol 3 6.10-6.12 and
/// Figure 6-4: at the same privilege the frame is EFLAGS, CS, EIP and the error code; the engine stops
/// privilege-changing delivery and task or 16-bit gates as unsupported). Real mode through the IVT (Vol 3
/// 20.1.4: 4-byte entries of offset then segment, a FLAGS, CS, IP frame, IF, TF and AC cleared) and IRET
/// back (Vol 2 IRET, real-address mode). Every vector's gate or IVT entry points at its own HLT.
/// </summary>
public class LegacyModeDeliveryTests
{
    private const ulong Handlers = 0x180000, Code = 0x101000, RealHandlers = 0x18000, RealCode = 0x10000;
    private const ushort UserCode32 = 0x98, OtherCode32 = 0xA0, RealHandlerSegment = 0x1800, RealCodeSegment = 0x1000;
    private const ulong Cf = 0x1, If = 0x200, Rf = 0x10000, Ac = 0x40000;

    private static ulong HandlerOf(int vector) => Handlers + (ulong)(vector * 16);

    private static void SetGate32(TestMachine m, int vector, int type = 0xE, int dpl = 0, bool present = true, ushort selector = TestMachine.Code32)
    {
        ulong handler = HandlerOf(vector);
        ulong lo = (handler & 0xFFFF) | ((ulong)selector << 16) | ((ulong)type << 40) | ((ulong)dpl << 45)
            | (present ? 1UL << 47 : 0) | ((handler >> 16 & 0xFFFF) << 48);
        m.Memory.WriteUInt64(TestMachine.Idt + (ulong)(vector * 8), lo);
    }

    /// <summary>32-bit protected mode, paging off, flat segments at CPL <paramref name="cpl"/>, 8-byte gates.</summary>
    private static TestMachine Protected32(int cpl = 0)
    {
        var m = new TestMachine();
        for (int v = 0; v < 256; v++)
        {
            m.Memory.Write(HandlerOf(v), [0xF4]);
            SetGate32(m, v);
        }

        m.Cpu.SetControlRegisters(0x11, 0, 0, 0);
        m.SetDescriptor(UserCode32, 0x00CFFB000000FFFF);
        m.SetIdtLimit(0x7FF);
        ushort cs = cpl == 3 ? (ushort)(UserCode32 | 3) : TestMachine.Code32;
        ushort data = cpl == 3 ? TestMachine.UserData : TestMachine.Data;
        m.Cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(cs, 0, 0xFFFFFFFF, (ushort)(cpl == 3 ? 0xC0FB : 0xC09B)));
        foreach (var s in new[] { SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Ss })
        {
            m.Cpu.SetSegment(s, new SegmentCache(data, 0, 0xFFFFFFFF, (ushort)(cpl == 3 ? 0xC0F3 : 0xC093)));
        }

        m.Cpu.Rip = Code;
        return m;
    }

    private static uint Frame32(TestMachine m, int slot) => m.Memory.ReadUInt32(m.Reg(4) + (ulong)(4 * slot));

    private static void AssertIn(TestMachine m, int vector) =>
        Assert.True(m.Cpu.Rip == HandlerOf(vector) + 1, $"expected the handler of vector {vector}, stopped at 0x{m.Cpu.Rip:x}");

    [Fact]
    public void A_fault_at_the_same_privilege_pushes_EFLAGS_CS_EIP()
    {
        var m = Protected32();
        m.Cpu.Rflags = Cf | 2;
        m.Load(a => a.ud2(), Code, 32);
        m.RunToHalt();
        AssertIn(m, 6);
        Assert.Equal(TestMachine.StackTop - 12, m.Reg(4));
        Assert.Equal([(uint)Code, TestMachine.Code32, (uint)(Rf | Cf | 2)], new[] { Frame32(m, 0), Frame32(m, 1), Frame32(m, 2) });
        Assert.Equal(Cf | 2, m.Cpu.Rflags);
    }

    [Fact]
    public void A_fault_with_an_error_code_pushes_it_below_EIP()
    {
        var m = Protected32();
        m.Load(a =>
        {
            a.mov(ecx, 0x999);
            a.rdmsr();
        }, Code, 32);
        m.RunToHalt();
        AssertIn(m, 13);
        Assert.Equal(TestMachine.StackTop - 16, m.Reg(4));
        Assert.Equal([0u, (uint)Code + 5, TestMachine.Code32, (uint)(Rf | 2)], new[] { Frame32(m, 0), Frame32(m, 1), Frame32(m, 2), Frame32(m, 3) });
    }

    [Fact]
    public void An_external_interrupt_on_vector_13_pushes_no_error_code()
    {
        var m = Protected32();
        m.Host.RespectInterruptFlag = false;
        m.Host.OnPortOut = (_, _) =>
        {
            m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Interrupt, 13));
            m.Cpu.RequestEventCheck();
        };
        m.Load(a => a.@out(0x80, al), Code, 32);
        m.RunToHalt();
        AssertIn(m, 13);
        Assert.Equal(TestMachine.StackTop - 12, m.Reg(4));
        Assert.Equal((uint)Code + 2, Frame32(m, 0));
    }

    [Theory]
    [InlineData((0x20 * 8) + 7, true)]  // exactly the 8-byte gate's last byte
    [InlineData((0x20 * 8) + 6, false)]
    public void An_8_byte_gate_must_end_within_the_idt_limit(int limit, bool delivered)
    {
        var m = Protected32();
        m.SetIdtLimit((ushort)limit);
        m.Load(a => a.@int(0x20), Code, 32);
        m.RunToHalt();
        if (delivered)
        {
            AssertIn(m, 0x20);
            Assert.Equal((uint)Code + 2, Frame32(m, 0));
        }
        else
        {
            AssertIn(m, 13);
            Assert.Equal([(0x20u * 8) + 2, (uint)Code], new[] { Frame32(m, 0), Frame32(m, 1) });
        }
    }

    [Fact]
    public void Delivery_loads_the_gate_code_segment()
    {
        var m = Protected32();
        m.SetDescriptor(OtherCode32, 0x00CF9B000000FFFF);
        SetGate32(m, 0x34, selector: OtherCode32);
        m.Load(a => a.@int(0x34), Code, 32);
        m.RunToHalt();
        AssertIn(m, 0x34);
        Assert.Equal(OtherCode32, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal((uint)TestMachine.Code32, Frame32(m, 1));
    }

    [Theory]
    [InlineData(0xE, 0)]
    [InlineData(0xF, If)]
    public void A_trap_gate_keeps_IF_and_an_interrupt_gate_clears_it(int type, ulong ifAfter)
    {
        var m = Protected32();
        SetGate32(m, 0x30, type);
        m.Cpu.Rflags = If | 2;
        m.Load(a => a.@int(0x30), Code, 32);
        m.RunToHalt();
        AssertIn(m, 0x30);
        Assert.Equal((uint)(If | 2), Frame32(m, 2));
        Assert.Equal(ifAfter | 2, m.Cpu.Rflags);
    }

    [Theory]
    [InlineData(0x0)]
    [InlineData(0x1)] // available 16-bit TSS
    [InlineData(0xC)] // call gate
    public void A_descriptor_that_is_not_a_gate_is_GP_with_the_idt_error_code(int type)
    {
        var m = Protected32();
        SetGate32(m, 0x31, type);
        m.Load(a => a.@int(0x31), Code, 32);
        m.RunToHalt();
        AssertIn(m, 13);
        Assert.Equal([(0x31u * 8) + 2, (uint)Code], new[] { Frame32(m, 0), Frame32(m, 1) });
    }

    [Theory]
    [InlineData(0x5, "task gate")]
    [InlineData(0x6, "16-bit gate")]
    [InlineData(0x7, "16-bit gate")]
    public void Task_gates_and_16_bit_gates_stop_as_unsupported(int type, string named)
    {
        var m = Protected32();
        SetGate32(m, 0x32, type);
        m.Load(a => a.@int(0x32), Code, 32);
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains(named, r.Unsupported!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_privilege_changing_delivery_stops_as_unsupported()
    {
        var m = Protected32(cpl: 3);
        SetGate32(m, 0x33, dpl: 3);
        m.Load(a => a.@int(0x33), Code, 32);
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("privilege change", r.Unsupported!.Reason, StringComparison.Ordinal);
    }

    /// <summary>Real mode: code at 1000:0000, stack at 0000:7000, IVT at 0 with entry v = 1800:(v × 16).</summary>
    private static TestMachine Real()
    {
        var m = new TestMachine();
        m.Cpu.SetControlRegisters(0x10, 0, 0, 0);
        m.Cpu.SetDescriptorTables(m.Cpu.Gdtr, new DescriptorTable(0, 0x3FF));
        m.Cpu.SetSegment(SegmentRegister.Cs, SegmentCache.RealMode(RealCodeSegment, code: true));
        foreach (var s in new[] { SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Ss })
        {
            m.Cpu.SetSegment(s, SegmentCache.RealMode(0, code: false));
        }

        for (int v = 0; v < 256; v++)
        {
            m.Memory.WriteUInt32((ulong)(v * 4), ((uint)RealHandlerSegment << 16) | (uint)(v * 16));
            m.Memory.Write(RealHandlers + (ulong)(v * 16), [0xF4]);
        }

        m.Cpu.SetRegister(4, 0x7000);
        m.Cpu.Rip = 0;
        return m;
    }

    private static ushort Word(TestMachine m, ulong address) => (ushort)m.Memory.ReadUInt32(address);

    private static void AssertInReal(TestMachine m, int vector, ushort ip, ushort flags)
    {
        Assert.Equal((ulong)(vector * 16) + 1, m.Cpu.Rip);
        Assert.Equal(RealHandlerSegment, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal((ulong)RealHandlerSegment << 4, m.Cpu.GetSegment(SegmentRegister.Cs).Base);
        Assert.Equal(0x7000UL - 6, m.Reg(4)); // no error code in real mode
        Assert.Equal([ip, RealCodeSegment, flags], new[] { Word(m, 0x7000 - 6), Word(m, 0x7000 - 4), Word(m, 0x7000 - 2) });
    }

    [Fact]
    public void Real_mode_int_pushes_FLAGS_CS_IP_and_clears_IF_TF_and_AC()
    {
        var m = Real();
        m.Cpu.Rflags = Ac | If | Cf | 2;
        m.Load(a => a.@int(0x21), RealCode, 16);
        m.RunToHalt();
        AssertInReal(m, 0x21, 2, (ushort)(If | Cf | 2));
        Assert.Equal(Cf | 2, m.Cpu.Rflags);
        Assert.Equal([false], m.Host.InterruptFlagChanges.ToArray());
    }

    [Fact]
    public void Real_mode_exceptions_push_no_error_code_and_point_at_the_instruction()
    {
        var m = Real();
        m.Load(a =>
        {
            a.mov(ecx, 0x999);
            a.rdmsr(); // #GP at CPL 0 in real mode
        }, RealCode, 16);
        m.RunToHalt();
        AssertInReal(m, 13, 6, 2);
    }

    [Theory]
    [InlineData((0x21 * 4) + 3, true)] // exactly the entry's last byte
    [InlineData((0x21 * 4) + 2, false)]
    public void A_real_mode_vector_must_end_within_the_IVT_limit(int limit, bool delivered)
    {
        var m = Real();
        m.SetIdtLimit((ushort)limit);
        m.Load(a => a.@int(0x21), RealCode, 16);
        m.RunToHalt();
        if (delivered)
        {
            AssertInReal(m, 0x21, 2, 2);
        }
        else
        {
            AssertInReal(m, 13, 0, 2); // #GP, no error code, at the INT
        }
    }

    [Fact]
    public void Real_mode_iret_returns_and_restores_FLAGS()
    {
        var m = Real();
        m.Memory.Write(RealHandlers + (0x21 * 16), [0xCF]); // IRET
        m.Cpu.Rflags = If | Cf | 2;
        m.Load(a =>
        {
            a.@int(0x21);
            a.hlt();
        }, RealCode, 16);
        m.RunToHalt();
        Assert.Equal(3UL, m.Cpu.Rip);
        Assert.Equal(RealCodeSegment, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal(0x7000UL, m.Reg(4));
        Assert.Equal(If | Cf | 2, m.Cpu.Rflags);
        Assert.Equal([false, true], m.Host.InterruptFlagChanges.ToArray());
        Assert.Equal([true], m.Host.Irets.ToArray());
    }

    [Fact]
    public void Real_mode_iretd_pops_doublewords_and_loads_AC()
    {
        var m = Real();
        m.Memory.WriteUInt32(0x6000, 0x20);              // EIP
        m.Memory.WriteUInt32(0x6004, RealCodeSegment);   // CS
        m.Memory.WriteUInt32(0x6008, (uint)(Ac | Cf | 2)); // EFLAGS
        m.Load(a =>
        {
            a.mov(sp, 0x6000);
            a.iretd();
        }, RealCode, 16);
        m.Load(a => a.hlt(), RealCode + 0x20, 16);
        m.RunToHalt();
        Assert.Equal(0x21UL, m.Cpu.Rip);
        Assert.Equal(0x600CUL, m.Reg(4));
        Assert.Equal(Ac | Cf | 2, m.Cpu.Rflags);
    }
}
