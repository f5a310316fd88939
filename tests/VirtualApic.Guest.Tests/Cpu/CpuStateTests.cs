// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// The segment descriptor cache and the state accessors: a SegmentCache's DPL, P, L and D/B bits (SDM Vol 3A
/// 3.4.5, in the VMCS access-rights layout of Vol 3C 25.4.1), a real-mode segment (base = selector x 16,
/// limit 0xFFFF, Vol 3A 21.1.1); the operating mode from CR0.PE, IA32_EFER.LMA, CS.L and CS.D (Vol 3A 2.2,
/// 5.2.1); CPL = CS.RPL in protected mode and 0 in real mode (Vol 3A 5.5); LMA = LME and PG (Vol 3A 10.8.5).
/// The state dump is the engine's own format for hang reports (docs/guest-engine.md).
/// </summary>
public class CpuStateTests
{
    [Theory]
    [InlineData((ushort)0xC09B, 0, true, false, true)]
    [InlineData((ushort)0x20BB, 1, true, true, false)]
    [InlineData((ushort)0xC0D3, 2, true, false, true)]
    [InlineData((ushort)0x2073, 3, false, true, false)]
    [InlineData((ushort)0xFFFF, 3, true, true, true)]
    public void Segment_cache_attribute_fields(ushort attributes, int dpl, bool present, bool isLong, bool big)
    {
        var c = new SegmentCache(0x10, 0, 0xFFFFFFFF, attributes);
        Assert.Equal(dpl, c.Dpl);
        Assert.Equal(present, c.Present);
        Assert.Equal(isLong, c.Long);
        Assert.Equal(big, c.DefaultBig);
    }

    [Theory]
    [InlineData(true, (ushort)0x9B)]
    [InlineData(false, (ushort)0x93)]
    public void A_real_mode_segment_is_based_at_sixteen_times_its_selector(bool code, ushort attributes)
    {
        Assert.Equal(new SegmentCache(0xF123, 0xF1230, 0xFFFF, attributes), SegmentCache.RealMode(0xF123, code));
    }

    /// <summary>CR0, EFER and the CS attributes for each mode.</summary>
    [Theory]
    [InlineData(0x10UL, 0UL, (ushort)0x9B, CpuMode.Real)]
    [InlineData(0x11UL, 0UL, (ushort)0x9B, CpuMode.Protected16)]
    [InlineData(0x11UL, 0UL, (ushort)0xC09B, CpuMode.Protected32)]
    [InlineData(0x80000031UL, 0x500UL, (ushort)0x009B, CpuMode.Compatibility16)]
    [InlineData(0x80000031UL, 0x500UL, (ushort)0xC09B, CpuMode.Compatibility32)]
    [InlineData(0x80000031UL, 0x500UL, (ushort)0xA09B, CpuMode.Long64)]
    public void The_mode_follows_PE_LMA_and_the_CS_L_and_D_bits(ulong cr0, ulong efer, ushort csAttributes, CpuMode mode)
    {
        var m = new TestMachine();
        m.Cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(TestMachine.Code64, 0, 0xFFFFFFFF, csAttributes));
        m.Cpu.SetControlRegisters(cr0, TestMachine.Pml4, 0x20, efer);
        Assert.Equal(mode, m.Cpu.Mode);
    }

    [Theory]
    [InlineData(0x80000011UL, 0x100UL, 0x500UL)] // PG and LME: LMA
    [InlineData(0x00000011UL, 0x100UL, 0x100UL)] // LME without PG: not active
    [InlineData(0x80000011UL, 0x000UL, 0x000UL)] // PG without LME: not active
    [InlineData(0x80000011UL, 0x400UL, 0x000UL)] // an LMA written in is recomputed
    public void LMA_is_LME_and_PG(ulong cr0, ulong eferIn, ulong eferOut)
    {
        var m = new TestMachine();
        m.Cpu.SetControlRegisters(cr0, TestMachine.Pml4, 0x20, eferIn);
        Assert.Equal(eferOut, m.Cpu.Efer);
    }

    [Fact]
    public void CPL_is_the_CS_RPL_in_protected_mode_and_0_in_real_mode()
    {
        var m = new TestMachine();
        m.Cpu.SetControlRegisters(0x10, 0, 0, 0);
        m.Cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(TestMachine.UserCode, 0x230, 0xFFFF, 0x9B));
        Assert.Equal(0, m.Cpu.Cpl);                        // real mode: CPL 0 whatever the selector
        m.Cpu.SetControlRegisters(0x11, 0, 0, 0);
        Assert.Equal(3, m.Cpu.Cpl);
        m.Cpu.SetControlRegisters(0x10, 0, 0, 0);
        Assert.Equal(0, m.Cpu.Cpl);
        m.Cpu.SetControlRegisters(0x11, 0, 0, 0);
        m.Cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(0x1A, 0, 0xFFFFFFFF, 0xC0DB));
        Assert.Equal(2, m.Cpu.Cpl);
    }

    [Fact]
    public void Setting_the_control_registers_flushes_the_TLB()
    {
        var m = new TestMachine();
        // Linear 0x201000: a TLB slot the code page (0x100000) does not share.
        m.Memory.WriteUInt64(0x201000, 0x1111);
        m.Memory.WriteUInt64(0x401000, 0x2222);
        m.Load(a =>
        {
            a.mov(rax, __qword_ptr[0x201000]);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(0x1111UL, m.Reg(0));
        m.Memory.WriteUInt64(TestMachine.Pd + 8, 0x400000 | 0x87); // linear 2 MiB -> physical 4 MiB
        m.Cpu.SetControlRegisters(0x80010031, TestMachine.Pml4, 0x20, 0x900);
        m.Resume(TestMachine.CodeBase);
        m.RunToHalt();
        Assert.Equal(0x2222UL, m.Reg(0));
    }

    [Fact]
    public void The_state_dump_shows_every_register()
    {
        var m = new TestMachine();
        for (int r = 0; r < 16; r++)
        {
            m.Cpu.SetRegister(r, 0x1000UL + (ulong)r);
        }

        string dump = m.Cpu.DumpState();
        string[] lines = dump.Split('\n');
        Assert.Equal("RAX=0000000000001000 RCX=0000000000001001 RDX=0000000000001002 RBX=0000000000001003", lines[0]);
        Assert.Equal("RSP=0000000000001004 RBP=0000000000001005 RSI=0000000000001006 RDI=0000000000001007", lines[1]);
        Assert.Equal("R8 =0000000000001008 R9 =0000000000001009 R10=000000000000100A R11=000000000000100B", lines[2]);
        Assert.Equal("R12=000000000000100C R13=000000000000100D R14=000000000000100E R15=000000000000100F", lines[3]);
        Assert.Equal("RIP=0000000000100000 RFLAGS=00000002 CPL=0 mode=Long64 halted=False wait-for-SIPI=False shadow=False", lines[4]);
        Assert.Equal("ES=0010 base=0000000000000000 limit=FFFFFFFF attr=C093", lines[5]);
        Assert.Equal("CS=0008 base=0000000000000000 limit=FFFFFFFF attr=A09B", lines[6]);
        Assert.Equal("SS=0010 base=0000000000000000 limit=FFFFFFFF attr=C093", lines[7]);
        Assert.Equal(["DS", "FS", "GS"], lines[8..11].Select(l => l[..2]).ToArray());
        Assert.Equal("CR0=80010031 CR2=0000000000000000 CR3=0000000000002000 CR4=00000020 EFER=D00", lines[11]);
        Assert.Equal("GDTR=0000000000001000/004F IDTR=0000000000005000/0FFF TR=0000 LDTR=0000 retired=0", lines[12]);
        Assert.Equal(13, lines.Length);
    }
}
