// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// Event delivery through the IDT in 64-bit mode (SDM Vol 3 6.10-6.14 and the INT n pseudo-code in Vol 2):
/// the IDT limit per gate size, gate type, DPL and present checks with their error codes (6.13: vector × 8 + 2
/// + EXT), the target code segment, stack selection (TSS.RSPn, IST, 16-byte alignment, 6.14.4-6.14.5), the
/// frame, RFLAGS after delivery (6.12.1.3), which events push an error code (6.13, 6.15), and Table 6-5's
/// double-fault rules. Every vector's gate points at its own HLT, so where the CPU stops names the vector
/// delivered and the frame is on the stack.
/// </summary>
public class InterruptDeliveryTests
{
    private const ulong UserCode = 0x101000, UserStack = 0x60000, Rsp0 = 0x70000;
    private const ulong Unmapped = 0x40000000; // the identity map covers only the first GiB
    private const ushort Code64Dpl1 = 0x50, Conforming64 = 0x60, NotPresent64 = 0x68, LongAndBig = 0x70;
    private const int FlagCf = 0x1, FlagIf = 0x200, FlagNt = 0x4000, FlagRf = 0x10000, FlagAc = 0x40000;

    /// <summary>The test machine with a HLT handler and a present 64-bit interrupt gate for every vector,
    /// TSS.RSP0 set, and a few more code descriptors.</summary>
    private static TestMachine Machine()
    {
        var m = new TestMachine();
        m.HaltOnExceptions(256);

        m.Memory.WriteUInt64(TestMachine.Tss + 4, Rsp0);
        m.SetDescriptor(Code64Dpl1, 0x00AFBB000000FFFF);   // 64-bit code, DPL 1
        m.SetDescriptor(Conforming64, 0x00AF9F000000FFFF); // 64-bit conforming code, DPL 0
        m.SetDescriptor(NotPresent64, 0x00AF1B000000FFFF); // 64-bit code, P = 0
        m.SetDescriptor(LongAndBig, 0x00EF9B000000FFFF);   // L = 1 and D = 1
        return m;
    }

    /// <summary>Loads TR, enters <paramref name="body"/> at UserCode by IRETQ at CPL <paramref name="cpl"/>
    /// (0 or 3) with <paramref name="rflags"/>, and runs to the first HLT.</summary>
    private static void Run(TestMachine m, Action<Assembler> body, int cpl = 0, int rflags = 2)
    {
        m.Load(a =>
        {
            a.mov(ax, TestMachine.TssSel);
            a.ltr(ax);
            a.push(cpl == 3 ? TestMachine.UserData : TestMachine.Data);
            a.push((int)(cpl == 3 ? UserStack : TestMachine.StackTop));
            a.push(rflags);
            a.push(cpl == 3 ? TestMachine.UserCode : TestMachine.Code64);
            a.push((int)UserCode);
            a.iretq();
        });
        m.Load(a =>
        {
            body(a);
            a.hlt();
        }, UserCode);
        m.RunToHalt();
    }

    /// <summary>Makes an OUT raise external interrupt <paramref name="vector"/>, taken at the boundary after it.</summary>
    private static void InterruptOnOut(TestMachine m, byte vector)
    {
        m.Host.RespectInterruptFlag = false;
        m.Host.OnPortOut = (_, _) =>
        {
            m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Interrupt, vector));
            m.Cpu.RequestEventCheck();
        };
    }

    /// <summary>Raises <paramref name="vector"/> at UserCode: INT n (2 bytes), or an OUT (2 bytes) after which
    /// the host delivers it as an external interrupt.</summary>
    private static void Raise(TestMachine m, byte vector, bool external, int cpl = 0)
    {
        if (external)
        {
            InterruptOnOut(m, vector);
        }

        Run(m, a =>
        {
            if (external)
            {
                a.@out(0x80, al);
            }
            else
            {
                a.@int(vector);
            }
        }, cpl, rflags: cpl == 3 ? 0x3002 : 2);
    }

    private static ulong Frame(TestMachine m, int slot) => m.Memory.ReadUInt64(m.Reg(4) + (ulong)(8 * slot));

    private static void AssertIn(TestMachine m, int vector) =>
        Assert.True(m.Cpu.Rip == TestMachine.HandlerOf(vector) + 1, $"expected the handler of vector {vector}, stopped at 0x{m.Cpu.Rip:x}");

    /// <summary>Stopped in the handler of <paramref name="vector"/> with <paramref name="errorCode"/> pushed
    /// and <paramref name="rip"/> as the return address.</summary>
    private static void AssertFault(TestMachine m, int vector, ulong errorCode, ulong rip)
    {
        AssertIn(m, vector);
        Assert.Equal(errorCode, Frame(m, 0));
        Assert.Equal(rip, Frame(m, 1));
    }

    // An event that faults during delivery: a software INT's fault is a fault of the INT instruction (the
    // frame points at it); an external interrupt arrived after the OUT, so the frame points past the OUT.
    private static ulong FaultRip(bool external) => external ? UserCode + 2 : UserCode;

    private static ulong Ext(bool external) => external ? 1UL : 0UL;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_16_byte_gate_must_end_within_the_idt_limit(bool external)
    {
        const byte vector = 0x20;
        var fits = Machine();
        fits.SetIdtLimit((vector * 16) + 15); // exactly the gate's last byte
        Raise(fits, vector, external);
        AssertIn(fits, vector);
        Assert.Equal(UserCode + 2, Frame(fits, 0));

        var beyond = Machine();
        beyond.SetIdtLimit((vector * 16) + 14);
        Raise(beyond, vector, external);
        AssertFault(beyond, 13, (vector * 8) + 2 + Ext(external), FaultRip(external));
    }

    [Fact]
    public void A_page_fault_whose_gate_is_beyond_the_idt_limit_is_a_double_fault()
    {
        // #PF, then #GP(14 × 8 + 2) fetching its gate: contributory after #PF is #DF (Table 6-5).
        var m = Machine();
        m.SetIdtLimit((14 * 16) + 14);
        Run(m, a => a.mov(rax, __qword_ptr[Unmapped]));
        AssertFault(m, 8, 0, UserCode);
        Assert.Equal(Unmapped, m.Cpu.Cr2);
    }

    [Theory]
    [InlineData(0x0, false)]
    [InlineData(0x4, false)] // 16-bit call gate
    [InlineData(0x5, false)] // task gate: none in IA-32e mode
    [InlineData(0x6, false)] // 16-bit interrupt gate
    [InlineData(0x7, false)] // 16-bit trap gate
    [InlineData(0xC, false)] // call gate
    [InlineData(0x6, true)]
    [InlineData(0x0, true)]
    public void Long_mode_accepts_only_interrupt_and_trap_gates(int type, bool external)
    {
        const byte vector = 0x21;
        var m = Machine();
        m.SetGate(vector, TestMachine.HandlerOf(vector), type);
        Raise(m, vector, external);
        AssertFault(m, 13, (vector * 8) + 2 + Ext(external), FaultRip(external));
    }

    [Theory]
    [InlineData(0xE)]
    [InlineData(0xF)]
    public void Interrupt_and_trap_gates_deliver(int type)
    {
        var m = Machine();
        m.SetGate(0x21, TestMachine.HandlerOf(0x21), type);
        Raise(m, 0x21, external: false);
        AssertIn(m, 0x21);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_not_present_gate_is_NP_with_the_idt_error_code(bool external)
    {
        const byte vector = 0x22;
        var m = Machine();
        m.SetGate(vector, TestMachine.HandlerOf(vector), present: false);
        Raise(m, vector, external);
        AssertFault(m, 11, (vector * 8) + 2 + Ext(external), FaultRip(external));
    }

    [Fact]
    public void Software_int_checks_gate_DPL_before_present()
    {
        var m = Machine();
        m.SetGate(0x23, TestMachine.HandlerOf(0x23), dpl: 0, present: false);
        Raise(m, 0x23, external: false, cpl: 3);
        AssertFault(m, 13, (0x23 * 8) + 2, UserCode);
    }

    [Fact]
    public void Software_int_through_a_DPL3_gate_reaches_cpl0_from_cpl3()
    {
        var m = Machine();
        m.SetGate(0x24, TestMachine.HandlerOf(0x24), dpl: 3);
        Raise(m, 0x24, external: false, cpl: 3);
        AssertIn(m, 0x24);
        Assert.Equal(0, m.Cpu.Cpl);
        Assert.Equal(UserCode + 2, Frame(m, 0));
    }

    [Fact]
    public void External_interrupts_ignore_gate_DPL()
    {
        var m = Machine();
        m.SetGate(0x25, TestMachine.HandlerOf(0x25), dpl: 0);
        Raise(m, 0x25, external: true, cpl: 3);
        AssertIn(m, 0x25);
        Assert.Equal(0, m.Cpu.Cpl);
        Assert.Equal((ulong)TestMachine.UserCode, Frame(m, 1));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(3, false)] // RPL bits do not make it non-null
    [InlineData(0, true)]
    public void A_null_code_selector_in_the_gate_is_GP_with_only_EXT(ushort selector, bool external)
    {
        var m = Machine();
        m.SetGate(0x26, TestMachine.HandlerOf(0x26), selector: selector);
        Raise(m, 0x26, external);
        AssertFault(m, 13, Ext(external), FaultRip(external));
    }

    [Theory]
    [InlineData(TestMachine.Data, 13, TestMachine.Data, false)]        // not a code segment
    [InlineData(TestMachine.Data | 3, 13, TestMachine.Data, false)]    // the error code drops the RPL
    [InlineData(TestMachine.UserCode, 13, TestMachine.UserCode & ~3, false)] // DPL 3 > CPL 0
    [InlineData(TestMachine.Code32, 13, TestMachine.Code32, false)]    // a 64-bit gate needs L = 1
    [InlineData(LongAndBig, 13, LongAndBig, false)]                    // ... and D = 0
    [InlineData(NotPresent64, 11, NotPresent64, false)]
    [InlineData(TestMachine.Data, 13, TestMachine.Data + 1, true)]
    [InlineData(TestMachine.Code32, 13, TestMachine.Code32 + 1, true)]
    [InlineData(NotPresent64, 11, NotPresent64 + 1, true)]
    [InlineData(0x1F8, 13, 0x1F8, false)]                              // beyond the GDT limit
    [InlineData(0x1F8, 13, 0x1F9, true)]
    public void The_gate_target_must_be_a_present_64_bit_code_segment_not_less_privileged(ushort selector, int vector, int errorCode, bool external)
    {
        var m = Machine();
        m.SetGate(0x27, TestMachine.HandlerOf(0x27), selector: selector);
        Raise(m, 0x27, external);
        AssertFault(m, vector, (ulong)errorCode, FaultRip(external));
    }

    [Fact]
    public void A_gate_offset_has_all_64_bits()
    {
        // 4 GiB is not mapped: the handler's fetch page-faults there.
        var m = Machine();
        m.SetGate(0x30, 0x1_0000_0000);
        Raise(m, 0x30, external: false);
        AssertIn(m, 14);
        Assert.Equal(0x1_0000_0000UL, Frame(m, 1));
        Assert.Equal(0x1_0000_0000UL, m.Cpu.Cr2);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_non_canonical_gate_offset_is_GP_with_EXT_before_anything_is_pushed(bool external)
    {
        var m = Machine();
        m.SetGate(0x31, 0x0000_8000_0000_0000);
        Raise(m, 0x31, external);
        AssertFault(m, 13, Ext(external), FaultRip(external));
        Assert.Equal(TestMachine.StackTop - 48, m.Reg(4)); // only the #GP frame
    }

    [Fact]
    public void A_conforming_target_keeps_CPL_and_the_stack()
    {
        var m = Machine();
        m.SetGate(0x28, TestMachine.HandlerOf(0x28), dpl: 3, selector: Conforming64);
        m.Memory.Write(TestMachine.HandlerOf(0x28), [0x90, 0x90, 0x0F, 0x0B]); // NOP NOP UD2: HLT would #GP at CPL 3
        m.SetGate(6, TestMachine.HandlerOf(6), dpl: 0);
        Raise(m, 0x28, external: false, cpl: 3);

        // The #UD from the handler switches to RSP0; its frame shows the conforming handler's state.
        AssertIn(m, 6);
        Assert.Equal(Rsp0 - 40, m.Reg(4));
        Assert.Equal(TestMachine.HandlerOf(0x28) + 2, Frame(m, 0));
        Assert.Equal((ulong)(Conforming64 | 3), Frame(m, 1));  // CS with RPL = CPL 3
        Assert.Equal(UserStack - 40, Frame(m, 3));              // stayed on the user stack
        Assert.Equal((ulong)TestMachine.UserData, Frame(m, 4)); // SS unchanged
    }

    [Fact]
    public void Cpl3_to_cpl0_takes_an_aligned_RSP0_and_pushes_SS_RSP_RFLAGS_CS_RIP()
    {
        // RSP0 is misaligned and on a supervisor-only page: the frame is written with supervisor rights.
        const ulong stackPage = 0x7F000;
        var m = Machine();
        m.Map4K(Unmapped, stackPage, 0x3);
        m.Memory.WriteUInt64(TestMachine.Tss + 4, Unmapped + 0xFF8);
        m.SetGate(0x29, TestMachine.HandlerOf(0x29), dpl: 3);
        Run(m, a => a.@int(0x29), cpl: 3, rflags: FlagIf | FlagCf | 2);

        AssertIn(m, 0x29);
        Assert.Equal(0, m.Cpu.Cpl);
        Assert.Equal(Unmapped + 0xFF0 - 40, m.Reg(4));
        ulong[] frame = [.. Enumerable.Range(0, 5).Select(i => m.Memory.ReadUInt64(stackPage + 0xFF0 - 40 + (ulong)(8 * i)))];
        Assert.Equal([UserCode + 2, TestMachine.UserCode, FlagIf | FlagCf | 2, UserStack, TestMachine.UserData], frame);
        Assert.Equal(new SegmentCache(0, 0, 0, 0), m.Cpu.GetSegment(SegmentRegister.Ss)); // null SS, RPL = new CPL 0
        Assert.Equal((ulong)(FlagCf | 2), m.Cpu.Rflags);                                 // interrupt gate cleared IF
        Assert.Equal([true, false], m.Host.InterruptFlagChanges.ToArray());
    }

    [Fact]
    public void Cpl3_to_cpl1_takes_RSP1_and_a_null_SS_with_RPL_1()
    {
        var m = Machine();
        m.Memory.WriteUInt64(TestMachine.Tss + 4 + 8, 0x68000); // RSP1
        m.SetGate(0x2A, TestMachine.HandlerOf(0x2A), dpl: 3, selector: Code64Dpl1);
        Raise(m, 0x2A, external: false, cpl: 3);

        // The handler's HLT at CPL 1 raises #GP(0), whose frame (on RSP0) shows the CPL 1 state.
        AssertFault(m, 13, 0, TestMachine.HandlerOf(0x2A));
        Assert.Equal(Rsp0 - 48, m.Reg(4));
        Assert.Equal((ulong)(Code64Dpl1 | 1), Frame(m, 2));
        Assert.Equal(0x68000UL - 40, Frame(m, 4));
        Assert.Equal(1UL, Frame(m, 5));
        Assert.Equal(UserCode + 2, m.Memory.ReadUInt64(0x68000 - 40)); // the CPL 3 -> 1 frame
        Assert.Equal(UserStack, m.Memory.ReadUInt64(0x68000 - 16));
    }

    [Fact]
    public void Ist_at_the_same_cpl_switches_RSP_but_leaves_SS()
    {
        var m = Machine();
        m.Memory.WriteUInt64(TestMachine.Tss + 0x24, 0x6F008); // IST1, misaligned
        m.SetGate(0x2B, TestMachine.HandlerOf(0x2B), ist: 1);
        Raise(m, 0x2B, external: false);
        AssertIn(m, 0x2B);
        Assert.Equal(0x6F000UL - 40, m.Reg(4));
        Assert.Equal(TestMachine.StackTop, Frame(m, 3));
        Assert.Equal(TestMachine.Data, m.Cpu.GetSegment(SegmentRegister.Ss).Selector);
        Assert.Equal(0xFFFFFFFFU, m.Cpu.GetSegment(SegmentRegister.Ss).Limit);
    }

    [Fact]
    public void Ist_wins_over_RSP0_on_a_privilege_change()
    {
        var m = Machine();
        m.Memory.WriteUInt64(TestMachine.Tss + 0x24 + 16, 0x6E000); // IST3
        m.SetGate(0x2C, TestMachine.HandlerOf(0x2C), dpl: 3, ist: 3);
        Raise(m, 0x2C, external: false, cpl: 3);
        AssertIn(m, 0x2C);
        Assert.Equal(0x6E000UL - 40, m.Reg(4));
        Assert.Equal(0, m.Cpu.GetSegment(SegmentRegister.Ss).Selector);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_non_canonical_new_stack_pointer_is_SS_with_EXT(bool external)
    {
        var m = Machine();
        m.Memory.WriteUInt64(TestMachine.Tss + 0x24 + 8, 0x0000800000000000); // IST2
        m.SetGate(0x2D, TestMachine.HandlerOf(0x2D), ist: 2);
        Raise(m, 0x2D, external);
        AssertFault(m, 12, Ext(external), FaultRip(external));
        Assert.Equal(TestMachine.StackTop - 48, m.Reg(4));
    }

    [Theory]
    [InlineData(1, false, -1)]       // IST1 is bytes 0x24-0x2B: the last byte is the limit
    [InlineData(2, false, 0x30)]     // IST2 (0x2C-0x33) is beyond it: #TS(TR selector)
    [InlineData(2, true, 0x31)]
    public void A_TSS_too_small_for_the_stack_field_is_TS_with_the_TR_selector(int ist, bool external, int errorCode)
    {
        var m = Machine();
        m.Memory.WriteUInt64(TestMachine.Gdt + TestMachine.TssSel, 0x000089000000002BUL | ((TestMachine.Tss & 0xFFFFFF) << 16));
        m.Memory.WriteUInt64(TestMachine.Tss + 0x24, 0x6F000);
        m.Memory.WriteUInt64(TestMachine.Tss + 0x2C, 0x6E000);
        m.SetGate(0x2E, TestMachine.HandlerOf(0x2E), ist: ist);
        Raise(m, 0x2E, external);
        if (errorCode < 0)
        {
            AssertIn(m, 0x2E);
            Assert.Equal(0x6F000UL - 40, m.Reg(4));
        }
        else
        {
            AssertFault(m, 10, (ulong)errorCode, FaultRip(external));
        }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(10)]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(17)]
    public void Int_n_with_an_error_code_vector_pushes_no_error_code(byte vector)
    {
        var m = Machine();
        Raise(m, vector, external: false);
        AssertIn(m, vector);
        Assert.Equal(TestMachine.StackTop - 40, m.Reg(4));
        Assert.Equal(UserCode + 2, Frame(m, 0));
    }

    [Fact]
    public void An_external_interrupt_on_vector_13_pushes_no_error_code()
    {
        var m = Machine();
        Raise(m, 13, external: true);
        AssertIn(m, 13);
        Assert.Equal(TestMachine.StackTop - 40, m.Reg(4));
        Assert.Equal(UserCode + 2, Frame(m, 0));
    }

    [Theory]
    [InlineData(0xE, FlagAc | 2)]          // interrupt gate: IF cleared too
    [InlineData(0xF, FlagAc | FlagIf | 2)] // trap gate: IF kept
    public void Delivery_clears_TF_NT_RF_and_VM_and_pushes_RF_clear_for_a_software_interrupt(int type, int after)
    {
        var m = Machine();
        m.SetGate(0x2F, TestMachine.HandlerOf(0x2F), type);
        Run(m, a => a.@int(0x2F), rflags: FlagNt | FlagRf | FlagAc | FlagIf | 2);
        AssertIn(m, 0x2F);
        Assert.Equal((ulong)(FlagNt | FlagAc | FlagIf | 2), Frame(m, 2));
        Assert.Equal((ulong)after, m.Cpu.Rflags);
    }

    [Fact]
    public void A_fault_pushes_RF_set()
    {
        // SDM Vol 3 17.3.1.1: for any fault-class exception other than an instruction breakpoint, the RF
        // image pushed is 1, so that IRET back to the faulting instruction does not hit its breakpoint again.
        var m = Machine();
        Run(m, a => a.ud2(), rflags: FlagCf | 2);
        AssertIn(m, 6);
        Assert.Equal(UserCode, Frame(m, 0));
        Assert.Equal((ulong)(FlagRf | FlagCf | 2), Frame(m, 2));
        Assert.Equal((ulong)(FlagCf | 2), m.Cpu.Rflags);
    }

    [Fact]
    public void Contributory_after_divide_error_is_a_double_fault()
    {
        var m = Machine();
        m.SetGate(0, TestMachine.HandlerOf(0), present: false);
        Run(m, a =>
        {
            a.xor(ecx, ecx);
            a.div(ecx);
        });
        AssertFault(m, 8, 0, UserCode + 2);
    }

    [Fact]
    public void Int_13_is_not_a_contributory_exception_so_its_NP_is_delivered_serially()
    {
        var m = Machine();
        m.SetGate(13, TestMachine.HandlerOf(13), present: false);
        Raise(m, 13, external: false);
        AssertFault(m, 11, (13 * 8) + 2, UserCode);
    }

    [Fact]
    public void Int_8_is_not_a_double_fault_so_a_fault_delivering_it_is_delivered()
    {
        var m = Machine();
        m.SetGate(8, TestMachine.HandlerOf(8), present: false);
        Raise(m, 8, external: false);
        AssertFault(m, 11, (8 * 8) + 2, UserCode);
    }

    [Fact]
    public void Contributory_after_page_fault_is_a_double_fault()
    {
        var m = Machine();
        m.SetGate(14, TestMachine.HandlerOf(14), present: false);
        Run(m, a => a.mov(rax, __qword_ptr[Unmapped]));
        AssertFault(m, 8, 0, UserCode);
        Assert.Equal(Unmapped, m.Cpu.Cr2);
    }

    [Fact]
    public void Page_fault_during_page_fault_delivery_is_a_double_fault_and_sets_CR2()
    {
        var m = Machine();
        m.Memory.WriteUInt64(TestMachine.Tss + 0x24, Unmapped + 0x1000); // IST1 on an unmapped page
        m.SetGate(14, TestMachine.HandlerOf(14), ist: 1);
        Run(m, a => a.mov(rax, __qword_ptr[0x40200000]));
        AssertFault(m, 8, 0, UserCode);
        Assert.Equal(Unmapped + 0xFF8, m.Cpu.Cr2); // the first push (SS) of the #PF frame
    }

    [Fact]
    public void Page_fault_during_contributory_delivery_is_delivered_serially()
    {
        var m = Machine();
        m.Memory.WriteUInt64(TestMachine.Tss + 0x24, Unmapped + 0x1000);
        m.SetGate(13, TestMachine.HandlerOf(13), ist: 1);
        Run(m, a =>
        {
            a.mov(ecx, 0x999);
            a.rdmsr();
        });
        AssertFault(m, 14, 2, UserCode + 5); // write to a not-present page at CPL 0
        Assert.Equal(Unmapped + 0xFF8, m.Cpu.Cr2);
    }

    [Fact]
    public void A_fault_delivering_a_double_fault_shuts_down()
    {
        var m = Machine();
        m.SetGate(13, TestMachine.HandlerOf(13), present: false);
        m.SetGate(8, TestMachine.HandlerOf(8), present: false);
        m.Load(a =>
        {
            a.mov(ecx, 0x999);
            a.rdmsr();
            a.hlt();
        });
        Assert.Equal(StopReason.Shutdown, m.Cpu.Run(100).Reason);
    }
}
