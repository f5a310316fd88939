// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// Control, debug and model-specific registers and the descriptor-table registers at CPL 0: SDM Vol 3 2.5
/// (control registers and their reserved bits), 4.1.1 and 10.8.5 (paging-mode and IA-32e transitions),
/// 4.10.4.1 (MOV to CR0/CR4 invalidating translations), 17.2 (debug registers), 2.2.1 and 2.4 (GDTR, IDTR,
/// LDTR, TR), and the Vol 2 pages of MOV CR, MOV DR, LGDT/LIDT, SGDT/SIDT, LTR, LLDT, STR, SLDT, SMSW,
/// LMSW, CLTS, RDMSR/WRMSR (with the MSR layouts of Vol 4), RDTSC/RDTSCP, CPUID and IN/OUT.
/// Faults stop in a HLT handler per vector, so each test reads the frame the CPU pushed.
/// </summary>
public class SystemRegisterTests
{
    private const ulong Cr0Boot = 0x80010031, Scratch = 0x60000;
    private const ulong Cr0Pg = 1UL << 31, Cr0Cd = 1UL << 30, Cr0Nw = 1UL << 29, Cr0Et = 0x10, Cr0Ts = 8;
    private const uint MsrEfer = 0xC0000080;

    private static TestMachine NewMachine()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        return m;
    }

    // ---- CR0 ----

    /// <summary>MOV to CR0 values the SDM refuses with #GP(0) (Vol 3 2.5; MOV CR "Protected Mode Exceptions").</summary>
    public static TheoryData<string, ulong> BadCr0() => new()
    {
        { "a bit in 63:32", Cr0Boot | (1UL << 32) },
        { "PG without PE", Cr0Boot & ~1UL },
        { "NW without CD", Cr0Boot | Cr0Nw },
        { "PG cleared in 64-bit mode", Cr0Boot & ~Cr0Pg },
    };

    [Theory]
    [MemberData(nameof(BadCr0))]
    public void Mov_to_cr0_with_a_refused_value_raises_GP0_and_leaves_cr0(string why, ulong value)
    {
        var m = NewMachine();
        ulong at = m.RunSetupThenFaulting(a => a.mov(rax, value), a => a.mov(cr0, rax));

        m.AssertException(13, at, errorCode: 0);
        Assert.True(m.Cpu.Cr0 == Cr0Boot, why);
        Assert.Equal(0xD00UL, m.Cpu.Efer); // still LMA
    }

    [Fact]
    public void Mov_to_cr0_accepts_cd_with_nw_and_et_always_reads_as_one()
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(rax, (long)(Cr0Boot | Cr0Cd | Cr0Nw));
            a.mov(cr0, rax);
            a.mov(rbx, cr0);
            a.mov(rax, (long)(Cr0Boot & ~Cr0Et)); // ET is hard-wired to 1 (SDM 2.5)
            a.mov(cr0, rax);
            a.mov(rcx, cr0);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(Cr0Boot | Cr0Cd | Cr0Nw, m.Reg(3));
        Assert.Equal(Cr0Boot, m.Reg(1));
        Assert.Equal(Cr0Boot, m.Cpu.Cr0);
    }

    /// <summary>Setting CR0.PG with EFER.LME = 1 and CR4.PAE = 1 activates IA-32e mode (SDM 10.8.5): EFER.LMA
    /// becomes 1 and, with a 32-bit CS, the CPU is in compatibility mode.</summary>
    [Fact]
    public void Setting_cr0_pg_with_efer_lme_and_cr4_pae_activates_ia32e_mode()
    {
        var m = NewMachine();
        m.EnterProtectedMode32();
        m.Load(
            a =>
            {
                a.mov(eax, 0x20);
                a.mov(cr4, eax);
                a.mov(eax, (int)TestMachine.Pml4);
                a.mov(cr3, eax);
                a.mov(ecx, MsrEfer);
                a.mov(eax, 0x100);
                a.xor(edx, edx);
                a.wrmsr();
                a.mov(eax, unchecked((int)(Cr0Pg | 0x11)));
                a.mov(cr0, eax);
                a.mov(ecx, MsrEfer);
                a.rdmsr();
                a.hlt();
            },
            TestMachine.CodeBase,
            32);
        m.RunToHalt();

        Assert.Equal(0x500UL, m.Reg(0)); // LME | LMA, as RDMSR reads it
        Assert.Equal(0x500UL, m.Cpu.Efer);
        Assert.Equal(CpuMode.Compatibility32, m.Cpu.Mode);
    }

    [Fact]
    public void Setting_cr0_pg_with_efer_lme_but_cr4_pae_clear_raises_GP0()
    {
        var m = NewMachine();
        m.EnterProtectedMode32();
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.mov(eax, (int)TestMachine.Pml4);
                a.mov(cr3, eax);
                a.mov(ecx, MsrEfer);
                a.mov(eax, 0x100);
                a.xor(edx, edx);
                a.wrmsr();
                a.mov(eax, unchecked((int)(Cr0Pg | 0x11)));
            },
            a => a.mov(cr0, eax),
            32);

        m.AssertException32(13, at, errorCode: 0);
        Assert.Equal(0x11UL, m.Cpu.Cr0);
        Assert.Equal(0x100UL, m.Cpu.Efer);
        Assert.Equal(CpuMode.Protected32, m.Cpu.Mode);
    }

    /// <summary>Without EFER.LME, CR0.PG selects legacy paging (32-bit paging here, SDM 4.1.1): EFER.LMA stays 0.
    /// The interpreter does not model legacy paging, so the next fetch stops the run cleanly, naming it.</summary>
    [Fact]
    public void Setting_cr0_pg_without_efer_lme_selects_legacy_paging_and_stops_cleanly()
    {
        var m = NewMachine();
        m.EnterProtectedMode32();
        ulong at = m.Load(
            a =>
            {
                a.mov(eax, 0x9000);
                a.mov(cr3, eax);
                a.mov(eax, unchecked((int)(Cr0Pg | 0x11)));
                a.mov(cr0, eax);
            },
            TestMachine.CodeBase,
            32);
        m.Load(a => a.hlt(), at, 32);
        var r = m.Cpu.Run(100);

        Assert.Equal(StopReason.Unsupported, r.Reason);
        Assert.Contains("paging outside IA-32e mode", r.Unsupported!.Reason, StringComparison.Ordinal);
        Assert.Equal(at, r.Unsupported.Rip);
        Assert.Equal(Cr0Pg | 0x11, m.Cpu.Cr0);
        Assert.Equal(0UL, m.Cpu.Efer);
        Assert.Equal(CpuMode.Protected32, m.Cpu.Mode);
    }

    /// <summary>Clearing CR0.PG from compatibility mode leaves IA-32e mode (SDM 10.8.5.4): EFER.LMA becomes 0.</summary>
    [Fact]
    public void Clearing_cr0_pg_in_compatibility_mode_deactivates_ia32e_mode()
    {
        var m = NewMachine();
        m.EnterCompatibilityMode();
        m.Load(
            a =>
            {
                a.mov(eax, cr0);
                a.and(eax, 0x7FFFFFFF);
                a.mov(cr0, eax);
                a.mov(ebx, 0x1234);
                a.hlt();
            },
            TestMachine.CodeBase,
            32);
        m.RunToHalt();

        Assert.Equal(0x1234UL, m.Reg(3));
        Assert.Equal(Cr0Boot & ~Cr0Pg, m.Cpu.Cr0);
        Assert.Equal(0x900UL, m.Cpu.Efer); // LME and NXE stay
        Assert.Equal(CpuMode.Protected32, m.Cpu.Mode);
    }

    /// <summary>Clearing CR0.WP must take effect for the next access and setting it again too (SDM 4.6.1 and
    /// 4.10.4.1: a MOV to CR0 that changes WP invalidates cached translations).</summary>
    [Fact]
    public void Toggling_cr0_wp_governs_the_next_supervisor_write_to_a_read_only_page()
    {
        const ulong readOnly = 0x400000; // a 2 MiB page, present, not writable
        var m = NewMachine();
        m.Memory.WriteUInt64(TestMachine.Pd + 16, readOnly | 0x81);
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.mov(rax, cr0);
                a.btr(rax, 16);
                a.mov(cr0, rax);
                a.mov(__byte_ptr[readOnly], 1); // allowed with WP = 0
                a.bts(rax, 16);
                a.mov(cr0, rax);
            },
            a => a.mov(__byte_ptr[readOnly], 2));

        m.AssertException(14, at, errorCode: 3); // present, write
        Assert.Equal(readOnly, m.Cpu.Cr2);
        Assert.Equal(1u, m.Memory.ReadUInt32(readOnly) & 0xFF);
    }

    // ---- CR2, CR3, CR4, CR8, reserved CRs ----

    [Fact]
    public void Cr2_and_cr3_read_back_what_was_written()
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(rax, 0x123456789ABCDEF0);
            a.mov(cr2, rax);
            a.mov(rbx, cr2);
            a.mov(rax, (long)(TestMachine.Pml4 | 0x18)); // PWT | PCD
            a.mov(cr3, rax);
            a.mov(rcx, cr3);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(0x123456789ABCDEF0UL, m.Reg(3));
        Assert.Equal(TestMachine.Pml4 | 0x18, m.Reg(1));
    }

    /// <summary>In IA-32e mode CR3 bits above MAXPHYADDR are reserved: #GP(0) (SDM 4.5, MOV CR).</summary>
    [Fact]
    public void Mov_to_cr3_with_a_bit_above_maxphyaddr_raises_GP0()
    {
        var m = NewMachine();
        m.Cpu.MaxPhysicalAddressBits = 40;
        ulong at = m.RunSetupThenFaulting(a => a.mov(rax, (long)(TestMachine.Pml4 | (1UL << 40))), a => a.mov(cr3, rax));

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(TestMachine.Pml4, m.Cpu.Cr3);
    }

    /// <summary>CR4 bits this CPU does not implement are reserved: #GP(0) (SDM 2.5).</summary>
    [Theory]
    [InlineData(13)] // VMXE (no VMX)
    [InlineData(15)]
    [InlineData(17)] // PCIDE (no PCID)
    [InlineData(26)]
    [InlineData(32)]
    [InlineData(63)]
    public void Mov_to_cr4_with_an_unimplemented_bit_raises_GP0(int bit)
    {
        var m = NewMachine();
        ulong at = m.RunSetupThenFaulting(a => a.mov(rax, (long)(0x20UL | (1UL << bit))), a => a.mov(cr4, rax));

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(0x20UL, m.Cpu.Cr4);
    }

    [Fact]
    public void Mov_to_cr4_keeps_the_implemented_bits_it_is_given()
    {
        const long value = 0x20 | 0x8 | 0x200 | 0x400 | 0x10000 | 0x40000; // PAE DE OSFXSR OSXMMEXCPT FSGSBASE OSXSAVE
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(rax, value);
            a.mov(cr4, rax);
            a.mov(rbx, cr4);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal((ulong)value, m.Reg(3));
    }

    /// <summary>Clearing CR4.PAE while IA-32e mode is active is #GP(0) (SDM 10.8.5, MOV CR); outside it, PAE may be cleared.</summary>
    [Fact]
    public void Clearing_cr4_pae_raises_GP0_only_while_ia32e_mode_is_active()
    {
        var m = NewMachine();
        ulong at = m.RunSetupThenFaulting(a => a.xor(eax, eax), a => a.mov(cr4, rax));
        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(0x20UL, m.Cpu.Cr4);

        var legacy = NewMachine();
        legacy.EnterProtectedMode32();
        legacy.Load(
            a =>
            {
                a.mov(eax, 0x20);
                a.mov(cr4, eax);
                a.xor(eax, eax);
                a.mov(cr4, eax);
                a.hlt();
            },
            TestMachine.CodeBase,
            32);
        legacy.RunToHalt();
        Assert.Equal(0UL, legacy.Cpu.Cr4);
    }

    /// <summary>Setting CR4.SMEP forbids supervisor fetches from user pages from the next instruction on
    /// (SDM 4.6.1; 4.10.4.1: a MOV to CR4 that changes SMEP invalidates cached translations).</summary>
    [Fact]
    public void Setting_cr4_smep_faults_the_next_fetch_from_a_user_page()
    {
        const ulong userCode = 0x400000;
        var m = NewMachine();
        m.Memory.WriteUInt64(TestMachine.Pd, 0x83); // the first 2 MiB (handlers, stack, tables) supervisor-only
        m.Cpu.Rip = userCode;
        ulong at = m.Load(
            a =>
            {
                a.mov(rax, cr4);
                a.bts(rax, 20);
                a.mov(cr4, rax);
            },
            userCode);
        m.Load(
            a =>
            {
                a.nop();
                a.hlt();
            },
            at);
        m.RunToHalt();

        m.AssertException(14, at, errorCode: 0x11); // present, instruction fetch, supervisor
        Assert.Equal(at, m.Cpu.Cr2);
    }

    /// <summary>CR8 is the TPR (SDM 10.8.6.1): it goes to and comes from the local APIC; bits 63:4 are reserved.</summary>
    [Fact]
    public void Cr8_is_the_host_tpr_and_values_above_15_raise_GP0()
    {
        var m = NewMachine();
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.mov(eax, 15);
                a.mov(cr8, rax);
                a.mov(rbx, cr8);
                a.mov(eax, 16);
            },
            a => a.mov(cr8, rax));

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(15UL, m.Reg(3));
        Assert.Equal(15UL, m.Host.Cr8);
    }

    public static TheoryData<string> ReservedControlRegisters() => ["cr1", "cr5", "cr7", "cr9", "cr15"];

    /// <summary>CR1, CR5-CR7 and CR9-CR15 do not exist: MOV to or from them is #UD (MOV CR).</summary>
    [Theory]
    [MemberData(nameof(ReservedControlRegisters))]
    public void Mov_to_or_from_a_reserved_control_register_raises_UD(string name)
    {
        var reg = new Dictionary<string, AssemblerRegisterCR>
        {
            ["cr1"] = cr1,
            ["cr5"] = cr5,
            ["cr7"] = cr7,
            ["cr9"] = cr9,
            ["cr15"] = cr15,
        }[name];
        var write = NewMachine();
        write.AssertException(6, write.RunSetupThenFaulting(a => a.nop(), a => a.mov(reg, rax)));
        var read = NewMachine();
        read.AssertException(6, read.RunSetupThenFaulting(a => a.mov(ebx, 7), a => a.mov(rbx, reg)));
        Assert.Equal(7UL, read.Reg(3));
    }

    // ---- Debug registers ----

    [Fact]
    public void Debug_registers_hold_what_is_written_and_dr4_dr5_alias_dr6_dr7_while_cr4_de_is_clear()
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(rax, 0x1111);
            a.mov(dr0, rax);
            a.mov(rax, 0x2222);
            a.mov(dr3, rax);
            a.mov(eax, 0x0701);
            a.mov(dr5, rax);   // DR7
            a.mov(eax, 0x4001);
            a.mov(dr4, rax);   // DR6
            a.mov(r8, dr0);
            a.mov(r9, dr3);
            a.mov(r10, dr7);
            a.mov(r11, dr6);
            a.mov(r12, dr4);
            a.mov(r13, dr5);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(0x1111UL, m.Reg(8));
        Assert.Equal(0x2222UL, m.Reg(9));
        Assert.Equal(0x0701UL, m.Reg(10) & 0xFFFF);
        Assert.Equal(0x4001UL, m.Reg(11) & 0x4001);
        Assert.Equal(m.Reg(11), m.Reg(12));
        Assert.Equal(m.Reg(10), m.Reg(13));
    }

    /// <summary>With CR4.DE = 1, DR4 and DR5 are reserved: MOV to or from them is #UD (SDM 17.2.2, MOV DR).</summary>
    [Theory]
    [InlineData(4, true)]
    [InlineData(5, true)]
    [InlineData(4, false)]
    [InlineData(5, false)]
    public void Dr4_and_dr5_raise_UD_while_cr4_de_is_set(int n, bool write)
    {
        var reg = n == 4 ? dr4 : dr5;
        var m = NewMachine();
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.mov(eax, 0x28);
                a.mov(cr4, rax);
                a.mov(ebx, 7);
            },
            a =>
            {
                if (write)
                {
                    a.mov(reg, rax);
                }
                else
                {
                    a.mov(rbx, reg);
                }
            });

        m.AssertException(6, at);
        Assert.Equal(7UL, m.Reg(3));
    }

    /// <summary>Bits 63:32 of DR6 and DR7 are reserved: writing a 1 there is #GP(0) (SDM MOV DR, 64-bit mode
    /// exceptions); DR0-DR3 hold 64-bit addresses.</summary>
    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    public void Writing_bits_63_32_of_dr6_or_dr7_raises_GP0(int n)
    {
        var reg = n == 6 ? dr6 : dr7;
        var m = NewMachine();
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.mov(rax, unchecked((long)0xFFFF_8000_0000_1000UL));
                a.mov(dr1, rax);
                a.mov(rbx, dr1);
                a.mov(rax, 0x1_0000_0400);
            },
            a => a.mov(reg, rax));

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(0xFFFF_8000_0000_1000UL, m.Reg(3));
    }

    [Fact]
    public void Dr8_and_above_do_not_exist_and_raise_UD()
    {
        var m = NewMachine();
        m.AssertException(6, m.RunSetupThenFaulting(a => a.nop(), a => a.mov(dr8, rax)));
        var r = NewMachine();
        r.AssertException(6, r.RunSetupThenFaulting(a => a.nop(), a => a.mov(rax, dr15)));
    }

    // ---- Descriptor-table registers ----

    [Fact]
    public void Lidt_and_sidt_in_64_bit_mode_move_a_16_bit_limit_and_a_64_bit_base()
    {
        var m = NewMachine();
        m.Memory.WriteUInt64(Scratch, 0x7654_3210_8000_0123UL); // limit 0x0123, base bytes 0..5
        m.Memory.WriteUInt64(Scratch + 8, 0xAAAA_0000);          // base bytes 6..7, then junk
        m.Memory.WriteUInt64(Scratch + 0x20, ulong.MaxValue);
        m.Memory.WriteUInt64(Scratch + 0x28, ulong.MaxValue);
        m.Load(a =>
        {
            a.lidt(__[Scratch]);
            a.sidt(__[Scratch + 0x20]);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(new DescriptorTable(0x7654_3210_8000UL, 0x0123), m.Cpu.Idtr);
        Assert.Equal(0x7654_3210_8000_0123UL, m.Memory.ReadUInt64(Scratch + 0x20));
        Assert.Equal(0xFFFF_FFFF_FFFF_0000UL, m.Memory.ReadUInt64(Scratch + 0x28)); // 10 bytes stored, the rest untouched
        Assert.Equal(new DescriptorTable(TestMachine.Gdt, 0x4F), m.Cpu.Gdtr);
    }

    [Fact]
    public void Sgdt_in_64_bit_mode_stores_exactly_ten_bytes()
    {
        var m = NewMachine();
        m.Cpu.SetDescriptorTables(new DescriptorTable(0x0000_7654_3210_1000UL, 0x4F), m.Cpu.Idtr);
        m.Memory.WriteUInt64(Scratch, ulong.MaxValue);
        m.Memory.WriteUInt64(Scratch + 8, ulong.MaxValue);
        m.Load(a =>
        {
            a.sgdt(__[Scratch]);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(0x7654_3210_1000_004FUL, m.Memory.ReadUInt64(Scratch));
        Assert.Equal(0xFFFF_FFFF_FFFF_0000UL, m.Memory.ReadUInt64(Scratch + 8));
    }

    /// <summary>LGDT in 64-bit mode with a non-canonical base is #GP(0) and loads nothing.</summary>
    [Fact]
    public void Lgdt_with_a_non_canonical_base_raises_GP0()
    {
        var m = NewMachine();
        m.Memory.WriteUInt64(Scratch, 0x0000_0000_0000_00FFUL);
        m.Memory.WriteUInt64(Scratch + 2, 0x0000_8000_0000_0000UL);
        ulong at = m.RunSetupThenFaulting(a => a.nop(), a => a.lgdt(__[Scratch]));

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(new DescriptorTable(TestMachine.Gdt, 0x4F), m.Cpu.Gdtr);
    }

    /// <summary>Outside 64-bit mode the base is 32 bits (24 with a 16-bit operand size); SGDT stores 6 bytes.</summary>
    [Fact]
    public void Lgdt_and_sgdt_in_compatibility_mode_use_a_32_bit_base_and_24_bits_with_o16()
    {
        var m = NewMachine();
        m.EnterCompatibilityMode();
        m.Memory.WriteUInt64(Scratch, 0xFFFF_7654_3210_0027UL);
        m.Memory.WriteUInt64(Scratch + 0x20, ulong.MaxValue);
        m.Load(
            a =>
            {
                a.lgdt(__[Scratch]);
                a.sgdt(__[Scratch + 0x20]);
                a.sidt(__[Scratch + 0x40]);
                a.db(0x66);
                a.lidt(__[Scratch]);
                a.hlt();
            },
            TestMachine.CodeBase,
            32);
        m.RunToHalt();

        Assert.Equal(new DescriptorTable(0x7654_3210UL, 0x27), m.Cpu.Gdtr);
        Assert.Equal(0xFFFF_7654_3210_0027UL, m.Memory.ReadUInt64(Scratch + 0x20));
        Assert.Equal((ulong)TestMachine.Idt << 16 | 0xFFF, m.Memory.ReadUInt64(Scratch + 0x40) & 0xFFFF_FFFF_FFFF);
        Assert.Equal(new DescriptorTable(0x54_3210UL, 0x27), m.Cpu.Idtr);
    }

    // ---- TR and LDTR ----

    [Fact]
    public void Ltr_loads_the_16_byte_tss_descriptor_marks_it_busy_and_str_reads_the_selector()
    {
        var m = NewMachine();
        m.Memory.WriteUInt64(TestMachine.Gdt + 0x38, 0x0000_7FFF);
        m.Memory.WriteUInt64(Scratch, ulong.MaxValue);
        m.Load(a =>
        {
            a.mov(eax, TestMachine.TssSel | 3); // RPL is ignored
            a.ltr(ax);
            a.mov(rbx, -1);
            a.str(rbx);
            a.mov(rcx, -1);
            a.str(cx);
            a.str(__word_ptr[Scratch]);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(new SegmentCache(TestMachine.TssSel | 3, 0x7FFF_0000_6000UL, 0x67, 0x8B), m.Cpu.Tr);
        Assert.Equal(0x8BUL, (m.Memory.ReadUInt64(TestMachine.Gdt + 0x30) >> 40) & 0xFF); // busy in the GDT
        Assert.Equal((ulong)(TestMachine.TssSel | 3), m.Reg(3));                            // zero-extended
        Assert.Equal(0xFFFF_FFFF_FFFF_0000UL | TestMachine.TssSel | 3, m.Reg(1));          // 16 bits only
        Assert.Equal(0xFFFF_FFFF_FFFF_0000UL | TestMachine.TssSel | 3, m.Memory.ReadUInt64(Scratch));
    }

    /// <summary>What LTR refuses (SDM LTR): a null selector #GP(0); a selector in the LDT, beyond the GDT, for
    /// anything but an available 64-bit TSS, or with a non-canonical base #GP(selector); not present #NP(selector).</summary>
    public static TheoryData<string, ushort, int, int> LtrRefusals() => new()
    {
        { "null", 0, 13, 0 },
        { "null with RPL 3", 3, 13, 0 },
        { "in the LDT", 0x34, 13, 0x34 },
        { "busy TSS", 0x50, 13, 0x50 },
        { "data segment", TestMachine.Data, 13, TestMachine.Data },
        { "LDT descriptor", 0x60, 13, 0x60 },
        { "16-bit TSS in IA-32e mode", 0x70, 13, 0x70 },
        { "not present", 0x80, 11, 0x80 },
        { "non-canonical base", 0x90, 13, 0x90 },
        { "upper half beyond the GDT limit", 0xA3, 13, 0xA0 },
    };

    [Theory]
    [MemberData(nameof(LtrRefusals))]
    public void Ltr_refuses_what_is_not_an_available_tss(string why, ushort selector, int vector, int errorCode)
    {
        var m = NewMachine();
        ulong tss = TestMachine.Descriptor(TestMachine.Tss, 0x67, 0x89);
        m.SetDescriptor(0x50, TestMachine.Descriptor(TestMachine.Tss, 0x67, 0x8B));
        m.SetDescriptor(0x60, TestMachine.Descriptor(0x8000, 0xFFF, 0x82));
        m.SetDescriptor(0x70, TestMachine.Descriptor(TestMachine.Tss, 0x67, 0x81));
        m.SetDescriptor(0x80, TestMachine.Descriptor(TestMachine.Tss, 0x67, 0x09));
        m.SetDescriptor(0x90, tss);
        m.SetDescriptor(0x98, 0x0000_8000);
        m.SetDescriptor(0xA0, tss); // the limit ends after its first 8 bytes
        var before = m.Cpu.Tr;
        ulong at = m.RunSetupThenFaulting(a => a.mov(eax, selector), a => a.ltr(ax));

        m.AssertException(vector, at, errorCode);
        Assert.True(m.Cpu.Tr == before, why);
        Assert.Equal(0x89UL, (m.Memory.ReadUInt64(TestMachine.Gdt + 0x90) >> 40) & 0xFF);
    }

    /// <summary>Outside IA-32e mode a TSS descriptor is 8 bytes: the GDT limit need only cover those, and a
    /// 16-bit TSS (type 1) is also accepted (marked busy as type 3).</summary>
    [Theory]
    [InlineData(0x89, 0x8B)]
    [InlineData(0x81, 0x83)]
    public void Ltr_outside_ia32e_mode_reads_an_8_byte_descriptor(int access, int busy)
    {
        var m = NewMachine();
        m.EnterProtectedMode32();
        m.Memory.WriteUInt64(TestMachine.Gdt + 0x50, TestMachine.Descriptor(0x1234_5678, 0x67, access));
        m.Memory.WriteUInt64(TestMachine.Gdt + 0x58, ulong.MaxValue); // not part of it
        m.Cpu.SetDescriptorTables(new DescriptorTable(TestMachine.Gdt, 0x57), m.Cpu.Idtr);
        m.Load(
            a =>
            {
                a.mov(eax, 0x50);
                a.ltr(ax);
                a.hlt();
            },
            TestMachine.CodeBase,
            32);
        m.RunToHalt();

        Assert.Equal(new SegmentCache(0x50, 0x1234_5678, 0x67, (ushort)busy), m.Cpu.Tr);
        Assert.Equal((ulong)busy, (m.Memory.ReadUInt64(TestMachine.Gdt + 0x50) >> 40) & 0xFF);
    }

    /// <summary>A null selector never reaches the GDT: LTR 0 is #GP(0) even if entry 0 holds an available TSS.</summary>
    [Fact]
    public void Ltr_of_a_null_selector_raises_GP0_whatever_gdt_entry_0_holds()
    {
        var m = NewMachine();
        m.EnterProtectedMode32();
        m.Memory.WriteUInt64(TestMachine.Gdt, TestMachine.Descriptor(0x1234_5678, 0x67, 0x89));
        var before = m.Cpu.Tr;
        ulong at = m.RunSetupThenFaulting(a => a.xor(eax, eax), a => a.ltr(ax), 32);

        m.AssertException32(13, at, errorCode: 0);
        Assert.Equal(before, m.Cpu.Tr);
    }

    [Fact]
    public void Lldt_loads_a_16_byte_ldt_descriptor_and_sldt_reads_the_selector()
    {
        var m = NewMachine();
        m.SetDescriptor(0x50, TestMachine.Descriptor(0x8765_4000, 0x1FF, 0x82));
        m.SetDescriptor(0x58, 0x0000_1234);
        m.Load(a =>
        {
            a.mov(eax, 0x52);
            a.lldt(ax);
            a.mov(rbx, -1);
            a.sldt(rbx);
            a.sldt(__word_ptr[Scratch]);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(new SegmentCache(0x52, 0x1234_8765_4000UL, 0x1FF, 0x82), m.Cpu.Ldtr);
        Assert.Equal(0x52UL, m.Reg(3));
        Assert.Equal(0x52UL, m.Memory.ReadUInt64(Scratch) & 0xFFFF);
    }

    [Fact]
    public void Lldt_with_a_null_selector_makes_ldtr_unusable()
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(eax, 3);
            a.lldt(ax);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(3, m.Cpu.Ldtr.Selector);
        Assert.False(m.Cpu.Ldtr.Present);
    }

    public static TheoryData<string, ushort, int, int> LldtRefusals() => new()
    {
        { "in the LDT", 0x54, 13, 0x54 },
        { "data segment", (ushort)(TestMachine.Data | 1), 13, TestMachine.Data },
        { "TSS", TestMachine.TssSel, 13, TestMachine.TssSel },
        { "not present", 0x60, 11, 0x60 },
        { "beyond the GDT limit", 0x70, 13, 0x70 },
    };

    [Theory]
    [MemberData(nameof(LldtRefusals))]
    public void Lldt_refuses_what_is_not_a_present_ldt_descriptor(string why, ushort selector, int vector, int errorCode)
    {
        var m = NewMachine();
        m.SetDescriptor(0x50, TestMachine.Descriptor(0x8000, 0xFFF, 0x82));
        m.SetDescriptor(0x58, 0);
        m.SetDescriptor(0x60, TestMachine.Descriptor(0x8000, 0xFFF, 0x02));
        m.SetDescriptor(0x68, 0);
        var before = m.Cpu.Ldtr;
        ulong at = m.RunSetupThenFaulting(a => a.mov(eax, selector), a => a.lldt(ax));

        m.AssertException(vector, at, errorCode);
        Assert.True(m.Cpu.Ldtr == before, why);
    }

    // ---- SMSW, LMSW, CLTS ----

    /// <summary>SMSW to a register stores CR0 zero-extended to the operand size in 64-bit mode; to memory, 16 bits.</summary>
    [Fact]
    public void Smsw_stores_cr0_to_the_register_size_and_16_bits_to_memory()
    {
        var m = NewMachine();
        m.Memory.WriteUInt64(Scratch, ulong.MaxValue);
        m.Load(a =>
        {
            a.mov(rax, -1);
            a.smsw(rax);
            a.mov(rbx, -1);
            a.smsw(ebx);
            a.mov(rcx, -1);
            a.smsw(cx);
            a.smsw(__word_ptr[Scratch]);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(Cr0Boot, m.Reg(0));
        Assert.Equal(Cr0Boot, m.Reg(3));
        Assert.Equal(0xFFFF_FFFF_FFFF_0031UL, m.Reg(1));
        Assert.Equal(0xFFFF_FFFF_FFFF_0031UL, m.Memory.ReadUInt64(Scratch));
    }

    /// <summary>LMSW loads only PE, MP, EM and TS and cannot clear PE (SDM LMSW); CLTS clears TS.</summary>
    [Fact]
    public void Lmsw_loads_the_low_four_bits_without_clearing_pe_and_clts_clears_ts()
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(eax, 0xFFCA); // TS, MP, and bits LMSW must ignore; PE = 0
            a.lmsw(ax);
            a.mov(rbx, cr0);
            a.clts();
            a.mov(rcx, cr0);
            a.mov(eax, 0x4);    // EM only: MP and TS cleared again
            a.lmsw(ax);
            a.mov(rdx, cr0);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(Cr0Boot | Cr0Ts | 2, m.Reg(3));
        Assert.Equal(Cr0Boot | 2, m.Reg(1));
        Assert.Equal(Cr0Boot | 4, m.Reg(2));
    }

    // ---- MSRs ----

    /// <summary>MSRs the CPU keeps itself: a write reads back (SDM Vol 4 2.1; the low 32 bits for IA32_FMASK).</summary>
    public static TheoryData<uint, ulong> MsrRoundTrips() => new()
    {
        { 0xC0000081, 0x0023_0010_DEAD_BEEFUL },  // STAR
        { 0xC0000082, 0xFFFF_8000_1234_5678UL },  // LSTAR
        { 0xC0000083, 0x0000_7FFF_1234_5678UL },  // CSTAR
        { 0xC0000084, 0x0000_0000_0004_7700UL },  // FMASK
        { 0xC0000100, 0xFFFF_8765_4321_0000UL },  // FS_BASE
        { 0xC0000101, 0x0000_1234_5678_9000UL },  // GS_BASE
        { 0xC0000102, 0xFFFF_FFFF_8000_0000UL },  // KERNEL_GS_BASE
        { 0xC0000103, 0x0000_0000_ABCD_1234UL },  // TSC_AUX
        { 0x277, 0x0007_0106_0504_0100UL },       // PAT: types 0, 1, 4, 5, 6, 7 only
        { 0x174, 0x0000_0000_0000_0010UL },       // SYSENTER_CS
        { 0x175, 0xFFFF_8000_0000_1000UL },       // SYSENTER_ESP
        { 0x176, 0x0000_7FFF_FFFF_F000UL },       // SYSENTER_EIP
    };

    [Theory]
    [MemberData(nameof(MsrRoundTrips))]
    public void A_cpu_msr_reads_back_what_wrmsr_wrote_split_over_edx_eax(uint msr, ulong value)
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(ecx, msr);
            a.mov(eax, (uint)value);
            a.mov(edx, (uint)(value >> 32));
            a.wrmsr();
            a.mov(rax, -1);
            a.mov(rdx, -1);
            a.rdmsr();
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(value & 0xFFFF_FFFF, m.Reg(0));
        Assert.Equal(value >> 32, m.Reg(2));
    }

    [Fact]
    public void Fs_and_gs_base_msrs_are_the_segment_bases()
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(ecx, 0xC0000100);
            a.mov(eax, 0x1000);
            a.mov(edx, 0xFFFF_8000);
            a.wrmsr();
            a.mov(ecx, 0xC0000101);
            a.mov(eax, 0x2000);
            a.mov(edx, 0x10);
            a.wrmsr();
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(0xFFFF_8000_0000_1000UL, m.Cpu.GetSegment(SegmentRegister.Fs).Base);
        Assert.Equal(0x10_0000_2000UL, m.Cpu.GetSegment(SegmentRegister.Gs).Base);
    }

    /// <summary>WRMSR #GP(0) for values the MSR cannot hold (SDM WRMSR; Vol 4): non-canonical addresses, TSC_AUX
    /// bits 63:32, PAT entries 2, 3 and above 7, EFER reserved bits.</summary>
    public static TheoryData<uint, ulong> RefusedMsrWrites() => new()
    {
        { 0xC0000082, 0x0000_8000_0000_0000UL },  // LSTAR
        { 0xC0000083, 0xFFFF_7FFF_FFFF_FFFFUL },  // CSTAR
        { 0xC0000100, 0x0000_8000_0000_0000UL },  // FS_BASE
        { 0xC0000101, 0x8000_0000_0000_0000UL },  // GS_BASE
        { 0xC0000102, 0x0001_0000_0000_0000UL },  // KERNEL_GS_BASE
        { 0x175, 0x0000_8000_0000_0000UL },       // SYSENTER_ESP
        { 0x176, 0x0000_8000_0000_0000UL },       // SYSENTER_EIP
        { 0xC0000103, 0x0000_0001_0000_0000UL },  // TSC_AUX
        { 0x277, 0x0007_0406_0007_0402UL },       // PAT entry 0 = 2
        { 0x277, 0x0307_0406_0007_0406UL },       // PAT entry 7 = 3
        { 0x277, 0x0007_0406_0807_0406UL },       // PAT entry 3 = 8
        { 0x277, 0x0007_FF06_0007_0406UL },       // PAT entry 5 = 0xFF
        { MsrEfer, 0xD02UL },                     // EFER bit 1
        { MsrEfer, 0xF00UL },                     // EFER bit 9
        { MsrEfer, 0x8000_0000_0000_0D00UL },     // EFER bit 63
    };

    [Theory]
    [MemberData(nameof(RefusedMsrWrites))]
    public void Wrmsr_of_a_value_the_msr_cannot_hold_raises_GP0(uint msr, ulong value)
    {
        var m = NewMachine();
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.mov(ecx, msr);
                a.mov(eax, (uint)value);
                a.mov(edx, (uint)(value >> 32));
            },
            a => a.wrmsr());

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(0xD00UL, m.Cpu.Efer);
        Assert.Equal(0UL, m.Cpu.GetSegment(SegmentRegister.Fs).Base);
        Assert.Equal(0UL, m.Cpu.GetSegment(SegmentRegister.Gs).Base);
        Assert.Equal(0UL, m.Cpu.KernelGsBase);
    }

    /// <summary>EFER.LME cannot change while CR0.PG = 1 (SDM 10.8.5); EFER.LMA is read-only: a write keeps it.</summary>
    [Fact]
    public void Efer_lme_is_fixed_while_paging_and_lma_ignores_writes()
    {
        var m = NewMachine();
        ulong at = m.RunSetupThenFaulting(
            a =>
            {
                a.mov(ecx, MsrEfer);
                a.xor(edx, edx);
                a.mov(eax, 0x901);  // SCE | NXE | LME, LMA written as 0
                a.wrmsr();
                a.rdmsr();
                a.mov(ebx, eax);
                a.mov(eax, 0x800);  // LME cleared while paging
            },
            a => a.wrmsr());

        m.AssertException(13, at, errorCode: 0);
        Assert.Equal(0xD01UL, m.Reg(3));
        Assert.Equal(0xD01UL, m.Cpu.Efer);

        var legacy = NewMachine();
        legacy.EnterProtectedMode32();
        legacy.Load(
            a =>
            {
                a.mov(ecx, MsrEfer);
                a.xor(edx, edx);
                a.mov(eax, 0x500);  // LME with LMA written as 1 while paging is off
                a.wrmsr();
                a.hlt();
            },
            TestMachine.CodeBase,
            32);
        legacy.RunToHalt();
        Assert.Equal(0x100UL, legacy.Cpu.Efer);
    }

    // ---- Time stamp counter, CPUID, I/O ----

    [Fact]
    public void Rdtsc_and_rdtscp_split_the_counter_over_edx_eax_and_rdtscp_loads_ecx_with_tsc_aux()
    {
        var m = NewMachine();
        m.Host.Tsc = 0x1122_3344_5566_7788;
        m.Load(a =>
        {
            a.mov(ecx, 0xC0000103);
            a.mov(eax, 0xABCD_1234);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(rax, cr4);
            a.or(eax, 4);      // CR4.TSD restricts only CPL > 0
            a.mov(cr4, rax);
            a.mov(rax, -1);
            a.mov(rdx, -1);
            a.mov(rcx, -1);
            a.rdtsc();
            a.mov(r8, rax);
            a.mov(r9, rdx);
            a.mov(r10, rcx);
            a.mov(rax, -1);
            a.mov(rdx, -1);
            a.rdtscp();
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(0x5566_7788UL, m.Reg(8));
        Assert.Equal(0x1122_3344UL, m.Reg(9));
        Assert.Equal(ulong.MaxValue, m.Reg(10)); // RDTSC leaves RCX
        Assert.Equal(0x5566_7788UL, m.Reg(0));
        Assert.Equal(0x1122_3344UL, m.Reg(2));
        Assert.Equal(0xABCD_1234UL, m.Reg(1));
    }

    [Fact]
    public void Cpuid_passes_eax_and_ecx_to_the_host_and_zero_extends_the_four_results()
    {
        var m = NewMachine();
        m.Load(a =>
        {
            a.mov(rax, unchecked((long)0xFFFF_FFFF_0000_0007UL));
            a.mov(rcx, unchecked((long)0xFFFF_FFFF_0000_0003UL));
            a.mov(rbx, -1);
            a.mov(rdx, -1);
            a.cpuid();
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(8UL, m.Reg(0));      // the fake host answers leaf + 1, subleaf + 2, 0x1234, 0x5678
        Assert.Equal(5UL, m.Reg(3));
        Assert.Equal(0x1234UL, m.Reg(1));
        Assert.Equal(0x5678UL, m.Reg(2));
    }

    [Fact]
    public void In_and_out_take_the_port_from_dx_or_the_immediate_and_the_width_from_the_register()
    {
        var m = NewMachine();
        m.Host.PortValues[0x3F8] = 0x8765_4321;
        m.Host.PortValues[0x71] = 0xAABB_CCDD;
        m.Load(a =>
        {
            a.mov(edx, 0x3F8);
            a.mov(rax, -1);
            a.@in(eax, dx);
            a.mov(r8, rax);
            a.mov(rax, -1);
            a.@in(al, 0x71);
            a.mov(r9, rax);
            a.mov(eax, 0x1234_5678);
            a.@out(dx, ax);
            a.@out(0x80, al);
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(0x8765_4321UL, m.Reg(8));
        Assert.Equal(0xFFFF_FFFF_FFFF_FFDDUL, m.Reg(9));
        Assert.Equal(new List<(ushort, uint, int)> { (0x3F8, 0x5678, 2), (0x80, 0x78, 1) }, m.Host.PortWrites);
    }

    [Fact]
    public void Swapgs_outside_64_bit_mode_raises_UD()
    {
        var m = NewMachine();
        m.EnterCompatibilityMode();
        ulong at = m.RunSetupThenFaulting(a => a.nop(), a => a.db(0x0F, 0x01, 0xF8), 32);

        m.AssertException(6, at);
    }

    [Fact]
    public void Hlt_halts_the_cpu_and_tells_the_host()
    {
        var m = NewMachine();
        m.Load(a => a.hlt());
        var r = m.Cpu.Run(100);

        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.True(m.Cpu.IsHalted);
        Assert.Equal(1, m.Host.Halts);
        Assert.Equal(TestMachine.CodeBase + 1, m.Cpu.Rip);
    }

    /// <summary>PUSHF never stores RF or VM: the image holds them as 0 (SDM PUSHF).</summary>
    [Fact]
    public void Pushfq_stores_rf_as_zero()
    {
        var m = NewMachine();
        m.Cpu.Rflags = 0x10002 | 0x200;
        m.Load(a =>
        {
            a.pushfq();
            a.hlt();
        });
        m.RunToHalt();

        Assert.Equal(0x202UL, m.StackSlot(0));
    }
}
