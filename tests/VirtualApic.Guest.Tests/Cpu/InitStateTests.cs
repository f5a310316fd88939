// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// The processor state after power-up and after INIT (SDM Vol 3A 10.1.1, table 10-1): what INIT resets
/// (general registers, RIP, RFLAGS, CR0 but for CD and NW, CR2-CR4, EFER, segment registers and their
/// caches, GDTR/IDTR/LDTR/TR, DR0-DR3/DR6/DR7, the TLBs) and what it keeps (CR0.CD and CR0.NW, and the
/// MSRs the table does not list: "all other MSRs ... INIT: unchanged").
/// </summary>
public class InitStateTests
{
    private const uint MsrSysenterCs = 0x174, MsrSysenterEsp = 0x175, MsrSysenterEip = 0x176, MsrPat = 0x277,
        MsrStar = 0xC0000081, MsrLstar = 0xC0000082, MsrCstar = 0xC0000083, MsrSfmask = 0xC0000084,
        MsrKernelGsBase = 0xC0000102, MsrTscAux = 0xC0000103;

    /// <summary>MSRs with the value each gets before INIT (all kept by INIT).</summary>
    private static readonly (uint Msr, ulong Value)[] KeptMsrs =
    [
        (MsrSysenterCs, 0x10), (MsrSysenterEsp, 0x12345678), (MsrSysenterEip, 0x9ABCDEF0),
        (MsrPat, 0x0006060606060606), (MsrStar, 0x0023001000000000), (MsrLstar, 0xFFFF800000001000),
        (MsrCstar, 0xFFFF800000002000), (MsrSfmask, 0x47700), (MsrKernelGsBase, 0xFFFF800000003000), (MsrTscAux, 7),
    ];

    private static void Init(TestMachine m)
    {
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Init, 0));
        m.Cpu.RequestEventCheck();
        Assert.Equal(new RunResult(StopReason.WaitForSipi, 0), m.Cpu.Run(100));
    }

    [Fact]
    public void Power_up_state_matches_table_10_1()
    {
        var cpu = new X86Cpu(new FakeHost(), new PhysicalMemory(1 << 20));
        Assert.Equal(0x60000010UL, cpu.Cr0);
        Assert.Equal(0xFFF0UL, cpu.Rip);
        Assert.Equal(2UL, cpu.Rflags);
        Assert.Equal(new SegmentCache(0xF000, 0xFFFF0000, 0xFFFF, 0x9B), cpu.GetSegment(SegmentRegister.Cs));
        Assert.Equal(CpuMode.Real, cpu.Mode);
        Assert.False(cpu.IsWaitingForSipi);
        Assert.Equal(0L, cpu.InstructionsRetired);
    }

    [Fact]
    public void INIT_resets_registers_segments_tables_and_control_registers()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            var all = new[] { rax, rcx, rdx, rbx, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 };
            for (int r = 0; r < all.Length; r++)
            {
                a.mov(all[r], 0x1111 * (r + 1));
            }

            a.mov(rax, 0x12345000);
            a.mov(cr2, rax);
            a.mov(ecx, 0xC0000100);                  // FS_BASE
            a.mov(eax, 0x5000);
            a.xor(edx, edx);
            a.wrmsr();
            a.sti();
            a.hlt();
        });
        m.RunToHalt();
        Init(m);

        var cpu = m.Cpu;
        Assert.True(cpu.IsWaitingForSipi);
        Assert.False(cpu.IsHalted);
        Assert.Equal(0xFFF0UL, cpu.Rip);
        Assert.Equal(2UL, cpu.Rflags);
        Assert.Equal(0x10UL, cpu.Cr0);                // CD and NW were clear: they stay clear
        Assert.Equal(0UL, cpu.Cr2);
        Assert.Equal(0UL, cpu.Cr3);
        Assert.Equal(0UL, cpu.Cr4);
        Assert.Equal(0UL, cpu.Efer);
        Assert.Equal(CpuMode.Real, cpu.Mode);
        Assert.Equal(0, cpu.Cpl);
        for (int r = 0; r < 16; r++)
        {
            // EDX holds the processor signature (family 6 in bits 11:8); every other GPR is 0.
            Assert.Equal(r == 2 ? 0x600UL : 0UL, cpu.GetRegister(r) & (r == 2 ? 0xFFFFFF00UL : ulong.MaxValue));
        }

        Assert.Equal(new SegmentCache(0xF000, 0xFFFF0000, 0xFFFF, 0x9B), cpu.GetSegment(SegmentRegister.Cs));
        foreach (var s in new[] { SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Ss, SegmentRegister.Fs, SegmentRegister.Gs })
        {
            Assert.Equal(new SegmentCache(0, 0, 0xFFFF, 0x93), cpu.GetSegment(s));
        }

        Assert.Equal(new DescriptorTable(0, 0xFFFF), cpu.Gdtr);
        Assert.Equal(new DescriptorTable(0, 0xFFFF), cpu.Idtr);
        Assert.Equal(new SegmentCache(0, 0, 0xFFFF, 0x82), cpu.Ldtr);
        Assert.Equal(new SegmentCache(0, 0, 0xFFFF, 0x8B), cpu.Tr);
        Assert.Equal(new[] { false }, m.Host.InterruptFlagChanges.Skip(1).ToArray()); // STI's rise, then INIT's fall
    }

    [Theory]
    [InlineData(0x80010031UL, 0x00000010UL)]
    [InlineData(0xC0010031UL, 0x40000010UL)]
    [InlineData(0xE0010031UL, 0x60000010UL)]
    public void INIT_keeps_CD_and_NW_and_sets_only_ET_besides(ulong cr0Before, ulong cr0After)
    {
        var m = new TestMachine();
        m.Cpu.SetControlRegisters(cr0Before, TestMachine.Pml4, 0x20, 0x900);
        m.Load(a => a.hlt());
        m.RunToHalt();
        Init(m);
        Assert.Equal(cr0After, m.Cpu.Cr0);
    }

    [Fact]
    public void INIT_keeps_the_MSRs_and_resets_the_debug_registers()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            foreach (var (msr, value) in KeptMsrs)
            {
                a.mov(ecx, msr);
                a.mov(eax, (uint)value);
                a.mov(edx, (uint)(value >> 32));
                a.wrmsr();
            }

            a.mov(rax, 0x1000);
            a.mov(dr0, rax);
            a.mov(dr1, rax);
            a.mov(dr2, rax);
            a.mov(dr3, rax);
            a.mov(eax, 0x4FF0);
            a.mov(dr6, rax);
            a.mov(eax, 0x403);
            a.mov(dr7, rax);
            a.hlt();
        });
        m.RunToHalt();
        Init(m);

        // After the SIPI, real-mode code at 0800:0000 stores each MSR and then DR0-DR3, DR6, DR7 at 0x7000.
        m.Load(
            a =>
            {
                a.mov(di, 0x7000);
                foreach (var (msr, _) in KeptMsrs)
                {
                    a.mov(ecx, msr);
                    a.rdmsr();
                    a.mov(__dword_ptr[di], eax);
                    a.mov(__dword_ptr[di + 4], edx);
                    a.add(di, 8);
                }

                foreach (var dr in new[] { dr0, dr1, dr2, dr3, dr6, dr7 })
                {
                    a.mov(eax, dr);
                    a.mov(__dword_ptr[di], eax);
                    a.add(di, 8);
                }

                a.hlt();
            },
            0x8000,
            16);
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Sipi, 8));
        m.Cpu.RequestEventCheck();
        m.RunToHalt();

        ulong at = 0x7000;
        foreach (var (msr, value) in KeptMsrs)
        {
            Assert.True(value == m.Memory.ReadUInt64(at), $"MSR {msr:X}");
            at += 8;
        }

        ulong[] drs = [0, 0, 0, 0, 0xFFFF0FF0, 0x400];
        foreach (ulong dr in drs)
        {
            Assert.Equal(dr, m.Memory.ReadUInt32(at));
            at += 8;
        }

        Assert.Equal(0xFFFF800000003000UL, m.Cpu.KernelGsBase);
    }

    [Fact]
    public void INIT_flushes_the_TLB_so_real_mode_fetches_the_physical_page()
    {
        var m = new TestMachine();
        const ulong Code = 0x400000;
        m.Memory.WriteUInt64(TestMachine.Pd, 0x200000 | 0x87); // linear 0-2 MiB -> physical 2-4 MiB
        m.Memory.Write(0x208000, [0xC3]);                    // what linear 0x8000 is under paging: RET
        m.Load(
            a =>
            {
                a.mov(esp, 0x480000);
                a.call(0x8000UL);                           // fills the fetch TLB for linear page 8
                a.hlt();
            },
            Code);
        m.Cpu.Rip = Code;
        m.RunToHalt();
        Init(m);
        m.Memory.Write(0x8000, [0xB0, 0x5A, 0xF4]);          // mov al, 0x5A; hlt at physical 0x8000
        m.Host.Events.Enqueue(new CpuEvent(CpuEventKind.Sipi, 8));
        m.Cpu.RequestEventCheck();
        m.RunToHalt();
        Assert.Equal(0x5AUL, m.Reg(0));
        Assert.Equal(3UL, m.Cpu.Rip);
    }

    [Fact]
    public void INIT_wakes_a_halted_CPU_into_wait_for_SIPI()
    {
        var m = new TestMachine();
        m.Load(a => a.hlt());
        m.RunToHalt();
        Assert.True(m.Cpu.IsHalted);
        Init(m);
        Assert.False(m.Cpu.IsHalted);
        Assert.True(m.Cpu.IsWaitingForSipi);
    }

    [Fact]
    public void Multiboot_entry_state_has_flat_4_GiB_data_segments()
    {
        var m = new TestMachine();
        m.Cpu.SetMultibootEntryState(0x9000, 0x9500);
        foreach (var s in new[] { SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Ss, SegmentRegister.Fs, SegmentRegister.Gs })
        {
            Assert.Equal(new SegmentCache(0x18, 0, 0xFFFFFFFF, 0xC093), m.Cpu.GetSegment(s));
        }

        Assert.Equal(new SegmentCache(0x10, 0, 0xFFFFFFFF, 0xC09B), m.Cpu.GetSegment(SegmentRegister.Cs));
        Assert.Equal(0x11UL, m.Cpu.Cr0);
        Assert.Equal(0x9000UL, m.Cpu.Rip);
    }
}
