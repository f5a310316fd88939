// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// Segment-register loads and far transfers: SDM Vol 3 3.4.2-3.4.5 (selectors, descriptor tables, descriptor
/// fields, granularity, the accessed bit), 5.5-5.8 (privilege checks for data, stack and code segments),
/// 5.10 (null selectors, and 3.4.4 for SS in 64-bit mode), 20.1 (real-address mode), and the Vol 2 pages
/// of MOV Sreg, POP Sreg, JMP, CALL and RET (far). The descriptor under test is GDT entry 0x50.
/// </summary>
public class SegmentLoadTests
{
    private const ushort Sel = 0x50;
    private const ulong Scratch = 0x60000, Target = 0x100800, UserCodeAddress = 0x101000, Rsp0 = 0x70000;

    private static TestMachine NewMachine(ulong descriptor = 0)
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        if (descriptor != 0)
        {
            m.SetDescriptor(Sel, descriptor);
        }

        return m;
    }

    // Enters CPL 3 by IRETQ (the TSS gives RSP0 for the handlers) and runs SETUP then FAULTING there;
    // returns the address of FAULTING's first instruction.
    private static ulong RunAtCpl3(TestMachine m, Action<Assembler> setup, Action<Assembler> faulting)
    {
        m.Memory.WriteUInt64(TestMachine.Tss + 4, Rsp0);
        m.Load(a =>
        {
            a.mov(ax, TestMachine.TssSel);
            a.ltr(ax);
            a.push(TestMachine.UserData);
            a.push(0x60000);
            a.push(2);
            a.push(TestMachine.UserCode);
            a.push((int)UserCodeAddress);
            a.iretq();
        });
        ulong at = m.Load(
            a =>
            {
                a.nop();
                setup(a);
            },
            UserCodeAddress);
        m.Load(faulting, at);
        m.RunToHalt();
        return at;
    }

    private static SegmentCache BootData => new(TestMachine.Data, 0, 0xFFFFFFFF, 0xC093);

    private static ulong AccessByte(TestMachine m, ushort selector) => (m.Memory.ReadUInt64(TestMachine.Gdt + (ulong)(selector & ~7)) >> 40) & 0xFF;

    // ---- Data segment loads ----

    /// <summary>Descriptors DS, ES, FS and GS accept at CPL 0, and the cache each builds: the base from its three
    /// fields, the limit scaled by G (limit * 4096 + 0xFFF), the attributes with the accessed bit.</summary>
    public static TheoryData<string, ulong, ushort, ulong, uint, ushort> DataLoads() => new()
    {
        { "byte-granular data", TestMachine.Descriptor(0x1234_5678, 0x5ABCD, 0x92, 0x4), Sel, 0x1234_5678, 0x5ABCD, 0x4093 },
        { "page-granular data", TestMachine.Descriptor(0, 0x12, 0x92, 0xC), Sel, 0, 0x12FFF, 0xC093 },
        { "4 GiB, already accessed", TestMachine.Descriptor(0xFF00_0000, 0xFFFFF, 0x93, 0xC), Sel, 0xFF00_0000, 0xFFFFFFFF, 0xC093 },
        { "readable code", TestMachine.Descriptor(0x1000, 0xFFFF, 0x9A, 0x4), Sel, 0x1000, 0xFFFF, 0x409B },
        { "conforming code DPL 0, RPL 3", TestMachine.Descriptor(0, 0xFFFFF, 0x9E, 0xC), (ushort)(Sel | 3), 0, 0xFFFFFFFF, 0xC09F },
        { "DPL 3 data, RPL 3", TestMachine.Descriptor(0x20_0000, 0xFFF, 0xF2, 0x4), (ushort)(Sel | 3), 0x20_0000, 0xFFF, 0x40F3 },
    };

    [Theory]
    [MemberData(nameof(DataLoads))]
    public void Mov_to_ds_es_fs_gs_loads_the_descriptor_and_sets_its_accessed_bit(
        string why, ulong descriptor, ushort selector, ulong expectedBase, uint expectedLimit, ushort attributes)
    {
        var m = NewMachine(descriptor);
        m.Load(a =>
        {
            a.mov(eax, selector);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(fs, ax);
            a.mov(gs, ax);
            a.hlt();
        });
        m.RunToHalt();

        var expected = new SegmentCache(selector, expectedBase, expectedLimit, attributes);
        foreach (var s in new[] { SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
        {
            Assert.True(expected == m.Cpu.GetSegment(s), $"{why}: {s} = {m.Cpu.GetSegment(s)}");
        }

        Assert.Equal((ulong)(attributes & 0xFF), AccessByte(m, Sel)); // written back to the GDT
    }

    [Fact]
    public void Pop_fs_loads_the_selector_on_the_stack_and_releases_the_slot()
    {
        var m = NewMachine(TestMachine.Descriptor(0x4000_0000, 0xFFFFF, 0x92, 0xC));
        m.Load(a =>
        {
            a.push(Sel);
            a.pop(fs);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(new SegmentCache(Sel, 0x4000_0000, 0xFFFFFFFF, 0xC093), m.Cpu.GetSegment(SegmentRegister.Fs));
        Assert.Equal(TestMachine.StackTop, m.Reg(4));
    }

    /// <summary>MOV from a segment register: to a 32- or 64-bit register zero-extended, to memory 16 bits.</summary>
    [Fact]
    public void Mov_from_a_segment_register_zero_extends_to_a_register_and_stores_16_bits()
    {
        var m = NewMachine();
        m.Memory.WriteUInt64(Scratch, ulong.MaxValue);
        m.Load(a =>
        {
            a.mov(rax, -1);
            a.mov(eax, ss);
            a.mov(rbx, -1);
            a.mov(rbx, cs);
            a.mov(__word_ptr[Scratch], fs);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal((ulong)TestMachine.Data, m.Reg(0));
        Assert.Equal((ulong)TestMachine.Code64, m.Reg(3));
        Assert.Equal(0xFFFF_FFFF_FFFF_0000UL | TestMachine.Data, m.Memory.ReadUInt64(Scratch));
    }

    /// <summary>A null selector (index 0, any RPL) may be loaded into DS, ES, FS and GS; the register is then
    /// unusable (SDM 3.4.2, 5.10).</summary>
    [Fact]
    public void Null_selectors_load_into_ds_es_fs_gs_without_a_fault_and_leave_them_unusable()
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(eax, 3);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.xor(eax, eax);
            a.mov(fs, ax);
            a.mov(gs, ax);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(3, m.Cpu.GetSegment(SegmentRegister.Ds).Selector);
        Assert.Equal(3, m.Cpu.GetSegment(SegmentRegister.Es).Selector);
        Assert.Equal(0, m.Cpu.GetSegment(SegmentRegister.Fs).Selector);
        foreach (var s in new[] { SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
        {
            Assert.False(m.Cpu.GetSegment(s).Present, $"{s}");
        }
    }

    /// <summary>What MOV to DS refuses (SDM MOV, 5.6): a system descriptor, execute-only code, a non-conforming
    /// segment with DPL below CPL or RPL, a selector beyond the table or in an unusable LDT: #GP(selector);
    /// not present: #NP(selector). Nothing is loaded and the accessed bit stays clear.</summary>
    public static TheoryData<string, ulong, ushort, int, int> DataRefusals() => new()
    {
        { "LDT descriptor", TestMachine.Descriptor(0x8000, 0xFFF, 0x82), Sel, 13, Sel },
        { "execute-only code", TestMachine.Descriptor(0, 0xFFFFF, 0x98, 0xC), Sel, 13, Sel },
        { "data DPL 0, RPL 3", TestMachine.Descriptor(0, 0xFFFFF, 0x92, 0xC), (ushort)(Sel | 3), 13, Sel },
        { "readable code DPL 1, RPL 2", TestMachine.Descriptor(0, 0xFFFFF, 0xBA, 0xC), (ushort)(Sel | 2), 13, Sel },
        { "not present", TestMachine.Descriptor(0, 0xFFFFF, 0x12, 0xC), Sel, 11, Sel },
        { "beyond the GDT limit", TestMachine.Descriptor(0, 0xFFFFF, 0x92, 0xC), (ushort)(Sel + 8), 13, Sel + 8 },
        { "in an unusable LDT", TestMachine.Descriptor(0, 0xFFFFF, 0x92, 0xC), 0x0C, 13, 0x0C },
    };

    [Theory]
    [MemberData(nameof(DataRefusals))]
    public void Mov_to_ds_refuses_what_is_not_an_accessible_data_or_readable_code_segment(
        string why, ulong descriptor, ushort selector, int vector, int errorCode)
    {
        var m = NewMachine(descriptor);
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.xor(eax, eax);
                a.lldt(ax);
                a.mov(eax, selector);
            },
            a => a.mov(ds, ax));

        m.AssertException(vector, at, errorCode);
        Assert.True(BootData == m.Cpu.GetSegment(SegmentRegister.Ds), why);
        Assert.Equal(0UL, AccessByte(m, Sel) & 1);
    }

    /// <summary>What MOV to SS refuses (SDM MOV, 5.7): anything but a writable data segment with RPL = DPL = CPL
    /// is #GP(selector); a not-present one is #SS(selector).</summary>
    public static TheoryData<string, ulong, ushort, int, int> StackRefusals() => new()
    {
        { "code", TestMachine.Descriptor(0, 0xFFFFF, 0x9A, 0xC), Sel, 13, Sel },
        { "read-only data", TestMachine.Descriptor(0, 0xFFFFF, 0x90, 0xC), Sel, 13, Sel },
        { "LDT descriptor", TestMachine.Descriptor(0x8000, 0xFFF, 0x82), Sel, 13, Sel },
        { "RPL 1 at CPL 0", TestMachine.Descriptor(0, 0xFFFFF, 0x92, 0xC), (ushort)(Sel | 1), 13, Sel },
        { "DPL 1 at CPL 0", TestMachine.Descriptor(0, 0xFFFFF, 0xB2, 0xC), Sel, 13, Sel },
        { "not present", TestMachine.Descriptor(0, 0xFFFFF, 0x12, 0xC), Sel, 12, Sel },
    };

    [Theory]
    [MemberData(nameof(StackRefusals))]
    public void Mov_to_ss_refuses_what_is_not_a_writable_data_segment_at_cpl(
        string why, ulong descriptor, ushort selector, int vector, int errorCode)
    {
        var m = NewMachine(descriptor);
        ulong at = m.RunSetupThenFaulting(a => a.mov(eax, selector), a => a.mov(ss, ax));

        m.AssertException(vector, at, errorCode);
        Assert.True(BootData == m.Cpu.GetSegment(SegmentRegister.Ss), why);
    }

    [Fact]
    public void Mov_to_ss_loads_a_writable_data_segment_and_sets_its_accessed_bit()
    {
        var m = NewMachine(TestMachine.Descriptor(0, 0xFFFFF, 0x92, 0xC));
        m.Load(a =>
        {
            a.mov(eax, Sel);
            a.mov(ss, ax);
            a.push(5);
            a.pop(rbx);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(new SegmentCache(Sel, 0, 0xFFFFFFFF, 0xC093), m.Cpu.GetSegment(SegmentRegister.Ss));
        Assert.Equal(0x93UL, AccessByte(m, Sel));
        Assert.Equal(5UL, m.Reg(3));
    }

    /// <summary>In 64-bit mode SS may hold a null selector at CPL 0-2 when its RPL equals CPL (SDM 3.4.4).</summary>
    [Fact]
    public void A_null_ss_is_allowed_in_64_bit_mode_when_rpl_equals_cpl_below_3()
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.xor(eax, eax);
            a.mov(ss, ax);
            a.push(7);
            a.pop(rbx);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(0, m.Cpu.GetSegment(SegmentRegister.Ss).Selector);
        Assert.Equal(7UL, m.Reg(3));
    }

    [Fact]
    public void A_null_ss_with_rpl_other_than_cpl_raises_GP0()
    {
        var m = NewMachine();
        ulong at = m.RunSetupThenFaulting(a => a.mov(eax, 3), a => a.mov(ss, ax));

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(BootData, m.Cpu.GetSegment(SegmentRegister.Ss));
    }

    [Fact]
    public void A_null_ss_outside_64_bit_mode_raises_GP0()
    {
        var m = NewMachine();
        m.EnterCompatibilityMode();
        ulong at = m.RunSetupThenFaulting(a => a.xor(eax, eax), a => a.mov(ss, ax), 32);

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(BootData, m.Cpu.GetSegment(SegmentRegister.Ss));
    }

    [Fact]
    public void A_null_ss_at_cpl3_raises_GP0()
    {
        var m = NewMachine();
        ulong at = RunAtCpl3(m, a => a.mov(eax, 3), a => a.mov(ss, ax));

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(Rsp0 - 48, m.Reg(4));
    }

    /// <summary>At CPL 3 a data segment needs DPL 3, whatever the RPL says (DPL &gt;= max(CPL, RPL)).</summary>
    [Fact]
    public void A_dpl0_data_segment_at_cpl3_raises_GP_with_the_selector()
    {
        var m = NewMachine();
        ulong at = RunAtCpl3(m, a => a.mov(eax, TestMachine.Data), a => a.mov(ds, ax));

        m.AssertException(13, at, errorCode: TestMachine.Data);
    }

    /// <summary>A selector with TI = 1 reads the LDT (SDM 3.4.2): its base and limit, and the accessed bit is
    /// written there; selectors beyond the LDT limit are #GP(selector) while the GDT keeps its own limit.</summary>
    [Fact]
    public void Selectors_with_ti_set_read_the_ldt_within_its_limit()
    {
        const ulong ldt = 0x8000;
        var m = NewMachine(TestMachine.Descriptor(ldt, 0x6F, 0x82));
        m.SetDescriptor(0x58, 0);
        m.SetDescriptor(0x78, TestMachine.Descriptor(0x0777_0000, 0xFFFFF, 0x92, 0xC));
        m.Memory.WriteUInt64(ldt + 0x68, TestMachine.Descriptor(0x1234_5000, 0xFFF, 0x92, 0x4));
        m.Memory.WriteUInt64(ldt + 0x70, TestMachine.Descriptor(0, 0xFFFFF, 0x92, 0xC)); // valid, but past the LDT limit
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.mov(eax, Sel);
                a.lldt(ax);
                a.mov(eax, 0x6C);
                a.mov(fs, ax);
                a.mov(eax, 0x78);
                a.mov(gs, ax);
                a.mov(eax, 0x74);
            },
            a => a.mov(ds, ax));

        m.AssertException(13, at, errorCode: 0x74);
        Assert.Equal(new SegmentCache(0x6C, 0x1234_5000, 0xFFF, 0x4093), m.Cpu.GetSegment(SegmentRegister.Fs));
        Assert.Equal(0x93UL, (m.Memory.ReadUInt64(ldt + 0x68) >> 40) & 0xFF);
        Assert.Equal(0UL, AccessByte(m, 0x68)); // the same index in the GDT is left alone
        Assert.Equal(0x0777_0000UL, m.Cpu.GetSegment(SegmentRegister.Gs).Base);
    }

    // ---- Real-address mode ----

    /// <summary>In real-address mode a segment load sets the base to selector * 16 (SDM 20.1.1), and far CALL,
    /// JMP and RET move CS:IP with 16-bit stack slots.</summary>
    [Fact]
    public void Real_mode_segment_loads_and_far_transfers_use_selector_times_16()
    {
        var m = NewMachine();
        m.Cpu.SetControlRegisters(0x10, 0, 0, 0);
        m.Cpu.SetSegment(SegmentRegister.Cs, SegmentCache.RealMode(0, code: true));
        m.Cpu.SetSegment(SegmentRegister.Ss, SegmentCache.RealMode(0, code: false));
        m.Cpu.SetRegister(4, 0x7000);
        m.Cpu.Rip = 0x8000;
        ulong returnIp = m.Load(
            a =>
            {
                a.mov(ax, 0x1234);
                a.mov(ds, ax);
                a.call(0x0900, 0x0010);
            },
            0x8000,
            16);
        m.Load(
            a =>
            {
                a.mov(ax, 0x0A00);
                a.push(ax);
                a.push(0x0020);
                a.retf();
            },
            returnIp,
            16);
        m.Load(
            a =>
            {
                a.mov(bx, cs);
                a.mov(bp, sp);
                a.mov(cx, __word_ptr[bp]);
                a.mov(dx, __word_ptr[bp + 2]);
                a.retf();
            },
            0x9010,
            16);
        m.Load(a => a.jmp(0x0B00, 0x0004), 0xA020, 16);
        m.Load(a => a.hlt(), 0xB004, 16);
        m.RunToHalt();

        Assert.Equal(CpuMode.Real, m.Cpu.Mode);
        Assert.Equal(0x12340UL, m.Cpu.GetSegment(SegmentRegister.Ds).Base);
        Assert.Equal(0x900UL, m.Reg(3) & 0xFFFF);    // CS inside the called procedure
        Assert.Equal(returnIp, m.Reg(1) & 0xFFFF);   // IP, then CS, pushed as words
        Assert.Equal(0UL, m.Reg(2) & 0xFFFF);
        Assert.Equal(0x0B00, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal(0xB000UL, m.Cpu.GetSegment(SegmentRegister.Cs).Base);
        Assert.Equal(5UL, m.Cpu.Rip);
        Assert.Equal(0x7000UL, m.Reg(4) & 0xFFFF);
    }

    // ---- Far transfers in IA-32e mode ----

    private static void FarPointer(TestMachine m, ulong offset, ushort selector, int offsetBytes = 8)
    {
        m.Memory.WriteUInt64(Scratch, offset);
        m.Memory.WriteUInt64(Scratch + (ulong)offsetBytes, selector);
    }

    // JMP m16:64 (REX.W FF /5) through the pointer at Scratch.
    private static void JmpFar64(Assembler a) => a.db(0x48, 0xFF, 0x2C, 0x25, 0x00, 0x00, 0x06, 0x00);

    // CALL m16:64 (REX.W FF /3) through the pointer at Scratch.
    private static void CallFar64(Assembler a) => a.db(0x48, 0xFF, 0x1C, 0x25, 0x00, 0x00, 0x06, 0x00);

    /// <summary>A far JMP through an m16:64 pointer loads CS from the descriptor (setting its accessed bit) and
    /// RIP with all 64 bits of the offset.</summary>
    [Fact]
    public void Far_jmp_through_an_m16_64_pointer_loads_cs_the_full_offset_and_the_accessed_bit()
    {
        const ulong high = 0x1_0000_0000; // linear 4 GiB + x maps to physical x
        var m = NewMachine(TestMachine.Descriptor(0, 0xFFFFF, 0x9A, 0xA));
        m.Memory.WriteUInt64(TestMachine.Pdpt + (4 * 8), TestMachine.Pd | 7);
        FarPointer(m, high + Target, Sel);
        m.Load(a => a.hlt(), Target);
        m.Load(JmpFar64);
        m.RunToHalt();

        Assert.Equal(high + Target + 1, m.Cpu.Rip);
        Assert.Equal(new SegmentCache(Sel, 0, 0xFFFFFFFF, 0xA09B), m.Cpu.GetSegment(SegmentRegister.Cs));
        Assert.Equal(0x9BUL, AccessByte(m, Sel));
        Assert.Equal(CpuMode.Long64, m.Cpu.Mode);
    }

    /// <summary>A far CALL pushes CS then RIP as quadwords; RETF imm16 pops them and releases imm16 more bytes.</summary>
    [Fact]
    public void Far_call_m16_64_pushes_cs_and_rip_and_retf_imm16_releases_the_parameters()
    {
        var m = NewMachine(TestMachine.Descriptor(0, 0xFFFFF, 0x9A, 0xA));
        FarPointer(m, Target, Sel);
        m.Load(
            a =>
            {
                a.mov(rsi, __qword_ptr[rsp]);
                a.mov(rdi, __qword_ptr[rsp + 8]);
                a.mov(rbx, cs);
                a.db(0x48, 0xCA, 0x10, 0x00); // RETFQ 16
            },
            Target);
        ulong returnRip = m.Load(a =>
        {
            a.push(0x1111);
            a.push(0x2222);
            CallFar64(a);
        });
        m.Load(a => a.hlt(), returnRip);
        m.RunToHalt();

        Assert.Equal(returnRip, m.Reg(6));
        Assert.Equal((ulong)TestMachine.Code64, m.Reg(7));
        Assert.Equal((ulong)Sel, m.Reg(3));
        Assert.Equal(TestMachine.StackTop, m.Reg(4));
        Assert.Equal(TestMachine.Code64, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal(returnRip + 1, m.Cpu.Rip);
    }

    /// <summary>A far CALL m16:32 into a 32-bit code segment enters compatibility mode with doubleword slots;
    /// its RETF returns to 64-bit mode; a far JMP ptr16:32 from there enters 64-bit mode too.</summary>
    [Fact]
    public void Far_call_into_compatibility_mode_retf_and_far_jmp_back_to_64_bit_mode()
    {
        const ulong compat = 0x110000;
        var m = NewMachine();
        FarPointer(m, compat, TestMachine.Code32, offsetBytes: 4);
        m.Load(
            a =>
            {
                a.mov(esi, __dword_ptr[esp]);
                a.mov(edi, __dword_ptr[esp + 4]);
                a.retf();
            },
            compat,
            32);
        ulong back = m.Load(a => a.call(__fword_ptr[Scratch]));
        m.Load(
            a =>
            {
                a.mov(r8, rsp);
                a.push(TestMachine.Code32);
                a.push(0x120000);
                a.db(0x48, 0xCB); // RETFQ into compatibility mode
            },
            back);
        m.Load(a => a.jmp(TestMachine.Code64, (uint)Target), 0x120000, 32);
        m.Load(a => a.hlt(), Target);
        m.RunToHalt();

        Assert.Equal(back, m.Reg(6));
        Assert.Equal((ulong)TestMachine.Code64, m.Reg(7));
        Assert.Equal(TestMachine.StackTop, m.Reg(8));
        Assert.Equal(TestMachine.StackTop, m.Reg(4));
        Assert.Equal(CpuMode.Long64, m.Cpu.Mode);
        Assert.Equal(Target + 1, m.Cpu.Rip);
    }

    /// <summary>A conforming code segment may be entered from CPL &gt;= DPL; CPL does not change and CS.RPL
    /// becomes CPL whatever the selector's RPL (SDM 5.8.1.2).</summary>
    [Fact]
    public void Far_jmp_to_conforming_code_keeps_cpl_as_cs_rpl()
    {
        var m = NewMachine(TestMachine.Descriptor(0, 0xFFFFF, 0x9E, 0xA));
        FarPointer(m, Target, (ushort)(Sel | 3));
        m.Load(a => a.hlt(), Target);
        m.Load(JmpFar64);
        m.RunToHalt();

        Assert.Equal(Sel, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal(0, m.Cpu.Cpl);
        Assert.Equal(Target + 1, m.Cpu.Rip);
    }

    /// <summary>What a far JMP refuses (SDM JMP, 5.8.1): not code, non-conforming with DPL != CPL or RPL &gt; CPL,
    /// conforming with DPL &gt; CPL, L and D both set in IA-32e mode, beyond the table: #GP(selector); null:
    /// #GP(0); not present: #NP(selector). CS and RIP stay at the JMP.</summary>
    public static TheoryData<string, ulong, ushort, int, int> JmpRefusals() => new()
    {
        { "data segment", TestMachine.Descriptor(0, 0xFFFFF, 0x92, 0xC), Sel, 13, Sel },
        { "non-conforming DPL 3", TestMachine.Descriptor(0, 0xFFFFF, 0xFA, 0xA), (ushort)(Sel | 3), 13, Sel },
        { "non-conforming RPL 3", TestMachine.Descriptor(0, 0xFFFFF, 0x9A, 0xA), (ushort)(Sel | 3), 13, Sel },
        { "conforming DPL 3", TestMachine.Descriptor(0, 0xFFFFF, 0xFE, 0xA), Sel, 13, Sel },
        { "not present", TestMachine.Descriptor(0, 0xFFFFF, 0x1A, 0xA), Sel, 11, Sel },
        { "L and D both set", TestMachine.Descriptor(0, 0xFFFFF, 0x9A, 0xE), Sel, 13, Sel },
        { "null", TestMachine.Descriptor(0, 0xFFFFF, 0x9A, 0xA), 3, 13, 0 },
        { "beyond the GDT limit", TestMachine.Descriptor(0, 0xFFFFF, 0x9A, 0xA), (ushort)(Sel + 8), 13, Sel + 8 },
    };

    [Theory]
    [MemberData(nameof(JmpRefusals))]
    public void Far_jmp_refuses_a_segment_it_may_not_enter(string why, ulong descriptor, ushort selector, int vector, int errorCode)
    {
        var m = NewMachine(descriptor);
        FarPointer(m, Target, selector);
        m.Load(a => a.hlt(), Target);
        ulong at = m.RunSetupThenFaulting(a => a.nop(), JmpFar64);

        m.AssertException(vector, at, errorCode);
        Assert.True(m.Cpu.GetSegment(SegmentRegister.Cs).Selector == TestMachine.Code64, why);
        Assert.Equal(0UL, AccessByte(m, Sel) & 1);
    }

    /// <summary>Outside IA-32e mode the L bit is not looked at: L = D = 1 is a 32-bit code segment.</summary>
    [Fact]
    public void Outside_ia32e_mode_a_code_descriptor_with_l_and_d_set_is_entered_as_32_bit_code()
    {
        var m = NewMachine(TestMachine.Descriptor(0, 0xFFFFF, 0x9A, 0xE));
        m.EnterProtectedMode32();
        m.Load(a => a.jmp(Sel, (uint)Target), TestMachine.CodeBase, 32);
        m.Load(a => a.hlt(), Target, 32);
        m.RunToHalt();

        Assert.Equal(Sel, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal(CpuMode.Protected32, m.Cpu.Mode);
        Assert.Equal(Target + 1, m.Cpu.Rip);
    }

    [Fact]
    public void Far_jmp_through_a_call_gate_stops_as_unsupported_naming_it()
    {
        var m = NewMachine(0x0000_8C00_0008_0000UL | (Target & 0xFFFF) | ((Target >> 16) << 48));
        FarPointer(m, 0, Sel);
        ulong at = m.Load(a => a.nop());
        m.Load(JmpFar64, at);
        var r = m.Cpu.Run(100);

        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("call gate", r.Unsupported!.Reason, StringComparison.Ordinal);
        Assert.Equal(at, r.Unsupported.Rip);
    }

    /// <summary>What a far RET to the same privilege refuses (SDM RET): not code; conforming with DPL &gt; RPL,
    /// non-conforming with DPL != RPL: #GP(selector); null: #GP(0); not present: #NP(selector).</summary>
    public static TheoryData<string, ulong, ushort, int, int> RetfRefusals() => new()
    {
        { "data segment", TestMachine.Descriptor(0, 0xFFFFF, 0x92, 0xC), Sel, 13, Sel },
        { "conforming DPL 3, RPL 0", TestMachine.Descriptor(0, 0xFFFFF, 0xFE, 0xA), Sel, 13, Sel },
        { "non-conforming DPL 1, RPL 0", TestMachine.Descriptor(0, 0xFFFFF, 0xBA, 0xA), Sel, 13, Sel },
        { "not present", TestMachine.Descriptor(0, 0xFFFFF, 0x1A, 0xA), Sel, 11, Sel },
        { "null", TestMachine.Descriptor(0, 0xFFFFF, 0x9A, 0xA), 0, 13, 0 },
        { "TSS descriptor", TestMachine.Descriptor(TestMachine.Tss, 0x67, 0x89), Sel, 13, Sel },
        { "call gate", 0x0000_8C00_0008_0000UL, Sel, 13, Sel },
    };

    [Theory]
    [MemberData(nameof(RetfRefusals))]
    public void Retf_refuses_a_segment_it_may_not_return_to(string why, ulong descriptor, ushort selector, int vector, int errorCode)
    {
        var m = NewMachine(descriptor);
        m.Load(a => a.hlt(), Target);
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.push(selector);
                a.push((int)Target);
            },
            a => a.db(0x48, 0xCB));

        m.AssertException(vector, at, errorCode);
        Assert.True(m.Cpu.GetSegment(SegmentRegister.Cs).Selector == TestMachine.Code64, why);
    }

    /// <summary>RETFQ to conforming code with DPL &lt;= RPL returns, with all 64 bits of the popped RIP.</summary>
    [Fact]
    public void Retf_to_conforming_code_with_dpl_not_above_rpl_returns()
    {
        const ulong high = 0x1_0000_0000; // linear 4 GiB + x maps to physical x
        var m = NewMachine(TestMachine.Descriptor(0, 0xFFFFF, 0x9E, 0xA));
        m.Memory.WriteUInt64(TestMachine.Pdpt + (4 * 8), TestMachine.Pd | 7);
        m.Load(a => a.hlt(), Target);
        m.Load(a =>
        {
            a.push(Sel);
            a.mov(rax, (long)(high + Target));
            a.push(rax);
            a.db(0x48, 0xCB);
        });
        m.RunToHalt();

        Assert.Equal(Sel, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal(high + Target + 1, m.Cpu.Rip);
        Assert.Equal(0x9FUL, AccessByte(m, Sel));
    }

    /// <summary>A far RET may not return to a more privileged level: RPL &lt; CPL is #GP(selector) (SDM RET).</summary>
    [Fact]
    public void Retf_to_an_inner_privilege_level_raises_GP_with_the_selector()
    {
        var m = NewMachine();
        ulong at = RunAtCpl3(
            m,
            a =>
            {
                a.push(TestMachine.Code64);
                a.push((int)Target);
            },
            a => a.db(0x48, 0xCB));

        m.AssertException(13, at, errorCode: TestMachine.Code64);
        Assert.Equal(Rsp0 - 48, m.Reg(4));
    }

    [Fact]
    public void Retf_to_an_outer_privilege_level_stops_as_unsupported_naming_it()
    {
        var m = NewMachine();
        ulong at = m.Load(a =>
        {
            a.push(TestMachine.UserCode);
            a.push((int)Target);
        });
        m.Load(a => a.db(0x48, 0xCB), at);
        var r = m.Cpu.Run(100);

        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("far return to another privilege level", r.Unsupported!.Reason, StringComparison.Ordinal);
        Assert.Equal(at, r.Unsupported.Rip);
        Assert.Equal(TestMachine.Code64, m.Cpu.GetSegment(SegmentRegister.Cs).Selector);
    }
}
