// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// IRET in IA-32e mode and the RFLAGS rules of POPF and IRET (SDM Vol 2 IRET/IRETD/IRETQ and POPF/POPFD/POPFQ
/// pseudo-code; Vol 3 6.14.3 for IRET in 64-bit mode). The frame is written into memory by the test and the
/// guest runs MOV RSP, frame; IRET. A target at CPL 0 is a HLT (the test then reads the state); a target at
/// CPL 3 is a UD2, whose #UD frame on the RSP0 stack shows CS, RIP, RFLAGS, RSP and SS as IRET left them.
/// </summary>
public class IretTests
{
    private const ulong Rsp0 = 0x70000, FrameAt = 0x5F000, Target = 0x102000, UserStart = 0x101000;
    private const ushort Code64Dpl1 = 0x50, Conforming64 = 0x60, NotPresent64 = 0x68, ReadOnlyUser = 0x78, NotPresentUser = 0x80, ConformingDpl3 = 0x88;
    private const ulong Cf = 0x1, Pf = 0x4, Af = 0x10, Zf = 0x40, Sf = 0x80, Tf = 0x100, If = 0x200, Df = 0x400, Of = 0x800;
    private const ulong Iopl3 = 0x3000, Nt = 0x4000, Rf = 0x10000, Vm = 0x20000, Ac = 0x40000, Vif = 0x80000, Vip = 0x100000, Id = 0x200000;

    private static TestMachine Machine()
    {
        var m = new TestMachine();
        m.HaltOnExceptions(256);

        m.Memory.WriteUInt64(TestMachine.Tss + 4, Rsp0);
        m.SetDescriptor(Code64Dpl1, 0x00AFBB000000FFFF);
        m.SetDescriptor(Conforming64, 0x00AF9F000000FFFF);
        m.SetDescriptor(NotPresent64, 0x00AF1B000000FFFF);
        m.SetDescriptor(ReadOnlyUser, 0x00CFF1000000FFFF);   // data, read-only, DPL 3
        m.SetDescriptor(NotPresentUser, 0x00CF73000000FFFF); // data, writable, DPL 3, P = 0
        m.SetDescriptor(ConformingDpl3, 0x00AFFF000000FFFF);
        return m;
    }

    /// <summary>Writes an IRET frame (RIP, CS, RFLAGS, RSP, SS) of <paramref name="bytes"/>-byte slots at FrameAt.</summary>
    private static void WriteFrame(TestMachine m, int bytes, params ulong[] slots)
    {
        for (int i = 0; i < slots.Length; i++)
        {
            ulong at = FrameAt + (ulong)(i * bytes);
            switch (bytes)
            {
                case 2: m.Memory.Write(at, [(byte)slots[i], (byte)(slots[i] >> 8)]); break;
                case 4: m.Memory.WriteUInt32(at, (uint)slots[i]); break;
                default: m.Memory.WriteUInt64(at, slots[i]); break;
            }
        }
    }

    /// <summary>Runs MOV RSP, FrameAt; <paramref name="iret"/> at CPL 0, or at CPL 3 (entered by an IRETQ
    /// with IOPL <paramref name="userIopl"/>), after <paramref name="setup"/>; returns the IRET's address.</summary>
    private static ulong RunIret(TestMachine m, Action<Assembler> iret, bool fromCpl3 = false, Action<Assembler>? setup = null, int userIopl = 0)
    {
        m.Load(a => a.ud2(), Target);
        ulong start = fromCpl3 ? UserStart : TestMachine.CodeBase + 0x800;
        m.Load(a =>
        {
            a.mov(ax, TestMachine.TssSel);
            a.ltr(ax);
            if (fromCpl3)
            {
                a.push(TestMachine.UserData);
                a.push(0x60000);
                a.push(2 | (userIopl << 12));
                a.push(TestMachine.UserCode);
                a.push((int)UserStart);
                a.iretq();
            }
            else
            {
                a.jmp(start);
            }
        });
        ulong iretAt = m.Load(a =>
        {
            setup?.Invoke(a);
            a.mov(rsp, (long)FrameAt);
        }, start);
        m.Load(iret, iretAt);
        return iretAt;
    }

    private static ulong Frame(TestMachine m, int slot) => m.Memory.ReadUInt64(m.Reg(4) + (ulong)(8 * slot));

    private static void AssertIn(TestMachine m, int vector) =>
        Assert.True(m.Cpu.Rip == TestMachine.HandlerOf(vector) + 1, $"expected the handler of vector {vector}, stopped at 0x{m.Cpu.Rip:x}\n{m.Cpu.DumpState()}");

    /// <summary>IRET faulted: the handler of <paramref name="vector"/> got <paramref name="errorCode"/> with RIP at the IRET.</summary>
    private static void AssertFault(TestMachine m, int vector, ulong errorCode, ulong iretAt)
    {
        AssertIn(m, vector);
        Assert.Equal(errorCode, Frame(m, 0));
        Assert.Equal(iretAt, Frame(m, 1));
    }

    /// <summary>IRET landed on the UD2 at Target; the #UD frame shows CS, RFLAGS (RF set: #UD is a fault), RSP and SS.</summary>
    private static void AssertLanded(TestMachine m, ulong cs, ulong rflags, ulong rsp, ulong ss)
    {
        AssertIn(m, 6);
        Assert.Equal([Target, cs, rflags | Rf, rsp, ss], Enumerable.Range(0, 5).Select(i => Frame(m, i)).ToArray());
    }

    [Fact]
    public void Iretq_to_the_same_privilege_still_pops_SS_and_RSP()
    {
        var m = Machine();
        WriteFrame(m, 8, Target, TestMachine.Code64, Cf | 2, 0x5E008, TestMachine.Data);
        RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertLanded(m, TestMachine.Code64, Cf | 2, 0x5E008, TestMachine.Data);
        Assert.Equal(0x5E000UL - 40, m.Reg(4)); // the #UD frame went on the popped (aligned) stack
        Assert.Equal([false], m.Host.Irets.ToArray());
    }

    [Fact]
    public void Iretq_to_cpl3_loads_CS_SS_and_RSP_and_tells_the_host_the_new_IF()
    {
        var m = Machine();
        WriteFrame(m, 8, Target, TestMachine.UserCode, If | Cf | 2, 0x5E008, TestMachine.UserData);
        RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertLanded(m, TestMachine.UserCode, If | Cf | 2, 0x5E008, TestMachine.UserData);
        Assert.Equal(Rsp0 - 40, m.Reg(4));
        Assert.Equal([true], m.Host.Irets.ToArray());
        Assert.Equal([true, false], m.Host.InterruptFlagChanges.ToArray()); // IRET set IF, the #UD gate cleared it
    }

    /// <summary>SDM IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL: ES, DS, FS and GS holding data or non-conforming
    /// code with DPL below the new CPL become null; a conforming code segment and a DPL 3 data one stay; the
    /// FS base written through its MSR is kept. A return to the same level changes none.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Iret_to_an_outer_level_nulls_the_segments_the_new_cpl_may_not_use(bool toCpl3)
    {
        var m = Machine();
        WriteFrame(m, 8, Target, toCpl3 ? TestMachine.UserCode : TestMachine.Code64, 2, 0x5E008, toCpl3 ? TestMachine.UserData : TestMachine.Data);
        RunIret(m, a => a.iretq(), setup: a =>
        {
            a.mov(ax, Conforming64);
            a.mov(es, ax);
            a.mov(ax, TestMachine.UserData);  // DPL 3: usable at CPL 3
            a.mov(ds, ax);
            a.mov(ax, TestMachine.Data);
            a.mov(fs, ax);
            a.mov(ax, TestMachine.Code32); // readable, non-conforming code, DPL 0
            a.mov(gs, ax);
            a.mov(ecx, 0xC000_0100);       // FS.base
            a.mov(eax, 0x1234_5000);
            a.xor(edx, edx);
            a.wrmsr();
        });
        m.RunToHalt();
        AssertIn(m, 6);

        ushort Selector(SegmentRegister s) => m.Cpu.GetSegment(s).Selector;
        Assert.Equal(Conforming64, Selector(SegmentRegister.Es));
        Assert.Equal(TestMachine.UserData, Selector(SegmentRegister.Ds));
        Assert.Equal(toCpl3 ? (ushort)0 : TestMachine.Data, Selector(SegmentRegister.Fs));
        Assert.Equal(toCpl3 ? (ushort)0 : TestMachine.Code32, Selector(SegmentRegister.Gs));
        Assert.Equal(0x1234_5000UL, m.Cpu.GetSegment(SegmentRegister.Fs).Base);
    }

    [Fact]
    public void Iretd_in_64_bit_mode_pops_five_doublewords()
    {
        var m = Machine();
        WriteFrame(m, 4, Target, TestMachine.UserCode, Cf | 2, 0x5E008, TestMachine.UserData);
        m.Memory.WriteUInt64(FrameAt + 20, ulong.MaxValue); // beyond the frame: not read
        RunIret(m, a => a.iretd());
        m.RunToHalt();
        AssertLanded(m, TestMachine.UserCode, Cf | 2, 0x5E008, TestMachine.UserData);
    }

    [Fact]
    public void Iretw_in_64_bit_mode_pops_five_words()
    {
        const ulong low = 0xC000;
        var m = Machine();
        m.Load(a => a.hlt(), low);
        WriteFrame(m, 2, low, TestMachine.Code64, Cf | 2, 0xE008, TestMachine.Data);
        RunIret(m, a => a.db(0x66, 0xCF)); // IRETW
        m.RunToHalt();
        Assert.Equal(low + 1, m.Cpu.Rip);
        Assert.Equal(0xE008UL, m.Reg(4)); // a 64-bit target's stack pointer is the popped value, zero-extended (APM IRET)
        Assert.Equal(Cf | 2, m.Cpu.Rflags);
    }

    [Fact]
    public void Iretq_to_a_compatibility_mode_target_keeps_only_EIP()
    {
        var m = Machine();
        WriteFrame(m, 8, 0x1_0000_0000 + Target, TestMachine.Code32, 2, 0x5E008, TestMachine.Data);
        RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertLanded(m, TestMachine.Code32, 2, 0x5E008, TestMachine.Data); // UD2 is the same bytes in 32-bit code
    }

    [Fact]
    public void Iretq_to_a_64_bit_target_keeps_all_of_RIP()
    {
        // 4 GiB is not mapped: the fetch there page-faults, so RIP was not truncated.
        var m = Machine();
        WriteFrame(m, 8, 0x1_0000_0000, TestMachine.Code64, 2, 0x5E008, TestMachine.Data);
        RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertIn(m, 14);
        Assert.Equal(0x1_0000_0000UL, Frame(m, 1));
        Assert.Equal(0x1_0000_0000UL, m.Cpu.Cr2);
    }

    [Theory]
    [InlineData(TestMachine.Code64, 0)]
    [InlineData(Code64Dpl1 | 1, 1)] // a null SS carries the new CPL as its RPL
    public void Iretq_to_a_64_bit_target_below_cpl3_accepts_a_null_SS(ushort cs, ushort ss)
    {
        var m = Machine();
        WriteFrame(m, 8, Target, cs, 2, 0x5E008, ss);
        RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertLanded(m, cs, 2, 0x5E008, ss);
    }

    [Theory]
    [InlineData(TestMachine.UserCode, 3)] // CPL 3 needs a usable SS
    [InlineData(TestMachine.Code32, 0)]   // so does a compatibility-mode target
    public void Iretq_refuses_a_null_SS_for_cpl3_or_a_32_bit_target(ushort cs, ushort ss)
    {
        var m = Machine();
        WriteFrame(m, 8, Target, cs, 2, 0x5E008, ss);
        ulong iretAt = RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertFault(m, 13, 0, iretAt);
    }

    [Theory]
    [InlineData(0, false, 13, 0)]                                 // null CS
    [InlineData(TestMachine.Code64, true, 13, TestMachine.Code64)] // RPL 0 < CPL 3
    [InlineData(TestMachine.Data, false, 13, TestMachine.Data)]   // not code
    [InlineData(TestMachine.Code64 | 3, false, 13, TestMachine.Code64)] // non-conforming: DPL 0 != RPL 3
    [InlineData(Code64Dpl1 | 2, false, 13, Code64Dpl1)]           // non-conforming: DPL 1 != RPL 2
    [InlineData(ConformingDpl3, false, 13, ConformingDpl3)]       // conforming: DPL 3 > RPL 0
    [InlineData(NotPresent64, false, 11, NotPresent64)]
    public void Iret_checks_the_return_code_segment(ushort cs, bool fromCpl3, int vector, int errorCode)
    {
        var m = Machine();
        WriteFrame(m, 8, Target, cs, 2, 0x5E008, (ulong)(cs & 3) == 3 ? TestMachine.UserData : TestMachine.Data);
        ulong iretAt = RunIret(m, a => a.iretq(), fromCpl3);
        m.RunToHalt();
        AssertFault(m, vector, (ulong)errorCode, iretAt);
    }

    [Theory]
    [InlineData(Conforming64 | 3, TestMachine.UserData, Rsp0 - 40)]   // DPL 0 < RPL 3: the #UD came from CPL 3
    [InlineData(Conforming64, TestMachine.Data, 0x5E000UL - 40)]       // DPL 0 = RPL 0
    public void Iret_to_a_conforming_segment_with_DPL_at_most_RPL_runs_at_RPL(ushort cs, ushort ss, ulong rspAfterUd)
    {
        var m = Machine();
        WriteFrame(m, 8, Target, cs, 2, 0x5E008, ss);
        RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertLanded(m, cs, 2, 0x5E008, ss);
        Assert.Equal(rspAfterUd, m.Reg(4));
    }

    [Fact]
    public void Iretq_to_a_non_canonical_RIP_is_GP0_at_the_iret_before_anything_is_loaded()
    {
        var m = Machine();
        WriteFrame(m, 8, 0x0000_8000_0000_0000, TestMachine.UserCode, 2, 0x5E008, TestMachine.UserData);
        ulong iretAt = RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertFault(m, 13, 0, iretAt);
        Assert.Equal((ulong)TestMachine.Code64, Frame(m, 2));
        Assert.Equal(FrameAt, Frame(m, 4));
        Assert.Equal((ulong)TestMachine.Data, Frame(m, 5));
    }

    [Theory]
    [InlineData(TestMachine.Data, 13, TestMachine.Data)]           // RPL 0 != CS RPL 3
    [InlineData(TestMachine.UserCode, 13, TestMachine.UserCode & ~3)] // code
    [InlineData(ReadOnlyUser | 3, 13, ReadOnlyUser)]               // not writable
    [InlineData(TestMachine.Data | 3, 13, TestMachine.Data)]       // DPL 0 != RPL 3
    [InlineData(NotPresentUser | 3, 12, NotPresentUser)]           // not present: #SS
    public void Iret_to_an_outer_level_checks_the_new_SS(ushort ss, int vector, int errorCode)
    {
        var m = Machine();
        WriteFrame(m, 8, Target, TestMachine.UserCode, 2, 0x5E008, ss);
        ulong iretAt = RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertFault(m, vector, (ulong)errorCode, iretAt);
        Assert.Equal(0, m.Cpu.Cpl);
    }

    [Fact]
    public void Iret_with_NT_set_in_long_mode_is_GP0()
    {
        var m = Machine();
        WriteFrame(m, 8, Target, TestMachine.Code64, 2, 0x5E008, TestMachine.Data);
        ulong iretAt = RunIret(m, a => a.iretq(), setup: a =>
        {
            a.push((int)(Nt | 2));
            a.popfq();
        });
        m.RunToHalt();
        AssertFault(m, 13, 0, iretAt);
    }

    [Fact]
    public void Iret_at_cpl0_loads_every_flag_but_VM_including_RF_IOPL_VIF_and_VIP()
    {
        ulong all = Cf | Pf | Af | Zf | Sf | If | Df | Of | Iopl3 | Nt | Rf | Ac | Vif | Vip | Id;
        var m = Machine();
        WriteFrame(m, 8, Target, TestMachine.Code64, all | Vm | 2, 0x5E008, TestMachine.Data);
        RunIret(m, a => a.iretq());
        m.Load(a => a.hlt(), Target);
        m.RunToHalt();
        Assert.Equal(Target + 1, m.Cpu.Rip);
        Assert.Equal(all | 2, m.Cpu.Rflags);
        Assert.Equal([true], m.Host.Irets.ToArray());
    }

    [Fact]
    public void Iret_from_cpl0_to_cpl3_sets_IOPL_and_IF_by_the_old_cpl()
    {
        var m = Machine();
        WriteFrame(m, 8, Target, TestMachine.UserCode, Iopl3 | If | 2, 0x5E008, TestMachine.UserData);
        RunIret(m, a => a.iretq());
        m.RunToHalt();
        AssertLanded(m, TestMachine.UserCode, Iopl3 | If | 2, 0x5E008, TestMachine.UserData);
    }

    [Fact]
    public void Iret_at_cpl3_leaves_IOPL_IF_VIF_and_VIP_alone()
    {
        var m = Machine();
        WriteFrame(m, 8, Target, TestMachine.UserCode, Iopl3 | If | Vif | Vip | Cf | 2, 0x5E008, TestMachine.UserData);
        RunIret(m, a => a.iretq(), fromCpl3: true);
        m.RunToHalt();
        AssertLanded(m, TestMachine.UserCode, Cf | 2, 0x5E008, TestMachine.UserData);
    }

    /// <summary>Runs POPFQ (or the 16-bit POPF) of <paramref name="image"/> at CPL 0 or 3 with the given IOPL,
    /// starting from <paramref name="before"/> (CPL 0), then PUSHFQ; returns RFLAGS as PUSHFQ saw it.</summary>
    private static ulong Popf(ulong image, ulong before = 2, bool fromCpl3 = false, int iopl = 0, bool word = false)
    {
        var m = Machine();
        m.Cpu.Rflags = before;
        m.Load(a =>
        {
            a.mov(ax, TestMachine.TssSel);
            a.ltr(ax);
            if (fromCpl3)
            {
                a.push(TestMachine.UserData);
                a.push(0x60000);
                a.push((int)(before | ((ulong)iopl << 12)));
                a.push(TestMachine.UserCode);
                a.push((int)UserStart);
                a.iretq();
            }
            else
            {
                a.jmp(UserStart);
            }
        });
        m.Load(a =>
        {
            a.mov(rax, image);
            if (word)
            {
                a.push(ax);
                a.popf();
            }
            else
            {
                a.push(rax);
                a.popfq();
            }

            a.pushfq();
            a.pop(rbx);
            a.ud2();
        }, UserStart);
        m.RunToHalt();
        AssertIn(m, 6);
        return m.Reg(3);
    }

    private const ulong Arith = Cf | Pf | Af | Zf | Sf | Df | Of;

    [Fact]
    public void Popf_at_cpl0_loads_all_flags_but_RF_VM_VIF_and_VIP()
    {
        Assert.Equal(Arith | If | Iopl3 | Nt | Ac | Id | 2, Popf(Arith | If | Iopl3 | Nt | Ac | Id | Rf | Vm | Vif | Vip | 0x8 | 0x20));
        Assert.Equal(2UL, Popf(0, before: Arith | Nt | Ac | Id | 2));
    }

    [Fact]
    public void Popf_at_cpl3_changes_IF_only_when_cpl_is_at_most_IOPL_and_never_IOPL()
    {
        Assert.Equal(Arith | Nt | Ac | Id | 2, Popf(Arith | If | Iopl3 | Nt | Ac | Id, fromCpl3: true, iopl: 0));
        Assert.Equal(Arith | 0x2000 | 2, Popf(Arith | If | Iopl3, fromCpl3: true, iopl: 2));
        Assert.Equal(Arith | If | Iopl3 | 2, Popf(Arith | If, fromCpl3: true, iopl: 3));
    }

    [Fact]
    public void Sixteen_bit_popf_changes_only_the_low_16_bits()
    {
        Assert.Equal(Ac | Id | Cf | Zf | Nt | 2, Popf(Cf | Zf | Nt, before: Ac | Id | Of | 2, word: true));
    }

    [Fact]
    public void Popf_setting_TF_stops_as_unsupported()
    {
        var m = Machine();
        m.Load(a =>
        {
            a.push((int)(Tf | 2));
            a.popfq();
            a.hlt();
        });
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("TF", r.Unsupported!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Popf_tells_the_host_only_when_IF_changes_and_raising_IF_admits_a_pending_interrupt()
    {
        var m = Machine();
        m.Cpu.Rflags = If | 2;
        m.Load(a =>
        {
            a.push((int)(If | Cf | 2));
            a.popfq();                 // IF stays 1: nothing to report
            a.push(2);
            a.popfq();                 // IF 1 -> 0
            a.@out(0x80, al);          // the host raises vector 0x40 now; IF = 0 holds it
            a.push((int)(If | 2));
            a.popfq();                 // IF 0 -> 1: taken at the next boundary (POPF has no shadow)
            a.hlt();
        });
        m.Host.OnPortOut = (_, _) =>
        {
            m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Interrupt, 0x40));
            m.Cpu.RequestEventCheck();
        };
        m.RunToHalt();
        AssertIn(m, 0x40);
        Assert.Equal([false, true, false], m.Host.InterruptFlagChanges.ToArray());
    }
}
