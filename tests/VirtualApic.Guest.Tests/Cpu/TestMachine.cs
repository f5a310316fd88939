// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// A CPU in 64-bit mode on 16 MiB of RAM with a GDT, an identity map of the first GiB (2 MiB pages,
/// user-accessible and writable), an empty IDT and a stack; code assembled with Iced goes at 0x100000.
/// </summary>
internal sealed class TestMachine
{
    public const ulong Gdt = 0x1000, Pml4 = 0x2000, Pdpt = 0x3000, Pd = 0x4000, Idt = 0x5000, Tss = 0x6000;
    public const ulong StackTop = 0x80000, CodeBase = 0x100000;
    public const ushort Code64 = 0x08, Data = 0x10, Code32 = 0x18, UserCode = 0x23, UserData = 0x2B, TssSel = 0x30, Code16 = 0x40, Data16 = 0x48;

    public TestMachine(long ramBytes = 16 << 20)
    {
        Memory = new PhysicalMemory(ramBytes);
        Host = new FakeHost();
        Cpu = new X86Cpu(Host, Memory);
        Host.Cpu = Cpu;
        Memory.WriteUInt64(Gdt + 0x08, 0x00AF9B000000FFFF);
        Memory.WriteUInt64(Gdt + 0x10, 0x00CF93000000FFFF);
        Memory.WriteUInt64(Gdt + 0x18, 0x00CF9B000000FFFF);
        Memory.WriteUInt64(Gdt + 0x20, 0x00AFFB000000FFFF);
        Memory.WriteUInt64(Gdt + 0x28, 0x00CFF3000000FFFF);
        ulong tssDesc = 0x0000890000000067UL | ((Tss & 0xFFFFFF) << 16) | ((Tss >> 24) << 56);
        Memory.WriteUInt64(Gdt + 0x30, tssDesc);
        Memory.WriteUInt64(Gdt + 0x38, Tss >> 32);
        Memory.WriteUInt64(Gdt + 0x40, 0x00009B000000FFFF);
        Memory.WriteUInt64(Gdt + 0x48, 0x000093000000FFFF);
        Memory.WriteUInt64(Pml4, Pdpt | 0x7);
        Memory.WriteUInt64(Pdpt, Pd | 0x7);
        for (ulong i = 0; i < 512; i++)
        {
            Memory.WriteUInt64(Pd + (i * 8), (i << 21) | 0x87);
        }

        Cpu.SetDescriptorTables(new DescriptorTable(Gdt, 0x4F), new DescriptorTable(Idt, 0xFFF));
        Cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(Code64, 0, 0xFFFFFFFF, 0xA09B));
        foreach (var s in new[] { SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Ss, SegmentRegister.Fs, SegmentRegister.Gs })
        {
            Cpu.SetSegment(s, new SegmentCache(Data, 0, 0xFFFFFFFF, 0xC093));
        }

        Cpu.SetControlRegisters(0x80010031, Pml4, 0x20, 0x900);
        Cpu.SetRegister(4, StackTop);
        Cpu.Rip = CodeBase;
        Cpu.Rflags = 2;
    }

    public PhysicalMemory Memory { get; }

    public FakeHost Host { get; }

    public X86Cpu Cpu { get; }

    /// <summary>Assembles <paramref name="build"/> at <paramref name="address"/> and copies it into RAM.</summary>
    public ulong Load(Action<Assembler> build, ulong address = CodeBase, int bitness = 64)
    {
        var a = new Assembler(bitness);
        build(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        Memory.Write(address, stream.ToArray());
        return address + (ulong)stream.Length;
    }

    /// <summary>Runs until the CPU stops for a reason other than the budget; fails on anything but HLT.</summary>
    public RunResult RunToHalt(long budget = 1_000_000)
    {
        var r = Cpu.Run(budget);
        Assert.True(r.Reason == StopReason.Halted, $"stopped with {r.Reason}: {r.Unsupported}\n{Cpu.DumpState()}");
        return r;
    }

    public ulong Reg(int index) => Cpu.GetRegister(index);

    /// <summary>Writes a 64-bit interrupt gate (type 0xE) or trap gate (0xF) for <paramref name="vector"/>.</summary>
    public void SetGate(int vector, ulong handler, int type = 0xE, int dpl = 0, int ist = 0, ushort selector = Code64, bool present = true)
    {
        ulong lo = (handler & 0xFFFF) | ((ulong)selector << 16) | ((ulong)ist << 32) | ((ulong)type << 40) | ((ulong)dpl << 45)
            | (present ? 1UL << 47 : 0) | ((handler >> 16 & 0xFFFF) << 48);
        Memory.WriteUInt64(Idt + (ulong)(vector * 16), lo);
        Memory.WriteUInt64(Idt + (ulong)(vector * 16) + 8, handler >> 32);
    }

    /// <summary>Maps a 4 KiB page at <paramref name="linear"/> (in the 1-3 GiB range) through a fresh page table.</summary>
    public void Map4K(ulong linear, ulong physical, ulong flags)
    {
        // PDPT entry 1..3 -> a PD at 0x7000 + n*0x1000 ; PD entry -> PT at 0x20000 + index*0x1000
        ulong pdptIndex = (linear >> 30) & 511;
        Assert.InRange(pdptIndex, 1UL, 3UL);
        ulong pd = 0x7000 + ((pdptIndex - 1) * 0x1000);
        Memory.WriteUInt64(Pdpt + (pdptIndex * 8), pd | 0x7);
        ulong pdIndex = (linear >> 21) & 511;
        ulong pt = 0x20000 + (((pdptIndex - 1) * 512 + pdIndex) % 64 * 0x1000);
        ulong pde = Memory.ReadUInt64(pd + (pdIndex * 8));
        if ((pde & 1) == 0)
        {
            Memory.WriteUInt64(pd + (pdIndex * 8), pt | 0x7);
        }
        else
        {
            pt = pde & ~0xFFFUL;
        }

        Memory.WriteUInt64(pt + (((linear >> 12) & 511) * 8), physical | flags);
    }

    /// <summary>Writes the GDT descriptor for <paramref name="selector"/> and widens GDTR's limit to cover it.</summary>
    public void SetDescriptor(ushort selector, ulong descriptor)
    {
        Memory.WriteUInt64(Gdt + (ulong)(selector & ~7), descriptor);
        ushort limit = Math.Max(Cpu.Gdtr.Limit, (ushort)(selector | 7));
        Cpu.SetDescriptorTables(new DescriptorTable(Gdt, limit), Cpu.Idtr);
    }

    /// <summary>Sets IDTR's limit, keeping its base.</summary>
    public void SetIdtLimit(ushort limit) => Cpu.SetDescriptorTables(Cpu.Gdtr, new DescriptorTable(Cpu.Idtr.Base, limit));

    /// <summary>Where <see cref="HaltOnExceptions"/> puts its handlers: vector v's HLT is at ExceptionHandlers + 16 * v.</summary>
    public const ulong ExceptionHandlers = 0x180000;

    /// <summary>Points each of the first <paramref name="vectors"/> vectors (the 32 exception vectors by
    /// default) at a HLT of its own at <see cref="HandlerOf"/> through a 64-bit gate of
    /// <paramref name="gateType"/>, so that a run stops inside the handler of whichever event was delivered.</summary>
    public void HaltOnExceptions(int vectors = 32, int gateType = 0xE)
    {
        for (int v = 0; v < vectors; v++)
        {
            Memory.Write(HandlerOf(v), [0xF4]);
            SetGate(v, HandlerOf(v), gateType);
        }
    }

    /// <summary>Where <see cref="HaltOnExceptions"/> puts the HLT of <paramref name="vector"/>.</summary>
    public static ulong HandlerOf(int vector) => ExceptionHandlers + (ulong)(16 * vector);

    /// <summary>Loads SETUP at <see cref="CodeBase"/> (after a NOP), then FAULTING and a HLT, and runs to a
    /// halt; returns the address of FAULTING's first instruction.</summary>
    public ulong RunSetupThenFaulting(Action<Assembler> setup, Action<Assembler> faulting, int bitness = 64)
    {
        ulong at = Load(
            a =>
            {
                a.nop();
                setup(a);
            },
            CodeBase,
            bitness);
        Load(
            a =>
            {
                faulting(a);
                a.hlt();
            },
            at,
            bitness);
        RunToHalt();
        return at;
    }

    /// <summary>The exception vector whose <see cref="HaltOnExceptions"/> handler the CPU stopped in, or -1.</summary>
    public int HaltedInVector =>
        Cpu.Rip > ExceptionHandlers && Cpu.Rip <= ExceptionHandlers + 0x200 && (Cpu.Rip - 1 - ExceptionHandlers) % 16 == 0
            ? (int)((Cpu.Rip - 1 - ExceptionHandlers) / 16)
            : -1;

    /// <summary>The quadword <paramref name="slot"/> slots above RSP.</summary>
    public ulong StackSlot(int slot) => Memory.ReadUInt64(Reg(4) + (ulong)(8 * slot));

    /// <summary>Asserts the run stopped in the handler of <paramref name="vector"/> (64-bit frame) with the faulting
    /// RIP and, when <paramref name="errorCode"/> is not negative, that error code.</summary>
    public void AssertException(int vector, ulong rip, long errorCode = -1)
    {
        Assert.True(HaltedInVector == vector, $"expected vector {vector}, stopped at 0x{Cpu.Rip:x} (vector {HaltedInVector})\n{Cpu.DumpState()}");
        int slot = 0;
        if (errorCode >= 0)
        {
            Assert.Equal((ulong)errorCode, StackSlot(0));
            slot = 1;
        }

        Assert.Equal(rip, StackSlot(slot));
    }

    /// <summary>An 8-byte segment descriptor (SDM Vol 3 3.4.5): <paramref name="access"/> is byte 5 (P, DPL, S,
    /// type), <paramref name="flags"/> the nibble G, D/B, L, AVL.</summary>
    public static ulong Descriptor(ulong baseAddress, uint limit, int access, int flags = 0) =>
        (limit & 0xFFFF) | ((baseAddress & 0xFFFFFF) << 16) | ((ulong)access << 40) | ((ulong)((limit >> 16) & 0xF) << 48)
        | ((ulong)flags << 52) | (((baseAddress >> 24) & 0xFF) << 56);

    /// <summary>Switches to compatibility mode (IA-32e active, CS = the 32-bit <see cref="Code32"/>): code runs as
    /// 32-bit, exceptions still go through the 64-bit IDT.</summary>
    public void EnterCompatibilityMode() =>
        Cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(Code32, 0, 0xFFFFFFFF, 0xC09B));

    /// <summary>Switches to legacy 32-bit protected mode without paging (CR0 = PE | ET, EFER = 0, CR4 = 0) with
    /// 8-byte interrupt gates in the IDT to the <see cref="ExceptionHandlers"/> HLTs through <see cref="Code32"/>.</summary>
    public void EnterProtectedMode32()
    {
        Cpu.SetSegment(SegmentRegister.Cs, new SegmentCache(Code32, 0, 0xFFFFFFFF, 0xC09B));
        Cpu.SetControlRegisters(0x11, 0, 0, 0);
        for (int v = 0; v < 32; v++)
        {
            ulong handler = HandlerOf(v);
            Memory.Write(handler, [0xF4]);
            Memory.WriteUInt64(Idt + (ulong)(8 * v), (handler & 0xFFFF) | ((ulong)Code32 << 16) | (0x8EUL << 40) | ((handler >> 16) << 48));
        }
    }

    /// <summary>Asserts a stop in the handler of <paramref name="vector"/> after delivery through a 32-bit gate
    /// (4-byte frame slots), with the faulting EIP and, when not negative, the error code.</summary>
    public void AssertException32(int vector, ulong eip, long errorCode = -1)
    {
        Assert.True(HaltedInVector == vector, $"expected vector {vector}, stopped at 0x{Cpu.Rip:x}\n{Cpu.DumpState()}");
        ulong esp = Reg(4);
        if (errorCode >= 0)
        {
            Assert.Equal((ulong)errorCode, Memory.ReadUInt32(esp));
            esp += 4;
        }

        Assert.Equal(eip, Memory.ReadUInt32(esp));
    }

    /// <summary>Lets a halted CPU run again at <paramref name="rip"/> with CS <paramref name="cs"/> (or the
    /// current CS): StartFromSipi is the one public way out of HLT without delivering an event.</summary>
    public void Resume(ulong rip, SegmentCache? cs = null)
    {
        var keep = cs ?? Cpu.GetSegment(SegmentRegister.Cs);
        Cpu.StartFromSipi(0);
        Cpu.SetSegment(SegmentRegister.Cs, keep);
        Cpu.Rip = rip;
    }

    /// <summary>Where <see cref="MapChain"/> puts its own PDPT, PD and PT.</summary>
    public const ulong ChainPdpt = 0x30000, ChainPd = 0x31000, ChainPt = 0x32000;

    /// <summary>Maps the 4 KiB page at <paramref name="linear"/> (outside PML4 slot 0) to <paramref name="physical"/>
    /// through a PDPT, PD and PT of its own at <see cref="ChainPdpt"/>..<see cref="ChainPt"/>, each entry with the
    /// flag bits given for its level (the next table's address or the page's is added).</summary>
    public void MapChain(ulong linear, ulong physical, ulong pml4e = 7, ulong pdpte = 7, ulong pde = 7, ulong pte = 7)
    {
        Memory.WriteUInt64(ChainEntry(4, linear), ChainPdpt | pml4e);
        Memory.WriteUInt64(ChainEntry(3, linear), ChainPd | pdpte);
        Memory.WriteUInt64(ChainEntry(2, linear), ChainPt | pde);
        Memory.WriteUInt64(ChainEntry(1, linear), physical | pte);
    }

    /// <summary>The physical address of the entry at <paramref name="level"/> (4 = PML4E, 3 = PDPTE, 2 = PDE,
    /// 1 = PTE) that <see cref="MapChain"/> uses for <paramref name="linear"/>.</summary>
    public static ulong ChainEntry(int level, ulong linear)
    {
        ulong table = level switch { 4 => Pml4, 3 => ChainPdpt, 2 => ChainPd, _ => ChainPt };
        return table + (((linear >> (3 + (9 * level))) & 511) * 8);
    }

    /// <summary>Where <see cref="LoadUser"/> puts the CPL 3 code, its stack, and the CPL 0 stack (TSS.RSP0).</summary>
    public const ulong UserCodeBase = 0x101000, UserStack = 0x60000, Rsp0 = 0x70000;

    /// <summary>Loads, at <see cref="CodeBase"/>, code that loads TR (RSP0 = <see cref="Rsp0"/>) and IRETQs to CPL 3 at
    /// <see cref="UserCodeBase"/>, and assembles <paramref name="user"/> there; returns the end of the user code.</summary>
    public ulong LoadUser(Action<Assembler> user)
    {
        Memory.WriteUInt64(Tss + 4, Rsp0);
        Load(a =>
        {
            a.mov(AssemblerRegisters.ax, TssSel);
            a.ltr(AssemblerRegisters.ax);
            a.push(UserData);
            a.push((int)UserStack);
            a.push(2);
            a.push(UserCode);
            a.push((int)UserCodeBase);
            a.iretq();
        });
        return Load(user, UserCodeBase);
    }
}
