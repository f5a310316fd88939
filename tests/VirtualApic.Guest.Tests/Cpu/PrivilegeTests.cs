// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// Which instructions CPL 3 may execute (SDM vol. 3A 5.9, "Privileged Instructions"; 2.8 and the
/// instruction pages for the CR4.TSD and IOPL rules): each runs as the first instruction of user code
/// entered by IRETQ. A refused one raises #GP(0) with RIP at itself; an allowed one runs and the UD2
/// after it raises #UD. The handlers are HLTs at CPL 0, so the run stops with the frame on the RSP0
/// stack.
/// </summary>
public class PrivilegeTests
{
    private const ulong GpHandler = 0x180000, UdHandler = 0x181000, UserCode = 0x101000, Rsp0 = 0x70000;
    private const ulong Scratch = 0x60100; // user-accessible (the identity map is), below the user stack

    /// <summary>Instructions CPL 3 may not execute, whatever RFLAGS.IOPL and CR4 say.</summary>
    public static TheoryData<string> Privileged() =>
    [
        "hlt", "rdmsr", "wrmsr", "lgdt", "lidt", "ltr", "lldt", "lmsw", "clts", "invlpg", "wbinvd", "invd",
        "mov cr0", "mov cr3", "mov cr4", "mov from cr0", "mov from cr4", "mov dr7", "mov from dr7",
    ];

    [Theory]
    [MemberData(nameof(Privileged))]
    public void A_privileged_instruction_at_cpl3_raises_GP0_at_itself(string name)
    {
        var m = RunAtCpl3(a => Emit(a, name), raxValue: name == "ltr" ? TestMachine.TssSel : 0);

        AssertGp0AtUserCode(m, name);
        Assert.Equal(5UL, m.Host.Msrs[0]); // a refused WRMSR wrote nothing
    }

    /// <summary>CLI, STI, IN and OUT need CPL &lt;= IOPL (no I/O permission bitmap is modelled).</summary>
    [Theory]
    [InlineData("cli")]
    [InlineData("sti")]
    [InlineData("in")]
    [InlineData("out")]
    public void Io_sensitive_instructions_need_iopl_3_at_cpl3(string name)
    {
        AssertGp0AtUserCode(RunAtCpl3(a => Emit(a, name), iopl: 0), name);
        AssertGp0AtUserCode(RunAtCpl3(a => Emit(a, name), iopl: 2), name);

        var allowed = RunAtCpl3(a => Emit(a, name), iopl: 3);

        AssertRanThenUd(allowed, name);
    }

    [Theory]
    [InlineData("cpuid")]
    [InlineData("rdtsc")]
    [InlineData("sgdt")]
    [InlineData("sidt")]
    [InlineData("smsw")]
    [InlineData("str")]
    [InlineData("pushfq")]
    public void Unprivileged_instructions_run_at_cpl3(string name)
    {
        AssertRanThenUd(RunAtCpl3(a => Emit(a, name)), name);
    }

    [Fact]
    public void Rdtsc_at_cpl3_faults_only_with_cr4_tsd_set()
    {
        AssertGp0AtUserCode(RunAtCpl3(a => a.rdtsc(), timeStampDisable: true), "rdtsc with CR4.TSD");
        AssertRanThenUd(RunAtCpl3(a => a.rdtsc(), timeStampDisable: false), "rdtsc without CR4.TSD");
    }

    // Each instruction the tests name, as the user code runs it (memory operands at Scratch).
    private static readonly Dictionary<string, Action<Assembler>> Instructions = new()
    {
        ["hlt"] = a => a.hlt(),
        ["rdmsr"] = a => a.rdmsr(),
        ["wrmsr"] = a => a.wrmsr(),
        ["lgdt"] = a => a.lgdt(__[Scratch]),
        ["lidt"] = a => a.lidt(__[Scratch]),
        ["ltr"] = a => a.ltr(ax),
        ["lldt"] = a => a.lldt(ax),
        ["lmsw"] = a => a.lmsw(ax),
        ["clts"] = a => a.clts(),
        ["invlpg"] = a => a.invlpg(__[Scratch]),
        ["wbinvd"] = a => a.wbinvd(),
        ["invd"] = a => a.invd(),
        ["mov cr0"] = a => a.mov(cr0, rax),
        ["mov cr3"] = a => a.mov(cr3, rax),
        ["mov cr4"] = a => a.mov(cr4, rax),
        ["mov from cr0"] = a => a.mov(rax, cr0),
        ["mov from cr4"] = a => a.mov(rax, cr4),
        ["mov dr7"] = a => a.mov(dr7, rax),
        ["mov from dr7"] = a => a.mov(rax, dr7),
        ["cli"] = a => a.cli(),
        ["sti"] = a => a.sti(),
        ["in"] = a => a.@in(al, dx),
        ["out"] = a => a.@out(dx, al),
        ["cpuid"] = a => a.cpuid(),
        ["rdtsc"] = a => a.rdtsc(),
        ["sgdt"] = a => a.sgdt(__[Scratch]),
        ["sidt"] = a => a.sidt(__[Scratch]),
        ["smsw"] = a => a.smsw(ax),
        ["str"] = a => a.str(ax),
        ["pushfq"] = a => a.pushfq(),
    };

    private static void Emit(Assembler a, string name) => Instructions[name](a);

    // Supervisor code loads the TSS (for RSP0), sets CR4.TSD if asked, then IRETQs to UserCode at
    // CPL 3 with the given IOPL; the user code is BODY; UD2.
    // The operands are ones the instruction would accept at CPL 0 (MSR 0 exists, RAX holds a valid
    // selector for LTR), so the privilege check is the only thing that can refuse it.
    private static TestMachine RunAtCpl3(Action<Assembler> body, int iopl = 0, bool timeStampDisable = false, int raxValue = 0)
    {
        var m = new TestMachine();
        m.Host.Msrs[0] = 5;
        m.Load(a => a.hlt(), GpHandler);
        m.Load(a => a.hlt(), UdHandler);
        m.SetGate(13, GpHandler);
        m.SetGate(6, UdHandler);
        m.Memory.WriteUInt64(TestMachine.Tss + 4, Rsp0);
        m.Load(a =>
        {
            a.mov(ax, TestMachine.TssSel);
            a.ltr(ax);
            if (timeStampDisable)
            {
                a.mov(rax, cr4);
                a.or(rax, 4);
                a.mov(cr4, rax);
            }

            a.mov(edx, 0x80); // an I/O port for IN and OUT (reads as all-ones, writes are dropped)
            a.xor(ecx, ecx);
            a.mov(eax, raxValue);
            a.push(TestMachine.UserData);
            a.push(0x60000);
            a.push(0x2 | (iopl << 12));
            a.push(TestMachine.UserCode);
            a.push((int)UserCode);
            a.iretq();
        });
        m.Load(a =>
        {
            body(a);
            a.ud2();
        }, UserCode);
        m.RunToHalt();
        return m;
    }

    private static ulong Frame(TestMachine m, int slot) => m.Memory.ReadUInt64(m.Reg(4) + (ulong)(8 * slot));

    private static void AssertGp0AtUserCode(TestMachine m, string what)
    {
        Assert.True(m.Cpu.Rip == GpHandler + 1, $"{what}: stopped at 0x{m.Cpu.Rip:x}, not in the #GP handler");
        Assert.Equal(0, m.Cpu.Cpl);
        Assert.Equal(Rsp0 - 48, m.Reg(4));         // CPL 3 -> 0: SS, RSP, RFLAGS, CS, RIP and the error code
        Assert.Equal(0UL, Frame(m, 0));            // #GP(0)
        Assert.Equal(UserCode, Frame(m, 1));       // at the instruction, which did not complete
        Assert.Equal((ulong)TestMachine.UserCode, Frame(m, 2));
    }

    private static void AssertRanThenUd(TestMachine m, string what)
    {
        Assert.True(m.Cpu.Rip == UdHandler + 1, $"{what}: stopped at 0x{m.Cpu.Rip:x}, not in the #UD handler");
        Assert.Equal(Rsp0 - 40, m.Reg(4));         // no error code for #UD
        Assert.NotEqual(UserCode, Frame(m, 0));    // the instruction completed: the fault is the UD2 after it
        Assert.Equal((ulong)TestMachine.UserCode, Frame(m, 1));
    }
}
