// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>Self-modifying and cross-CPU-modified code, string instructions, and the allocation-free hot loop.</summary>
public class CodeAndStringTests
{
    [Fact]
    public void A_store_into_code_that_already_ran_invalidates_its_decode()
    {
        var m = new TestMachine();
        const ulong Fn = 0x140000;
        m.Load(
            a =>
            {
                a.mov(eax, 1);
                a.ret();
            },
            Fn);
        m.Load(a =>
        {
            a.call((ulong)Fn);
            a.mov(ebx, eax);
            a.mov(__dword_ptr[Fn + 1], 2); // patch the immediate of "mov eax, 1"
            a.call((ulong)Fn);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(1UL, m.Reg(3));
        Assert.Equal(2UL, m.Reg(0));
    }

    [Fact]
    public void A_store_to_the_next_instruction_in_the_same_page_takes_effect()
    {
        // Patch the immediate of the very next instruction (already decoded? no: but its page is).
        var p = new TestMachine();
        const ulong Start = 0x100000;
        ulong next = p.Load(a =>
        {
            a.mov(rcx, 0x100000 + 13 + 1);       // the immediate byte of the next instruction (movabs 10 + mov byte 3, then B3 ib)
            a.mov(__byte_ptr[rcx], 0x42);
        });
        p.Load(a =>
        {
            a.mov(bl, 0);
            a.hlt();
        }, next);
        Assert.Equal(Start + 13, next);
        p.RunToHalt();
        Assert.Equal(0x42UL, p.Reg(3) & 0xFF);
    }

    [Fact]
    public void A_store_by_another_cpu_invalidates_this_cpus_decode()
    {
        var memory = new PhysicalMemory(16 << 20);
        var m = new TestMachine();
        // Two CPUs on one PhysicalMemory: reuse TestMachine's layout by copying its RAM.
        var hostA = new FakeHost();
        var hostB = new FakeHost();
        var a = new X86Cpu(hostA, memory);
        var b = new X86Cpu(hostB, memory);
        byte[] image = m.Memory.Bytes.ToArray();
        memory.Write(0, image.AsSpan(0, 0x90000));
        foreach (var cpu in new[] { a, b })
        {
            cpu.SetDescriptorTables(new DescriptorTable(TestMachine.Gdt, 0x4F), new DescriptorTable(TestMachine.Idt, 0xFFF));
            cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(TestMachine.Code64, 0, 0xFFFFFFFF, 0xA09B));
            cpu.SetSegment(SegmentRegister.Ss, new SegmentCache(TestMachine.Data, 0, 0xFFFFFFFF, 0xC093));
            cpu.SetControlRegisters(0x80010031, TestMachine.Pml4, 0x20, 0x900);
            cpu.SetRegister(4, TestMachine.StackTop);
        }

        Write(memory, 0x140000, asm =>
        {
            asm.mov(eax, 1);
            asm.pause();
            asm.jmp(0x140000);
        });
        Write(memory, 0x150000, asm =>
        {
            asm.mov(__dword_ptr[0x140001], 7);
            asm.hlt();
        });
        a.Rip = 0x140000;
        b.Rip = 0x150000;
        Assert.Equal(StopReason.Pause, a.Run(100).Reason);
        Assert.Equal(1UL, a.GetRegister(0));
        Assert.Equal(StopReason.Halted, b.Run(100).Reason);
        Assert.Equal(StopReason.Pause, a.Run(100).Reason);
        Assert.Equal(7UL, a.GetRegister(0));
    }

    private static void Write(PhysicalMemory memory, ulong address, Action<Assembler> build)
    {
        var asm = new Assembler(64);
        build(asm);
        var s = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(s), address);
        memory.Write(address, s.ToArray());
    }

    [Fact]
    public void Rep_movs_and_stos_forward_and_backward()
    {
        var m = new TestMachine();
        for (int i = 0; i < 64; i++)
        {
            m.Memory.Write(0x200000 + (ulong)i, [(byte)(i + 1)]);
        }

        m.Load(a =>
        {
            a.cld();
            a.mov(rsi, 0x200000);
            a.mov(rdi, 0x210000);
            a.mov(ecx, 64);
            a.rep.movsb();
            a.mov(r8, rsi);
            a.mov(r9, rdi);
            a.std();
            a.mov(rdi, 0x220000 + 8 * 3);
            a.mov(rax, 0x1122334455667788);
            a.mov(ecx, 4);
            a.rep.stosq();
            a.cld();
            a.mov(r10, rdi);
            a.hlt();
        });
        m.RunToHalt();
        byte[] copy = new byte[64];
        m.Memory.Read(0x210000, copy);
        Assert.Equal(Enumerable.Range(1, 64).Select(i => (byte)i).ToArray(), copy);
        Assert.Equal(0x200040UL, m.Reg(8));
        Assert.Equal(0x210040UL, m.Reg(9));
        for (ulong i = 0; i < 4; i++)
        {
            Assert.Equal(0x1122334455667788UL, m.Memory.ReadUInt64(0x220000 + (8 * i)));
        }

        Assert.Equal(0x220000UL - 8, m.Reg(10));
        Assert.Equal(0UL, m.Reg(1));
    }

    [Fact]
    public void Repe_cmps_and_repne_scas_stop_on_the_condition()
    {
        var m = new TestMachine();
        m.Memory.Write(0x200000, "hello world"u8);
        m.Memory.Write(0x210000, "hello wxrld"u8);
        m.Load(a =>
        {
            a.mov(rsi, 0x200000);
            a.mov(rdi, 0x210000);
            a.mov(ecx, 11);
            a.repe.cmpsb();
            a.mov(r8, rcx);
            a.mov(r9, rdi);
            a.mov(rdi, 0x200000);
            a.mov(al, (byte)'w');
            a.mov(ecx, 11);
            a.repne.scasb();
            a.mov(r10, rdi);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(11UL - 8, m.Reg(8));          // mismatch at index 7: 8 compared
        Assert.Equal(0x210008UL, m.Reg(9));
        Assert.Equal(0x200007UL, m.Reg(10));       // 'w' at index 6, RDI past it
    }

    [Fact]
    public void Long_rep_stos_is_interruptible_and_resumes()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rdi, 0x300000);
            a.mov(ecx, 100_000);
            a.mov(al, 0xAB);
            a.rep.stosb();
            a.hlt();
        });
        var r = m.Cpu.Run(4);
        Assert.Equal(StopReason.BudgetExhausted, r.Reason);
        Assert.True(m.Reg(1) is > 0 and < 100_000);
        m.RunToHalt();
        Assert.Equal(0UL, m.Reg(1));
        byte[] b = new byte[100_000];
        m.Memory.Read(0x300000, b);
        Assert.All(b, x => Assert.Equal(0xAB, x));
    }

    [Fact]
    public void Enter_leave_xlat_and_loop()
    {
        var m = new TestMachine();
        m.Memory.Write(0x200000, [10, 20, 30, 40]);
        m.Load(a =>
        {
            var l = a.CreateLabel();
            a.mov(rbp, 0x1234);
            a.enter(32, 0);
            a.mov(r8, rbp);
            a.mov(r9, rsp);
            a.leave();
            a.mov(rbx, 0x200000);
            a.mov(al, 2);
            a.xlatb();
            a.xor(edx, edx);
            a.mov(ecx, 5);
            a.Label(ref l);
            a.add(edx, ecx);
            a.loop(l);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(TestMachine.StackTop - 8, m.Reg(8));
        Assert.Equal(TestMachine.StackTop - 40, m.Reg(9));
        Assert.Equal(0x1234UL, m.Reg(5));
        Assert.Equal(TestMachine.StackTop, m.Reg(4));
        Assert.Equal(30UL, m.Reg(0) & 0xFF);
        Assert.Equal(15UL, m.Reg(2));
    }

    [Fact]
    public void Far_return_to_compatibility_mode_and_back_to_64_bit()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.push(TestMachine.Code32);
            a.push(0x110000);
            a.db(0x48, 0xCB); // retfq
        });
        m.Load(
            a =>
            {
                a.mov(eax, 0x32);
                a.push(TestMachine.Code64);
                a.push(0x120000);
                a.retf();
            },
            0x110000,
            32);
        m.Load(a =>
        {
            a.mov(ebx, 0x64);
            a.hlt();
        }, 0x120000);
        m.RunToHalt();
        Assert.Equal(0x32UL, m.Reg(0));
        Assert.Equal(0x64UL, m.Reg(3));
        Assert.Equal(CpuMode.Long64, m.Cpu.Mode);
    }

    [Fact]
    public void The_hot_loop_does_not_allocate()
    {
        var m = new TestMachine();
        m.Memory.WriteUInt64(0x200000, 0);
        m.Load(a =>
        {
            var l = a.CreateLabel();
            a.Label(ref l);
            a.add(__qword_ptr[0x200000], 1);
            a.mov(rax, __qword_ptr[0x200000]);
            a.cmp(rax, 3);
            a.setne(bl);
            a.push(rax);
            a.pop(rcx);
            a.jmp(l);
        });
        m.Cpu.Run(300_000); // warm up: decode cache, TLB, tiered JIT
        // The least of three runs: the runtime itself (tiering, on-stack replacement) allocates now
        // and then under load, as the library's allocation tests also found.
        long least = long.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var r = m.Cpu.Run(100_000);
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(StopReason.BudgetExhausted, r.Reason);
        }

        Assert.Equal(0, least);
    }
}
