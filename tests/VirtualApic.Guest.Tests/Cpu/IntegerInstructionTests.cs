// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// Integer instruction forms the native differential tests cannot reach (memory operands, the stack, LOCK,
/// faults, other modes): SDM Vol 2 instruction pages for LOCK, CMPXCHG, BT/BTS/BTR/BTC (memory bit offsets),
/// XCHG, XLAT, MOVZX/MOVSX, ADC/SBB/INC/DEC (RFLAGS bits they leave), CLD/STD, CALL/JMP/RET, PUSH/POP
/// (segment registers, r/m), shifts by zero, SHLD/SHRD, DIV/IDIV (#DE), LOOPcc/JrCXZ (address size),
/// ENTER, SETcc; Vol 1 3.4.3 (RFLAGS) and 6.2.3 (stack width).
/// </summary>
public class IntegerInstructionTests
{
    private const ulong D = 0x200000; // scratch data, identity-mapped and writable
    private const ulong ReadOnly = 0x4000_0000; // a 4 KiB page mapped supervisor read-only (CR0.WP = 1)
    private const ulong Cf = 1, Zf = 0x40, Df = 0x400, If = 0x200;

    private static TestMachine Machine()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.Map4K(ReadOnly, 0x300000, 0x1);
        return m;
    }

    /// <summary>Loads BODY then HLT at CodeBase and runs to a halt; returns the address just after BODY.</summary>
    private static ulong Run(TestMachine m, Action<Assembler> body)
    {
        ulong end = m.Load(body);
        m.Load(a => a.hlt(), end);
        m.RunToHalt();
        return end;
    }

    private static void AssertRanToEnd(TestMachine m, ulong end) =>
        Assert.True(m.Cpu.Rip == end + 1, $"expected the final HLT at 0x{end:x}, stopped at 0x{m.Cpu.Rip:x} (vector {m.HaltedInVector})");

    // ---- LOCK ----

    public static TheoryData<string, byte[], bool> LockCases() => new()
    {
        { "lock add [D], ecx", [0xF0, 0x01, 0x0C, 0x25, 0x00, 0x00, 0x20, 0x00], true },
        { "lock btc dword [D], ecx", [0xF0, 0x0F, 0xBB, 0x0C, 0x25, 0x00, 0x00, 0x20, 0x00], true },
        { "lock xchg [D], ecx", [0xF0, 0x87, 0x0C, 0x25, 0x00, 0x00, 0x20, 0x00], true },
        { "lock add eax, ecx (register destination)", [0xF0, 0x01, 0xC8], false },
        { "lock mov [D], ecx (MOV is not lockable)", [0xF0, 0x89, 0x0C, 0x25, 0x00, 0x00, 0x20, 0x00], false },
        { "lock cmp [D], ecx (CMP is not lockable)", [0xF0, 0x39, 0x0C, 0x25, 0x00, 0x00, 0x20, 0x00], false },
        { "lock nop (no operand)", [0xF0, 0x90], false },
    };

    [Theory]
    [MemberData(nameof(LockCases))]
    public void Lock_is_ud_unless_the_instruction_is_lockable_and_its_destination_is_memory(string name, byte[] code, bool valid)
    {
        var m = Machine();
        m.Memory.WriteUInt32(D, 5);
        m.Cpu.SetRegister(1, 2);
        ulong end = Run(m, a => a.db(code));
        if (valid)
        {
            AssertRanToEnd(m, end);
        }
        else
        {
            m.AssertException(6, TestMachine.CodeBase);
            Assert.True(m.Memory.ReadUInt32(D) == 5, name);
        }
    }

    // ---- CMPXCHG, XCHG, BT* on memory ----

    [Fact]
    public void Cmpxchg_register_form_that_fails_loads_the_accumulator_and_writes_no_memory()
    {
        var m = Machine();
        m.Memory.WriteUInt64(0, 0x1111_2222_3333_4444);
        Run(m, a =>
        {
            a.mov(eax, 7);
            a.mov(ecx, 9);
            a.mov(edx, 0x55);
            a.cmpxchg(ecx, edx);
        });
        Assert.Equal(9UL, m.Reg(0));
        Assert.Equal(9UL, m.Reg(1));
        Assert.Equal(0UL, m.Cpu.Rflags & Zf);
        Assert.Equal(0x1111_2222_3333_4444UL, m.Memory.ReadUInt64(0));
    }

    [Fact]
    public void Cmpxchg_to_read_only_memory_faults_as_a_write_even_when_the_compare_fails()
    {
        // SDM CMPXCHG: the destination receives a write cycle whatever the comparison's result.
        var m = Machine();
        m.Memory.WriteUInt32(0x300000, 9);
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.mov(eax, 7);
                a.mov(edx, 0x55);
                a.mov(rbx, ReadOnly);
            },
            a => a.cmpxchg(__dword_ptr[rbx], edx));
        m.AssertException(14, at, errorCode: 3);
        Assert.Equal(ReadOnly, m.Cpu.Cr2);
        Assert.Equal(7UL, m.Reg(0));
    }

    [Fact]
    public void Cmpxchg_writes_the_destination_back_when_the_compare_fails()
    {
        // SDM CMPXCHG: the destination receives a write cycle whatever the comparison's result; on a
        // device page that write is visible.
        var m = Machine();
        const ulong Mmio = 0x400000;
        m.Host.MmioPages.Add(Mmio);
        m.Host.MmioValues[Mmio] = 9;
        m.Host.MmioValues[Mmio + 8] = 9; // equal to EAX after the first (failed) compare
        Run(m, a =>
        {
            a.mov(eax, 7);
            a.mov(edx, 0x55);
            a.cmpxchg(__dword_ptr[Mmio], edx);
            a.mov(ebx, eax);
            a.cmpxchg(__dword_ptr[Mmio + 8], edx);
        });
        Assert.Equal([(Mmio, 9UL, 4), (Mmio + 8, 0x55UL, 4)], m.Host.MmioWrites);
        Assert.Equal(9UL, m.Reg(3));
    }

    [Fact]
    public void Cmp_test_and_bt_only_read_memory_so_read_only_pages_do_not_fault()
    {
        var m = Machine();
        m.Memory.WriteUInt32(0x300000, 0x10);
        ulong end = Run(m, a =>
        {
            a.mov(rbx, ReadOnly);
            a.mov(ecx, 4);
            a.cmp(__dword_ptr[rbx], ecx);
            a.setae(dl);
            a.test(__dword_ptr[rbx], ecx);
            a.bt(__dword_ptr[rbx], ecx);
            a.setb(dh);
        });
        AssertRanToEnd(m, end);
        Assert.Equal(0x0101UL, m.Reg(2) & 0xFFFF);
    }

    [Fact]
    public void Bts_on_read_only_memory_faults_as_a_write()
    {
        var m = Machine();
        ulong at = m.RunSetupThenFaulting(a => a.mov(rbx, ReadOnly), a => a.bts(__dword_ptr[rbx], 3));
        m.AssertException(14, at, errorCode: 3);
    }

    // Bit string in memory: a register bit offset is signed and selects an operand-sized unit at
    // base + (offset SAR log2(bits)) * size; an immediate offset is taken modulo the operand size (SDM BT).
    public static TheoryData<string, int, long, ulong, int> BitCases() => new()
    {
        { "bts", 4, 35, D + 4, 3 },
        { "bts", 4, -1, D - 4, 31 },
        { "bts", 4, -33, D - 8, 31 },
        { "btr", 2, 17, D + 2, 1 },
        { "btr", 2, -2, D - 2, 14 },
        { "btc", 8, 130, D + 16, 2 },
        { "btc", 8, -65, D - 16, 63 },
        { "bt", 4, 64 + 5, D + 8, 5 },
    };

    [Theory]
    [MemberData(nameof(BitCases))]
    public void Bit_test_with_a_register_offset_addresses_the_bit_string_beyond_the_operand(string op, int size, long offset, ulong unit, int bit)
    {
        var m = Machine();
        const ulong Pattern = 0x5A5A_5A5A_5A5A_5A5A;
        for (ulong p = D - 32; p < D + 32; p += 8)
        {
            m.Memory.WriteUInt64(p, Pattern);
        }

        m.Cpu.SetRegister(1, (ulong)offset);
        m.Cpu.SetRegister(3, D);
        Run(m, a => EmitBitOp(a, op, size, imm: -1));
        ulong before = (Pattern >> (8 * (int)(unit & 7))) & SizeMaskOf(size);
        ulong after = m.Memory.ReadUInt64(unit & ~7UL) >> (8 * (int)(unit & 7)) & SizeMaskOf(size);
        ulong b = 1UL << bit;
        ulong expected = op switch { "bts" => before | b, "btr" => before & ~b, "btc" => before ^ b, _ => before };
        Assert.Equal(expected, after);
        Assert.Equal((before & b) != 0 ? Cf : 0, m.Cpu.Rflags & Cf);

        // Everything else in the window is unchanged.
        for (ulong p = D - 32; p < D + 32; p += 8)
        {
            if (p != (unit & ~7UL))
            {
                Assert.Equal(Pattern, m.Memory.ReadUInt64(p));
            }
        }
    }

    [Theory]
    [InlineData("bts", 2, 19)]
    [InlineData("btr", 4, 35)]
    [InlineData("btc", 8, 70)]
    [InlineData("bt", 4, 37)]
    public void Bit_test_with_an_immediate_offset_stays_inside_the_operand(string op, int size, int imm)
    {
        var m = Machine();
        m.Memory.WriteUInt64(D, 0x5A5A_5A5A_5A5A_5A5A);
        m.Memory.WriteUInt64(D + 8, 0x5A5A_5A5A_5A5A_5A5A);
        m.Cpu.SetRegister(3, D);
        Run(m, a => EmitBitOp(a, op, size, imm));
        int bit = imm & ((8 * size) - 1);
        ulong b = 1UL << bit;
        ulong before = 0x5A5A_5A5A_5A5A_5A5A;
        ulong expected = op switch { "bts" => before | b, "btr" => before & ~b, "btc" => before ^ b, _ => before };
        Assert.Equal(expected, m.Memory.ReadUInt64(D));
        Assert.Equal(0x5A5A_5A5A_5A5A_5A5AUL, m.Memory.ReadUInt64(D + 8));
        Assert.Equal((before & b) != 0 ? Cf : 0, m.Cpu.Rflags & Cf);
    }

    private static ulong SizeMaskOf(int size) => size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;

    private static void EmitBitOp(Assembler a, string op, int size, int imm)
    {
        // RBX points at the bit string, RCX/ECX/CX holds a register offset (imm < 0) else an immediate.
        var mem = size switch { 2 => __word_ptr[rbx], 4 => __dword_ptr[rbx], _ => __qword_ptr[rbx] };
        if (imm >= 0)
        {
            switch (op)
            {
                case "bt": a.bt(mem, (byte)imm); break;
                case "bts": a.bts(mem, (byte)imm); break;
                case "btr": a.btr(mem, (byte)imm); break;
                default: a.btc(mem, (byte)imm); break;
            }

            return;
        }

        switch (size)
        {
            case 2:
                switch (op)
                {
                    case "bt": a.bt(__word_ptr[rbx], cx); break;
                    case "bts": a.bts(__word_ptr[rbx], cx); break;
                    case "btr": a.btr(__word_ptr[rbx], cx); break;
                    default: a.btc(__word_ptr[rbx], cx); break;
                }

                break;
            case 4:
                switch (op)
                {
                    case "bt": a.bt(__dword_ptr[rbx], ecx); break;
                    case "bts": a.bts(__dword_ptr[rbx], ecx); break;
                    case "btr": a.btr(__dword_ptr[rbx], ecx); break;
                    default: a.btc(__dword_ptr[rbx], ecx); break;
                }

                break;
            default:
                switch (op)
                {
                    case "bt": a.bt(__qword_ptr[rbx], rcx); break;
                    case "bts": a.bts(__qword_ptr[rbx], rcx); break;
                    case "btr": a.btr(__qword_ptr[rbx], rcx); break;
                    default: a.btc(__qword_ptr[rbx], rcx); break;
                }

                break;
        }
    }

    [Fact]
    public void Xchg_with_memory_swaps_in_both_operand_orders()
    {
        var m = Machine();
        m.Memory.WriteUInt64(D, 0x1111_2222_3333_4444);
        m.Memory.WriteUInt64(D + 8, 0xAAAA_BBBB_CCCC_DDDD);
        Run(m, a =>
        {
            a.mov(rcx, 0x5555_6666_7777_8888);
            a.mov(rdx, 0x9999_0000_9999_0000);
            a.xchg(__qword_ptr[D], rcx);
            a.db(0x87, 0x14, 0x25, 0x08, 0x00, 0x20, 0x00); // xchg [D+8], edx (32-bit: zero-extends EDX)
        });
        Assert.Equal(0x1111_2222_3333_4444UL, m.Reg(1));
        Assert.Equal(0x5555_6666_7777_8888UL, m.Memory.ReadUInt64(D));
        Assert.Equal(0xCCCC_DDDDUL, m.Reg(2));
        Assert.Equal(0xAAAA_BBBB_9999_0000UL, m.Memory.ReadUInt64(D + 8));
    }

    [Fact]
    public void Xlat_reads_the_byte_at_rbx_plus_unsigned_al_with_the_address_size()
    {
        var m = Machine();
        for (int i = 0; i < 256; i++)
        {
            m.Memory.Write(D + (ulong)i, [(byte)(i ^ 0xA5)]);
        }

        Run(m, a =>
        {
            a.mov(rbx, D);
            a.mov(eax, 0x1234_56F0);
            a.xlatb();
            a.mov(ecx, eax);
            a.mov(rbx, 0x1_0000_0000 + D); // with a 32-bit address size only EBX counts
            a.mov(eax, 0x10);
            a.db(0x67, 0xD7);
        });
        Assert.Equal(0x1234_5600UL | (0xF0 ^ 0xA5), m.Reg(1));
        Assert.Equal(0x10UL ^ 0xA5, m.Reg(0));
    }

    [Fact]
    public void Movzx_and_movsx_from_memory_read_the_source_width()
    {
        var m = Machine();
        m.Memory.WriteUInt64(D, 0xFFFF_FFFF_FFFF_8081);
        Run(m, a =>
        {
            a.mov(rax, -1);
            a.movzx(eax, __byte_ptr[D]);
            a.movsx(rbx, __word_ptr[D]);
            a.movsx(ecx, __byte_ptr[D + 1]);
            a.movsxd(rdx, __dword_ptr[D]);
        });
        Assert.Equal(0x81UL, m.Reg(0));
        Assert.Equal(0xFFFF_FFFF_FFFF_8081UL, m.Reg(3));
        Assert.Equal(0xFFFF_FF80UL, m.Reg(1));
        Assert.Equal(0xFFFF_FFFF_FFFF_8081UL, m.Reg(2));
    }

    // ---- RFLAGS bits outside the arithmetic ones ----

    [Theory]
    [InlineData("adc")]
    [InlineData("sbb")]
    [InlineData("inc")]
    [InlineData("dec")]
    [InlineData("adc mem")]
    [InlineData("sbb mem")]
    public void Arithmetic_keeps_df_and_if_and_adc_sbb_write_memory(string op)
    {
        var m = Machine();
        m.Memory.WriteUInt64(D, 100);
        m.Cpu.Rflags = 2 | If;
        m.Cpu.SetRegister(0, 100);
        Run(m, a =>
        {
            a.std();
            a.stc();
            switch (op)
            {
                case "adc": a.adc(rax, 5); break;
                case "sbb": a.sbb(rax, 5); break;
                case "inc": a.inc(rax); break;
                case "dec": a.dec(rax); break;
                case "adc mem": a.adc(__qword_ptr[D], 5); break;
                default: a.sbb(__qword_ptr[D], 5); break;
            }
        });
        ulong expected = op switch { "adc" or "adc mem" => 106, "sbb" or "sbb mem" => 94, "inc" => 101, _ => 99 };
        Assert.Equal(expected, op.EndsWith("mem", StringComparison.Ordinal) ? m.Memory.ReadUInt64(D) : m.Reg(0));
        Assert.Equal(Df | If, m.Cpu.Rflags & (Df | If));
        ulong cf = op is "inc" or "dec" ? Cf : 0; // INC/DEC keep CF; ADC/SBB here carry nothing out
        Assert.Equal(cf, m.Cpu.Rflags & Cf);
    }

    [Theory]
    [InlineData("adc")]
    [InlineData("sbb")]
    [InlineData("inc")]
    [InlineData("dec")]
    public void Arithmetic_leaves_clear_system_flags_clear(string op)
    {
        var m = Machine();
        m.Cpu.Rflags = 2;
        Run(m, a =>
        {
            a.stc();
            switch (op)
            {
                case "adc": a.adc(rax, 5); break;
                case "sbb": a.sbb(rax, 5); break;
                case "inc": a.inc(rax); break;
                default: a.dec(rax); break;
            }

            a.pushfq();
            a.pop(rbx);
        });
        Assert.Equal(2UL, m.Reg(3) & ~0x8D5UL);
    }

    [Fact]
    public void Std_and_cld_change_only_df()
    {
        var m = Machine();
        m.Cpu.Rflags = 0x8D5 | If; // every arithmetic flag and IF
        Run(m, a =>
        {
            a.std();
            a.std();
            a.pushfq();
            a.pop(rbx);
            a.cld();
            a.cld();
            a.pushfq();
            a.pop(rcx);
        });
        Assert.Equal(0x8D5 | If | Df | 2, m.Reg(3));
        Assert.Equal(0x8D5 | If | 2, m.Reg(1));
    }

    [Fact]
    public void Bsf_and_bsr_of_zero_set_zf()
    {
        var m = Machine();
        Run(m, a =>
        {
            a.xor(ebx, ebx);
            a.mov(ecx, 1);
            a.test(ecx, ecx); // ZF = 0 going in
            a.bsf(rax, rbx);
            a.setz(dl);
            a.test(ecx, ecx);
            a.bsr(eax, ebx);
            a.setz(dh);
        });
        Assert.Equal(0x0101UL, m.Reg(2) & 0xFFFF);
    }

    [Fact]
    public void Setcc_writes_a_byte_to_memory()
    {
        var m = Machine();
        m.Memory.WriteUInt64(D, ulong.MaxValue);
        Run(m, a =>
        {
            a.xor(eax, eax);
            a.sete(__byte_ptr[D]);
            a.setne(__byte_ptr[D + 1]);
        });
        Assert.Equal(0xFFFF_FFFF_FFFF_0001UL, m.Memory.ReadUInt64(D));
    }

    // ---- control transfers and the stack ----

    [Fact]
    public void Call_through_a_register_or_memory_pushes_the_return_address_and_jmp_does_not()
    {
        var m = Machine();
        const ulong Fn = 0x140000, Fn2 = 0x141000, Target = 0x142000;
        m.Load(a => { a.mov(rsi, rsp); a.ret(); }, Fn);
        m.Load(a => { a.mov(rdi, rsp); a.ret(); }, Fn2);
        m.Load(a => { a.mov(rbp, rsp); a.jmp(__qword_ptr[D + 8]); }, Target);
        m.Memory.WriteUInt64(D, Fn2);
        m.Memory.WriteUInt64(D + 8, Target + 0x100);
        m.Load(a => { a.mov(r8, rsp); a.hlt(); }, Target + 0x100);
        ulong afterCalls = m.Load(a =>
        {
            a.mov(rax, Fn);
            a.call(rax);
            a.call(__qword_ptr[D]);
        });
        m.Load(
            a =>
            {
                a.mov(rax, Target);
                a.jmp(rax);
            },
            afterCalls);
        m.RunToHalt();
        Assert.Equal(Target + 0x104, m.Cpu.Rip); // after MOV R8, RSP and HLT
        Assert.Equal(TestMachine.StackTop - 8, m.Reg(6));
        Assert.Equal(TestMachine.StackTop - 8, m.Reg(7));
        Assert.Equal(TestMachine.StackTop, m.Reg(5));
        Assert.Equal(TestMachine.StackTop, m.Reg(8));
        Assert.Equal(afterCalls, m.Memory.ReadUInt64(TestMachine.StackTop - 8)); // pushed by "call [D]"
    }

    [Fact]
    public void Ret_imm16_releases_that_many_bytes_after_popping_the_return_address()
    {
        var m = Machine();
        const ulong Fn = 0x140000;
        m.Load(a => a.ret(24), Fn);
        Run(m, a =>
        {
            a.sub(rsp, 24);
            a.call((ulong)Fn);
            a.mov(rbx, rsp);
        });
        Assert.Equal(TestMachine.StackTop, m.Reg(3));
    }

    [Fact]
    public void Push_and_pop_fs_gs_move_the_selector_with_the_operand_size()
    {
        var m = Machine();
        m.Memory.WriteUInt64(D, ulong.MaxValue);
        Run(m, a =>
        {
            a.mov(eax, TestMachine.UserData);
            a.mov(fs, eax);
            a.push(fs);
            a.pop(rbx); // 8 bytes pushed
            a.mov(rcx, rsp);
            a.push(TestMachine.Data16);
            a.pop(gs);
            a.mov(rdx, rsp);
            a.mov(eax, gs);
            a.db(0x66, 0x0F, 0xA0); // push fs with a 16-bit operand size: 2 bytes
            a.mov(rsi, rsp);
            a.pop(__word_ptr[D]);
            a.push(gs);
            a.pop(r9);
        });
        Assert.Equal((ulong)TestMachine.UserData, m.Reg(3) & 0xFFFF); // the slot's upper bytes: zero or left as they were (SDM PUSH)
        Assert.Equal(TestMachine.StackTop, m.Reg(1));
        Assert.Equal(TestMachine.StackTop, m.Reg(2));
        Assert.Equal((ulong)TestMachine.Data16, m.Reg(0));
        Assert.Equal(TestMachine.StackTop - 2, m.Reg(6));
        Assert.Equal(TestMachine.StackTop, m.Reg(4));
        Assert.Equal(0xFFFF_FFFF_FFFF_0000UL | TestMachine.UserData, m.Memory.ReadUInt64(D));
        Assert.Equal((ulong)TestMachine.Data16, m.Reg(9) & 0xFFFF);
    }

    [Fact]
    public void Pop_to_memory_addresses_with_the_incremented_rsp()
    {
        // SDM POP: with RSP as base register, the address is computed after the increment.
        var m = Machine();
        Run(m, a =>
        {
            a.push(0x1234);
            a.push(0x5678);
            a.pop(__qword_ptr[rsp]);
            a.mov(rbx, __qword_ptr[rsp]);
            a.mov(rcx, rsp);
        });
        Assert.Equal(0x5678UL, m.Reg(3));
        Assert.Equal(TestMachine.StackTop - 8, m.Reg(1));
    }

    [Fact]
    public void Pop_to_memory_that_faults_leaves_rsp_unchanged()
    {
        var m = Machine();
        ulong at = m.RunSetupThenFaulting(a => a.push(0x77), a => a.pop(__qword_ptr[ReadOnly]));
        m.AssertException(14, at, errorCode: 3);
        Assert.Equal(TestMachine.StackTop - 8, m.StackSlot(4)); // the interrupted RSP in the frame
    }

    [Fact]
    public void Sixty_four_bit_mode_uses_rsp_whatever_ss_b_says()
    {
        var m = Machine();
        m.Cpu.SetSegment(SegmentRegister.Ss, new SegmentCache(TestMachine.Data, 0, 0xFFFFFFFF, 0x0093));
        Run(m, a =>
        {
            a.mov(rax, 0x0102_0304_0506_0708);
            a.push(rax);
        });
        Assert.Equal(TestMachine.StackTop - 8, m.Reg(4));
        Assert.Equal(0x0102_0304_0506_0708UL, m.Memory.ReadUInt64(TestMachine.StackTop - 8));
    }

    [Theory]
    [InlineData(0xC093, 0x0001_0004UL, 0x0001_0000UL, 0x0001_0000UL)]
    [InlineData(0x0093, 0x0001_0004UL, 0x0001_0000UL, 0x0000UL)]
    [InlineData(0x0093, 0x0001_0002UL, 0x0001_FFFEUL, 0xFFFEUL)]
    public void Legacy_stack_width_follows_ss_b(int ssAttributes, ulong esp, ulong espAfter, ulong writtenAt)
    {
        // SDM Vol 1 6.2.3: with SS.B = 0 only SP moves and bits 31:16 of ESP are kept.
        var m = Machine();
        m.EnterProtectedMode32();
        m.Cpu.SetSegment(SegmentRegister.Ss, new SegmentCache(TestMachine.Data16, 0, 0xFFFFF, (ushort)ssAttributes));
        m.Cpu.SetRegister(4, esp);
        m.Memory.WriteUInt64(writtenAt, 0);
        m.Load(a => { a.mov(eax, 0xCAFEBABE); a.push(eax); a.hlt(); }, bitness: 32);
        m.RunToHalt();
        Assert.Equal(espAfter, m.Reg(4));
        Assert.Equal(0xCAFEBABEUL, m.Memory.ReadUInt32(writtenAt));
    }

    [Fact]
    public void Near_indirect_jmp_and_call_with_32_and_16_bit_operands_in_compatibility_mode()
    {
        var m = Machine();
        m.EnterCompatibilityMode();
        const ulong Low = 0xA000; // a 16-bit target must be below 64 KiB
        m.Memory.WriteUInt32(D, 0x140000);
        m.Memory.WriteUInt32(D + 4, (uint)Low);
        m.Load(a => { a.mov(esi, esp); a.jmp(__dword_ptr[D + 4]); }, 0x140000, 32);
        m.Load(a => { a.mov(edi, esp); a.db(0x66, 0xFF, 0x25, 0x0C, 0x00, 0x20, 0x00); }, Low, 32); // jmp word [D+12]
        m.Memory.WriteUInt32(D + 12, (uint)Low + 0x200);
        m.Load(a => a.hlt(), Low + 0x200, 32);
        m.Load(
            a =>
            {
                a.call(__dword_ptr[D]);
                a.hlt();
            },
            TestMachine.CodeBase,
            32);
        m.RunToHalt();
        Assert.Equal(Low + 0x201, m.Cpu.Rip);
        Assert.Equal(TestMachine.StackTop - 4, m.Reg(6));
        Assert.Equal(TestMachine.StackTop - 4, m.Reg(7));
        Assert.Equal(TestMachine.CodeBase + 6, m.Memory.ReadUInt32(TestMachine.StackTop - 4));

        // CALL word [m16]: a 2-byte return address, IP truncated to 16 bits.
        var c = Machine();
        c.EnterCompatibilityMode();
        c.Memory.WriteUInt32(D, (uint)Low + 0x100);
        c.Load(a => { a.mov(ebp, esp); a.hlt(); }, Low + 0x100, 32);
        c.Load(a => { a.db(0x66, 0xFF, 0x15, 0x00, 0x00, 0x20, 0x00); a.hlt(); }, Low, 32);
        c.Cpu.Rip = Low;
        c.RunToHalt();
        Assert.Equal(Low + 0x103, c.Cpu.Rip); // after MOV EBP, ESP and HLT
        Assert.Equal(TestMachine.StackTop - 2, c.Reg(5));
        Assert.Equal((ushort)(Low + 7), (ushort)c.Memory.ReadUInt32(TestMachine.StackTop - 2));
    }

    [Fact]
    public void Pop_es_in_compatibility_mode_loads_es()
    {
        var m = Machine();
        m.EnterCompatibilityMode();
        m.Load(
            a =>
            {
                a.push(TestMachine.Data16);
                a.pop(es);
                a.mov(eax, es);
                a.mov(ebx, esp);
                a.hlt();
            },
            TestMachine.CodeBase,
            32);
        m.RunToHalt();
        Assert.Equal((ulong)TestMachine.Data16, m.Reg(0) & 0xFFFF);
        Assert.Equal(TestMachine.StackTop, m.Reg(3));
    }

    [Fact]
    public void Enter_with_a_nesting_level_stops_as_unsupported()
    {
        var m = Machine();
        m.Load(a => { a.enter(16, 2); a.hlt(); });
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("ENTER with a nesting level", r.Unsupported!.Reason, StringComparison.Ordinal);
        Assert.Equal(TestMachine.CodeBase, r.Unsupported.Rip);
    }

    // ---- shifts ----

    [Fact]
    public void Shifts_by_a_masked_zero_count_leave_memory_and_flags_alone()
    {
        var m = Machine();
        m.Memory.WriteUInt64(D, 0x8000_0001_8000_0001);
        m.Cpu.Rflags = 2 | 0x8D5;
        ulong end = Run(m, a =>
        {
            a.mov(ecx, 32); // masked to 0 for 32-bit operands
            a.shl(__dword_ptr[D], cl);
            a.sar(__dword_ptr[D + 4], cl);
            a.shld(__dword_ptr[D], edx, cl);
            a.shrd(__dword_ptr[D + 4], edx, cl);
            a.pushfq();
            a.pop(rbx);
        });
        AssertRanToEnd(m, end);
        Assert.Equal(0x8000_0001_8000_0001UL, m.Memory.ReadUInt64(D));
        Assert.Equal(2 | 0x8D5UL, m.Reg(3) & ~If);
    }

    [Fact]
    public void Shld_of_a_word_by_more_than_16_stops_as_unsupported()
    {
        // SDM SHLD: a count greater than the operand size leaves the result and flags undefined.
        var m = Machine();
        m.Load(a => { a.mov(ecx, 20); a.shld(ax, bx, cl); a.hlt(); });
        var r = m.Cpu.Run(100);
        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("SHLD/SHRD", r.Unsupported!.Reason, StringComparison.Ordinal);
    }

    // ---- DIV / IDIV ----

    // (signed, operand bytes, RDX:RAX dividend (AX for bytes), divisor, #DE expected, RAX after, RDX after)
    public static TheoryData<bool, int, ulong, ulong, ulong, bool, ulong, ulong> DivCases() => new()
    {
        { false, 1, 0, 0x0100, 0, true, 0, 0 },
        { false, 1, 0, 0x0100, 1, true, 0, 0 },
        { false, 1, 0, 0x00FF, 1, false, 0x00FF, 0 },
        { false, 4, 1, 0, 1, true, 0, 0 },
        { false, 8, 0, 5, 0, true, 0, 0 },
        { true, 1, 0, 0xFF80, 1, false, 0x0080, 0 },
        { true, 1, 0, 0xFF7F, 1, true, 0, 0 },
        { true, 1, 0, 0x0080, 1, true, 0, 0 },
        { true, 1, 0, 0x007F, 1, false, 0x007F, 0 },
        { true, 2, 0xFFFF, 0x8000, 1, false, 0x8000, 0 },
        { true, 2, 0xFFFF, 0x7FFF, 1, true, 0, 0 },
        { true, 4, 0xFFFF_FFFF, 0x8000_0000, 1, false, 0x8000_0000, 0 },
        { true, 4, 0xFFFF_FFFF, 0x7FFF_FFFF, 1, true, 0, 0 },
        { true, 4, 0, 0x8000_0000, 1, true, 0, 0 },
        { true, 8, ulong.MaxValue, 0x8000_0000_0000_0000, 1, false, 0x8000_0000_0000_0000, 0 },
        { true, 8, ulong.MaxValue, 0x8000_0000_0000_0000, ulong.MaxValue, true, 0, 0 },
        { true, 8, ulong.MaxValue, 0x7FFF_FFFF_FFFF_FFFF, 1, true, 0, 0 },
        { true, 4, 0, 7, 0, true, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(DivCases))]
    public void Divide_raises_de_for_a_zero_divisor_or_a_quotient_out_of_range(bool signed, int size, ulong rdx, ulong rax, ulong divisor, bool de, ulong raxAfter, ulong rdxAfter)
    {
        var m = Machine();
        m.Cpu.SetRegister(2, rdx);
        m.Cpu.SetRegister(0, rax);
        m.Cpu.SetRegister(3, divisor);
        ulong at = m.RunSetupThenFaulting(
            _ => { },
            a =>
            {
                switch (size)
                {
                    case 1: if (signed) { a.idiv(bl); } else { a.div(bl); } break;
                    case 2: if (signed) { a.idiv(bx); } else { a.div(bx); } break;
                    case 4: if (signed) { a.idiv(ebx); } else { a.div(ebx); } break;
                    default: if (signed) { a.idiv(rbx); } else { a.div(rbx); } break;
                }
            });
        if (de)
        {
            m.AssertException(0, at);
            Assert.Equal(rax, m.Reg(0)); // a fault: nothing was written
            Assert.Equal(rdx, m.Reg(2));
            return;
        }

        Assert.Equal(-1, m.HaltedInVector);
        ulong mask = size switch { 1 => 0xFFFF, 2 => 0xFFFF, 4 => 0xFFFF_FFFF, _ => ulong.MaxValue };
        Assert.Equal(raxAfter, m.Reg(0) & mask);
        if (size > 1)
        {
            Assert.Equal(rdxAfter, m.Reg(2) & mask);
        }
    }

    // ---- LOOP, LOOPE, LOOPNE, JCXZ/JECXZ with the address size (and 66h in 32-bit code) ----

    // Each case: the prefixes and opcode (rel8 = +1 over a HLT), bitness, the count width the SDM selects
    // (the address size), and whether ZF satisfies the condition (LOOPE needs 1, LOOPNE 0).
    public static TheoryData<string, byte[], int, int> LoopCases() => new()
    {
        { "loop (64)", [0xE2], 64, 8 },
        { "loope (64)", [0xE1], 64, 8 },
        { "loopne (64)", [0xE0], 64, 8 },
        { "jrcxz", [0xE3], 64, 8 },
        { "loop ecx (64)", [0x67, 0xE2], 64, 4 },
        { "loope ecx (64)", [0x67, 0xE1], 64, 4 },
        { "loopne ecx (64)", [0x67, 0xE0], 64, 4 },
        { "jecxz (64)", [0x67, 0xE3], 64, 4 },
        { "loop (32)", [0xE2], 32, 4 },
        { "loope (32)", [0xE1], 32, 4 },
        { "loopne (32)", [0xE0], 32, 4 },
        { "jecxz (32)", [0xE3], 32, 4 },
        { "loop cx (32)", [0x67, 0xE2], 32, 2 },
        { "loope cx (32)", [0x67, 0xE1], 32, 2 },
        { "loopne cx (32)", [0x67, 0xE0], 32, 2 },
        { "jcxz (32)", [0x67, 0xE3], 32, 2 },
        { "loop o16 (32)", [0x66, 0xE2], 32, 4 },
        { "loope o16 (32)", [0x66, 0xE1], 32, 4 },
        { "loopne o16 (32)", [0x66, 0xE0], 32, 4 },
        { "jecxz o16 (32)", [0x66, 0xE3], 32, 4 },
        { "loop o16 cx (32)", [0x66, 0x67, 0xE2], 32, 2 },
        { "loope o16 cx (32)", [0x66, 0x67, 0xE1], 32, 2 },
        { "loopne o16 cx (32)", [0x66, 0x67, 0xE0], 32, 2 },
        { "jcxz o16 (32)", [0x66, 0x67, 0xE3], 32, 2 },
    };

    [Theory]
    [MemberData(nameof(LoopCases))]
    public void Loop_and_jcxz_count_in_the_register_the_address_size_selects(string name, byte[] op, int bitness, int width)
    {
        bool jcxz = op[^1] == 0xE3;
        bool loope = op[^1] == 0xE1;
        bool loopne = op[^1] == 0xE0;

        // Counts chosen so that the CX, ECX and RCX readings all differ in outcome.
        ulong[] counts = [0x1_0001_0001, 0x1_0000_0001, 0x1_0001_0000, 0x1_0000_0000, 2, 1, 0];
        foreach (ulong rcx in counts)
        {
            foreach (bool zf in new[] { false, true })
            {
                ulong mask = width == 8 ? ulong.MaxValue : (1UL << (8 * width)) - 1;
                ulong count = rcx & mask;
                bool taken;
                ulong rcxAfter;
                if (jcxz)
                {
                    taken = count == 0;
                    rcxAfter = rcx;
                }
                else
                {
                    ulong dec = (count - 1) & mask;
                    rcxAfter = width switch { 8 => dec, 4 => dec, _ => (rcx & ~0xFFFFUL) | dec };
                    taken = dec != 0 && (!loope || zf) && (!loopne || !zf);
                }

                var m = Machine();
                if (bitness == 32)
                {
                    m.EnterCompatibilityMode();
                }

                const ulong Low = 0xA000; // 66h truncates the target to 16 bits: keep the code below 64 KiB
                m.Memory.Write(Low, [.. op, 0x01, 0xF4, 0xF4]);
                m.Cpu.Rip = Low;
                m.Cpu.SetRegister(1, rcx);
                m.Cpu.Rflags = 2 | (zf ? Zf : 0);
                m.RunToHalt();
                ulong end = Low + (ulong)op.Length + 2;
                string ctx = $"{name} rcx={rcx:X} zf={zf}";
                Assert.True((taken ? end + 1 : end) == m.Cpu.Rip, $"{ctx}: expected {(taken ? "taken" : "not taken")}, rip 0x{m.Cpu.Rip:x}");
                ulong seen = bitness == 32 ? m.Reg(1) & 0xFFFF_FFFF : m.Reg(1);
                ulong want = bitness == 32 ? rcxAfter & 0xFFFF_FFFF : rcxAfter;
                Assert.True(want == seen, $"{ctx}: rcx 0x{seen:X}, expected 0x{want:X}");
            }
        }
    }
}
