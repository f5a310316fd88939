// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// String instructions one element at a time, with REP and the prefixes that change them: SDM Vol 2 MOVS, STOS,
/// LODS, CMPS, SCAS, INS, OUTS and REP/REPE/REPNE (element size, RSI/RDI step by DF, a zero count does nothing,
/// the address size picks RCX/ECX and RSI/ESI, a segment override applies to the source only), and Vol 1 18.2.1
/// (INS/OUTS at CPL &gt; IOPL consult the I/O bitmap: none here, so #GP(0)).
/// </summary>
public class StringInstructionTests
{
    private const ulong Src = 0x200000, Dst = 0x210000;
    private const ushort Port = 0x80;
    private const uint PortValue = 0x89AB_CDEF;
    private const ulong RaxIn = 0x0123_4567_89AB_CDEF;
    private const ulong Cf = 1, Zf = 0x40, Df = 0x400;

    private static readonly Dictionary<string, (Action<Assembler> Emit, int Size)> Forms = new()
    {
        ["movsb"] = (a => a.movsb(), 1),
        ["movsw"] = (a => a.movsw(), 2),
        ["movsd"] = (a => a.movsd(), 4),
        ["movsq"] = (a => a.movsq(), 8),
        ["stosb"] = (a => a.stosb(), 1),
        ["stosw"] = (a => a.stosw(), 2),
        ["stosd"] = (a => a.stosd(), 4),
        ["stosq"] = (a => a.stosq(), 8),
        ["lodsb"] = (a => a.lodsb(), 1),
        ["lodsw"] = (a => a.lodsw(), 2),
        ["lodsd"] = (a => a.lodsd(), 4),
        ["lodsq"] = (a => a.lodsq(), 8),
        ["cmpsb"] = (a => a.cmpsb(), 1),
        ["cmpsw"] = (a => a.cmpsw(), 2),
        ["cmpsd"] = (a => a.cmpsd(), 4),
        ["cmpsq"] = (a => a.cmpsq(), 8),
        ["scasb"] = (a => a.scasb(), 1),
        ["scasw"] = (a => a.scasw(), 2),
        ["scasd"] = (a => a.scasd(), 4),
        ["scasq"] = (a => a.scasq(), 8),
        ["insb"] = (a => a.insb(), 1),
        ["insw"] = (a => a.insw(), 2),
        ["insd"] = (a => a.insd(), 4),
        ["outsb"] = (a => a.outsb(), 1),
        ["outsw"] = (a => a.outsw(), 2),
        ["outsd"] = (a => a.outsd(), 4),
    };

    public static TheoryData<string, bool> FormsBothDirections()
    {
        var data = new TheoryData<string, bool>();
        foreach (string name in Forms.Keys)
        {
            data.Add(name, false);
            data.Add(name, true);
        }

        return data;
    }

    private static TestMachine Machine()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        for (int i = 0; i < 32; i++)
        {
            m.Memory.Write(Src - 16 + (ulong)i, [(byte)(0x11 + i)]); // source bytes ascend: the compare is below
            m.Memory.Write(Dst - 16 + (ulong)i, [0xEE]);
        }

        m.Host.PortValues[Port] = PortValue;
        m.Cpu.SetRegister(0, RaxIn);
        m.Cpu.SetRegister(2, Port);
        m.Cpu.SetRegister(6, Src);
        m.Cpu.SetRegister(7, Dst);
        return m;
    }

    private static byte[] Read(TestMachine m, ulong address, int length)
    {
        byte[] b = new byte[length];
        m.Memory.Read(address, b);
        return b;
    }

    [Theory]
    [MemberData(nameof(FormsBothDirections))]
    public void One_element_moves_the_operand_size_and_steps_rsi_rdi_by_df(string name, bool down)
    {
        var (emit, size) = Forms[name];
        var m = Machine();
        m.Cpu.Rflags = 2 | (down ? Df : 0);
        m.Load(a => { emit(a); a.hlt(); });
        m.RunToHalt();

        string kind = name[..^1];
        bool readsSi = kind is "movs" or "lods" or "cmps" or "outs";
        bool writesDi = kind is "movs" or "stos" or "cmps" or "scas" or "ins";
        ulong step = down ? (ulong)(-size) : (ulong)size;
        Assert.Equal(readsSi ? Src + step : Src, m.Reg(6));
        Assert.Equal(writesDi ? Dst + step : Dst, m.Reg(7));

        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
        byte[] source = Read(m, Src, size);
        ulong sourceValue = 0;
        for (int i = size - 1; i >= 0; i--)
        {
            sourceValue = (sourceValue << 8) | source[i];
        }

        byte[] expectedDst = Enumerable.Repeat((byte)0xEE, 16).ToArray();
        switch (kind)
        {
            case "movs":
                source.CopyTo(expectedDst, 0);
                break;
            case "stos":
                BitConverter.GetBytes(RaxIn).AsSpan(0, size).CopyTo(expectedDst);
                break;
            case "ins":
                BitConverter.GetBytes((ulong)PortValue).AsSpan(0, size).CopyTo(expectedDst);
                break;
            default:
                break;
        }

        Assert.Equal(expectedDst, Read(m, Dst, 16));
        Assert.Equal(Enumerable.Repeat((byte)0xEE, 16).ToArray(), Read(m, Dst - 16, 16));

        ulong raxAfter = kind == "lods" ? (size == 4 ? sourceValue : size == 8 ? sourceValue : (RaxIn & ~mask) | sourceValue) : RaxIn;
        Assert.Equal(raxAfter, m.Reg(0));

        if (kind == "outs")
        {
            Assert.Equal([(Port, (uint)sourceValue, size)], m.Host.PortWrites);
        }
        else
        {
            Assert.Empty(m.Host.PortWrites);
        }

        if (kind is "cmps" or "scas")
        {
            // CMPS compares [RSI] - [RDI] (0x11.. below 0xEE..); SCAS compares the accumulator - [RDI].
            ulong left = kind == "cmps" ? sourceValue : RaxIn & mask;
            ulong right = 0xEEEE_EEEE_EEEE_EEEE & mask;
            Assert.Equal(left < right ? Cf : 0, m.Cpu.Rflags & Cf);
            Assert.Equal(0UL, m.Cpu.Rflags & Zf);
        }
    }

    [Theory]
    [InlineData("movsb")]
    [InlineData("stosq")]
    [InlineData("lodsw")]
    [InlineData("cmpsd")]
    [InlineData("scasb")]
    [InlineData("insd")]
    [InlineData("outsb")]
    public void Rep_with_a_zero_count_does_nothing(string name)
    {
        var (emit, _) = Forms[name];
        var m = Machine();
        m.Cpu.SetRegister(1, 0);
        m.Cpu.Rflags = 2 | Cf | Zf;
        m.Load(a =>
        {
            a.db(0xF3); // REP (REPE for CMPS/SCAS)
            emit(a);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(Src, m.Reg(6));
        Assert.Equal(Dst, m.Reg(7));
        Assert.Equal(0UL, m.Reg(1));
        Assert.Equal(RaxIn, m.Reg(0));
        Assert.Equal(Enumerable.Repeat((byte)0xEE, 16).ToArray(), Read(m, Dst, 16));
        Assert.Empty(m.Host.PortWrites);
        Assert.Equal(Cf | Zf, m.Cpu.Rflags & (Cf | Zf));
    }

    [Fact]
    public void A_32_bit_address_size_uses_ecx_esi_and_edi()
    {
        var m = Machine();
        m.Cpu.SetRegister(1, 0x1_0000_0003);
        m.Cpu.SetRegister(6, 0xFFFF_FFFF_0000_0000 | Src);
        m.Cpu.SetRegister(7, 0x0000_0001_0000_0000 | Dst);
        m.Load(a => { a.db(0x67, 0xF3, 0xA4); a.hlt(); }); // rep movsb with ECX, ESI, EDI
        m.RunToHalt();
        Assert.Equal(Read(m, Src, 3), Read(m, Dst, 3));
        Assert.Equal(0xEE, Read(m, Dst + 3, 1)[0]);
        Assert.Equal(0UL, m.Reg(1) & 0xFFFF_FFFF);
        Assert.Equal(Src + 3, m.Reg(6) & 0xFFFF_FFFF);
        Assert.Equal(Dst + 3, m.Reg(7) & 0xFFFF_FFFF);
    }

    [Fact]
    public void A_segment_override_moves_the_source_and_never_the_destination()
    {
        var m = Machine();
        const ulong FsBase = 0x10000;
        for (int i = 0; i < 8; i++)
        {
            m.Memory.Write(FsBase + Src + (ulong)i, [(byte)(0xA0 + i)]);
            m.Memory.Write(FsBase + Dst + (ulong)i, [0xEE]);
        }

        m.Cpu.SetSegment(SegmentRegister.Fs, new SegmentCache(TestMachine.Data, FsBase, 0xFFFFFFFF, 0xC093));
        m.Cpu.SetSegment(SegmentRegister.Gs, new SegmentCache(TestMachine.Data, FsBase, 0xFFFFFFFF, 0xC093));
        m.Load(a =>
        {
            a.db(0x64, 0xA5); // movsd with FS: on the source
            a.db(0x65, 0xAC); // lodsb with GS:
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(new byte[] { 0xA0, 0xA1, 0xA2, 0xA3 }, Read(m, Dst, 4));
        Assert.Equal(0xEE, Read(m, FsBase + Dst, 1)[0]);
        Assert.Equal((RaxIn & ~0xFFUL) | 0xA4, m.Reg(0));
    }

    [Theory]
    [InlineData("insb", true)]
    [InlineData("outsw", true)]
    [InlineData("movsb", false)]
    [InlineData("lodsd", false)]
    [InlineData("stosw", false)]
    public void At_cpl3_with_iopl_0_only_ins_and_outs_fault(string name, bool faults)
    {
        var (emit, _) = Forms[name];
        var m = Machine();
        const ulong UserCode = 0x150000, Rsp0 = 0x70000;
        m.Memory.WriteUInt64(TestMachine.Tss + 4, Rsp0);
        m.Load(a =>
        {
            a.mov(ax, TestMachine.TssSel);
            a.ltr(ax);
            a.mov(edx, Port);
            a.push(TestMachine.UserData);
            a.push(0x60000);
            a.push(0x2); // IOPL 0
            a.push(TestMachine.UserCode);
            a.push((int)UserCode);
            a.iretq();
        });
        m.Load(a => { emit(a); a.ud2(); }, UserCode);
        m.RunToHalt();
        if (faults)
        {
            m.AssertException(13, UserCode, errorCode: 0);
            Assert.Empty(m.Host.PortWrites);
            Assert.Equal(Enumerable.Repeat((byte)0xEE, 16).ToArray(), Read(m, Dst, 16));
        }
        else
        {
            Assert.Equal(6, m.HaltedInVector); // ran on to the UD2
        }
    }

    [Fact]
    public void The_sse_movsd_form_stops_as_unsupported()
    {
        var m = new TestMachine();
        m.Load(a => { a.movsd(xmm0, xmm1); a.hlt(); });
        var r = m.Cpu.Run(10);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("SSE form", r.Unsupported!.Reason, StringComparison.Ordinal);
    }
}
