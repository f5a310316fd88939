// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text;


namespace VirtualApic.Guest.Cpu;

/// <summary>
/// An x86-64 CPU interpreter: the integer ISA GCC emits plus the system instructions kvm-unit-tests use,
/// in real mode, 32-bit protected mode, compatibility mode and 64-bit mode, with 4-level paging, a TLB,
/// precise exceptions and IDT delivery. Iced decodes; decodes are cached per physical page and
/// invalidated by stores from any CPU sharing the <see cref="PhysicalMemory"/>. Everything outside the
/// CPU (MMIO, ports, most MSRs, CPUID, TSC, CR8, interrupts) goes through <see cref="ICpuHost"/>.
/// </summary>
/// <remarks>Not thread-safe: one thread runs a CPU (and calls <see cref="RequestEventCheck"/> and
/// <see cref="RequestYield"/>) at a time.</remarks>
public sealed partial class X86Cpu
{
    private const ulong FlagCf = 1, FlagPf = 4, FlagAf = 0x10, FlagZf = 0x40, FlagSf = 0x80, FlagTf = 0x100,
        FlagIf = 0x200, FlagDf = 0x400, FlagOf = 0x800, FlagIopl = 0x3000, FlagNt = 0x4000, FlagRf = 0x10000,
        FlagVm = 0x20000, FlagAc = 0x40000, FlagVif = 0x80000, FlagVip = 0x100000, FlagId = 0x200000;

    private const ulong ArithFlags = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagOf;

    private readonly ICpuHost _host;
    private readonly PhysicalMemory _memory;
    private readonly byte[] _ram;
    private readonly ulong _ramSize;
    private readonly uint[] _pageGeneration;
    private readonly GuestFault _fault = new();

    /// <summary>RAX … R15, indexed as in the ModRM encoding.</summary>
    private readonly ulong[] _gpr = new ulong[16];
    private ulong _rip;

    private readonly ushort[] _segSelector = new ushort[6];
    private readonly ulong[] _segBase = new ulong[6];
    private readonly uint[] _segLimit = new uint[6];
    private readonly ushort[] _segAttributes = new ushort[6];

    private ulong _cr0, _cr2, _cr3, _cr4, _efer;
    private ulong _kernelGsBase, _pat = 0x0007040600070406, _tscAux, _star, _lstar, _cstar, _sfmask;
    private ulong _sysenterCs, _sysenterEsp, _sysenterEip;
    private readonly ulong[] _dr = new ulong[8];
    private DescriptorTable _gdtr, _idtr;
    private SegmentCache _ldtr, _tr;
    private int _cpl;

    /// <summary>16, 32 or 64: the code size (decoder bitness) from CS and EFER.LMA.</summary>
    private int _bitness;

    private bool _halted, _waitForSipi, _shutdown;
    private bool _eventCheck, _yieldRequested;

    /// <summary>Set by STI (IF 0→1), MOV SS and POP SS; becomes <see cref="_shadowActive"/> when that instruction retires.</summary>
    private bool _shadowPending;

    /// <summary>The boundary after an STI/MOV SS: no interrupt or NMI is taken until the next instruction retires.</summary>
    private bool _shadowActive;

    private long _retired;

    /// <summary>Creates a CPU in the power-on reset state, attached to a host and shared RAM.</summary>
    /// <param name="host">The machine around this CPU.</param>
    /// <param name="memory">Guest RAM (shared by all CPUs of the machine).</param>
    public X86Cpu(ICpuHost host, PhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(memory);
        _host = host;
        _memory = memory;
        _ram = memory.Ram;
        _ramSize = (ulong)_ram.LongLength;
        _pageGeneration = memory.Generation;
        _reader = new LinearCodeReader(this);
        _decoder16 = Iced.Intel.Decoder.Create(16, _reader, Iced.Intel.DecoderOptions.None);
        _decoder32 = Iced.Intel.Decoder.Create(32, _reader, Iced.Intel.DecoderOptions.None);
        _decoder64 = Iced.Intel.Decoder.Create(64, _reader, Iced.Intel.DecoderOptions.None);
        ResetArchitecturalState(powerOn: true);
    }

    /// <summary>The physical-address width the CPU enforces in page-table entries (reserved bits above it
    /// raise #PF with RSVD). Must agree with CPUID 0x80000008 as the host reports it. Default 46.</summary>
    public int MaxPhysicalAddressBits { get; set; } = 46;

    /// <summary>Instructions retired since construction (INIT does not reset it).</summary>
    public long InstructionsRetired => _retired;

    /// <summary>Whether the CPU is halted (HLT) waiting for an event.</summary>
    public bool IsHalted => _halted;

    /// <summary>Whether the CPU is waiting for a start-up IPI.</summary>
    public bool IsWaitingForSipi => _waitForSipi;

    /// <summary>Whether the CPU is in shutdown (triple fault); only INIT leaves it.</summary>
    public bool IsShutdown => _shutdown;

    /// <summary>Whether the boundary before the next instruction is in an STI / MOV SS interrupt shadow.</summary>
    public bool InInterruptShadow => _shadowActive;

    /// <summary>The current operating mode.</summary>
    public CpuMode Mode =>
        (_cr0 & 1) == 0 ? CpuMode.Real
        : _bitness == 64 ? CpuMode.Long64
        : (_efer & EferLma) != 0 ? (_bitness == 32 ? CpuMode.Compatibility32 : CpuMode.Compatibility16)
        : _bitness == 32 ? CpuMode.Protected32 : CpuMode.Protected16;

    /// <summary>The current privilege level.</summary>
    public int Cpl => _cpl;

    /// <summary>RIP (the offset in CS of the next instruction).</summary>
    public ulong Rip
    {
        get => _rip;
        set
        {
            _rip = value;
        }
    }

    /// <summary>RFLAGS. Setting it does not call the host (use it for boot state and tests).</summary>
    public ulong Rflags
    {
        get => GetRflags();
        set
        {
            _flags = (value & 0x3F7FD5) | 2;
            _lazyOp = LazyNone;
        }
    }

    /// <summary>CR0 (ET reads as 1).</summary>
    public ulong Cr0 => _cr0;

    /// <summary>CR2, the last page-fault linear address.</summary>
    public ulong Cr2 => _cr2;

    /// <summary>CR3.</summary>
    public ulong Cr3 => _cr3;

    /// <summary>CR4.</summary>
    public ulong Cr4 => _cr4;

    /// <summary>IA32_EFER.</summary>
    public ulong Efer => _efer;

    /// <summary>GDTR.</summary>
    public DescriptorTable Gdtr => _gdtr;

    /// <summary>IDTR.</summary>
    public DescriptorTable Idtr => _idtr;

    /// <summary>TR with its descriptor cache.</summary>
    public SegmentCache Tr => _tr;

    /// <summary>LDTR with its descriptor cache.</summary>
    public SegmentCache Ldtr => _ldtr;

    /// <summary>IA32_KERNEL_GS_BASE.</summary>
    public ulong KernelGsBase => _kernelGsBase;

    /// <summary>Reads a general-purpose register.</summary>
    /// <param name="index">0 = RAX … 15 = R15 (ModRM numbering).</param>
    public ulong GetRegister(int index) => _gpr[index];

    /// <summary>Writes a general-purpose register (all 64 bits).</summary>
    /// <param name="index">0 = RAX … 15 = R15 (ModRM numbering).</param>
    /// <param name="value">The value.</param>
    public void SetRegister(int index, ulong value) => _gpr[index] = value;

    /// <summary>A segment register and its descriptor cache.</summary>
    /// <param name="segment">Which one.</param>
    public SegmentCache GetSegment(SegmentRegister segment)
    {
        int s = (int)segment;
        return new SegmentCache(_segSelector[s], _segBase[s], _segLimit[s], _segAttributes[s]);
    }

    /// <summary>Loads a segment register's selector and cache directly (boot state and tests; no checks).</summary>
    /// <param name="segment">Which one.</param>
    /// <param name="cache">Selector, base, limit, attributes.</param>
    public void SetSegment(SegmentRegister segment, SegmentCache cache)
    {
        int s = (int)segment;
        _segSelector[s] = cache.Selector;
        _segBase[s] = cache.Base;
        _segLimit[s] = cache.Limit;
        _segAttributes[s] = cache.Attributes;
        if (segment == SegmentRegister.Cs)
        {
            _cpl = (_cr0 & 1) == 0 ? 0 : cache.Selector & 3;
            UpdateMode();
        }
    }

    /// <summary>Sets the control registers and EFER directly (boot state and tests; no checks, flushes the TLB).</summary>
    /// <param name="cr0">CR0 (ET is forced to 1).</param>
    /// <param name="cr3">CR3.</param>
    /// <param name="cr4">CR4.</param>
    /// <param name="efer">EFER; LMA is recomputed from LME and CR0.PG.</param>
    public void SetControlRegisters(ulong cr0, ulong cr3, ulong cr4, ulong efer)
    {
        _cr0 = cr0 | Cr0Et;
        _cr3 = cr3;
        _cr4 = cr4;
        _efer = efer & ~EferLma;
        if ((_cr0 & Cr0Pg) != 0 && (_efer & EferLme) != 0)
        {
            _efer |= EferLma;
        }

        _cpl = (_cr0 & 1) == 0 ? 0 : _segSelector[1] & 3;
        UpdateMode();
        FlushTlb();
    }

    /// <summary>Loads GDTR and IDTR directly (boot state and tests).</summary>
    /// <param name="gdtr">GDTR.</param>
    /// <param name="idtr">IDTR.</param>
    public void SetDescriptorTables(DescriptorTable gdtr, DescriptorTable idtr)
    {
        _gdtr = gdtr;
        _idtr = idtr;
    }

    /// <summary>Events may have become deliverable: check at the next instruction boundary outside an
    /// interrupt shadow (cheap; callable from inside a host call).</summary>
    public void RequestEventCheck() => _eventCheck = true;

    /// <summary>Ends the current <see cref="Run"/> after the instruction being executed (callable from inside a host call).</summary>
    public void RequestYield() => _yieldRequested = true;

    /// <summary>The platform changed which physical pages are MMIO for this CPU (e.g. the APIC base moved):
    /// forget cached translations.</summary>
    public void FlushMemoryMap() => FlushTlb();

    /// <summary>
    /// The Multiboot v1 hand-off state (Multiboot spec 3.2): 32-bit protected mode, paging off, flat 4 GiB
    /// CS (selector 0x10) and DS/ES/FS/GS/SS (0x18), EAX = 0x2BADB002, EBX = the info structure, IF = 0.
    /// </summary>
    /// <param name="entry">EIP.</param>
    /// <param name="multibootInfo">EBX: physical address of the multiboot information structure.</param>
    public void SetMultibootEntryState(uint entry, uint multibootInfo)
    {
        ResetArchitecturalState(powerOn: false);
        _waitForSipi = false;
        _cr0 = Cr0Pe | Cr0Et;
        _cpl = 0;
        LoadCacheDirect(SegmentRegister.Cs, 0x10, 0, 0xFFFFFFFF, 0xC09B);
        foreach (var s in (ReadOnlySpan<SegmentRegister>)[SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs, SegmentRegister.Ss])
        {
            LoadCacheDirect(s, 0x18, 0, 0xFFFFFFFF, 0xC093);
        }

        _gpr[0] = 0x2BADB002;
        _gpr[3] = multibootInfo;
        _rip = entry;
        _flags = 2;
        UpdateMode();
        FlushTlb();
    }

    /// <summary>The architectural INIT state (SDM Vol 3A table 10-1, INIT column: CR0.CD/NW and the MSRs other
    /// than EFER keep their values), then wait for a start-up IPI, as an application processor does.</summary>
    public void InitAndWaitForSipi()
    {
        ResetArchitecturalState(powerOn: false);
        _waitForSipi = true;
    }

    /// <summary>Leaves wait-for-SIPI in real mode at CS = <paramref name="vector"/> &lt;&lt; 8, IP = 0.</summary>
    /// <param name="vector">The SIPI vector (start page).</param>
    public void StartFromSipi(byte vector)
    {
        _waitForSipi = false;
        _halted = false;
        LoadCacheDirect(SegmentRegister.Cs, (ushort)(vector << 8), (ulong)vector << 12, 0xFFFF, 0x9B);
        _rip = 0;
        UpdateMode();
    }

    /// <summary>A one-screen dump of the architectural state, for hang and failure reports.</summary>
    public string DumpState()
    {
        var sb = new StringBuilder();
        string[] names = ["RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"];
        var c = CultureInfo.InvariantCulture;
        for (int i = 0; i < 16; i++)
        {
            sb.Append(c, $"{names[i],-3}={_gpr[i]:X16}{(i % 4 == 3 ? "\n" : " ")}");
        }

        sb.Append(c, $"RIP={_rip:X16} RFLAGS={GetRflags():X8} CPL={_cpl} mode={Mode} halted={_halted} wait-for-SIPI={_waitForSipi} shadow={_shadowActive}\n");
        string[] segs = ["ES", "CS", "SS", "DS", "FS", "GS"];
        for (int i = 0; i < 6; i++)
        {
            sb.Append(c, $"{segs[i]}={_segSelector[i]:X4} base={_segBase[i]:X16} limit={_segLimit[i]:X8} attr={_segAttributes[i]:X4}\n");
        }

        sb.Append(c, $"CR0={_cr0:X8} CR2={_cr2:X16} CR3={_cr3:X16} CR4={_cr4:X8} EFER={_efer:X}\n");
        sb.Append(c, $"GDTR={_gdtr.Base:X16}/{_gdtr.Limit:X4} IDTR={_idtr.Base:X16}/{_idtr.Limit:X4} TR={_tr.Selector:X4} LDTR={_ldtr.Selector:X4} retired={_retired}");
        return sb.ToString();
    }

    private void LoadCacheDirect(SegmentRegister seg, ushort selector, ulong baseAddress, uint limit, ushort attributes)
    {
        int s = (int)seg;
        _segSelector[s] = selector;
        _segBase[s] = baseAddress;
        _segLimit[s] = limit;
        _segAttributes[s] = attributes;
    }

    private void ResetArchitecturalState(bool powerOn)
    {
        Array.Clear(_gpr);
        _gpr[2] = 0x600;
        _flags = 2;
        _lazyOp = LazyNone;
        _rip = 0xFFF0;
        // Power-up sets CD and NW; INIT keeps them and clears the rest but ET (SDM Vol 3A table 10-1, CR0 footnote).
        _cr0 = powerOn ? 0x60000010 : (_cr0 & (Cr0Cd | Cr0Nw)) | Cr0Et;
        _cr2 = _cr3 = _cr4 = 0;
        _efer = 0;
        LoadCacheDirect(SegmentRegister.Cs, 0xF000, 0xFFFF0000, 0xFFFF, 0x9B);
        foreach (var s in (ReadOnlySpan<SegmentRegister>)[SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs, SegmentRegister.Ss])
        {
            LoadCacheDirect(s, 0, 0, 0xFFFF, 0x93);
        }

        _gdtr = new DescriptorTable(0, 0xFFFF);
        _idtr = new DescriptorTable(0, 0xFFFF);
        _ldtr = new SegmentCache(0, 0, 0xFFFF, 0x82);
        _tr = new SegmentCache(0, 0, 0xFFFF, 0x8B);
        Array.Clear(_dr);
        _dr[6] = 0xFFFF0FF0;
        _dr[7] = 0x400;
        if (powerOn)
        {
            _kernelGsBase = 0;
            _pat = 0x0007040600070406;
            _tscAux = _star = _lstar = _cstar = _sfmask = 0;
            _sysenterCs = _sysenterEsp = _sysenterEip = 0;
        }

        _cpl = 0;
        _halted = false;
        _shutdown = false;
        _shadowActive = _shadowPending = false;
        UpdateMode();
        FlushTlb();
    }

    /// <summary>Recomputes the code size from CS and EFER.LMA and forgets the current fetch page.</summary>
    private void UpdateMode()
    {
        ushort a = _segAttributes[1];
        _bitness = (_efer & EferLma) != 0 && (a & 0x2000) != 0 && (_cr0 & 1) != 0 ? 64 : (a & 0x4000) != 0 && (_cr0 & 1) != 0 ? 32 : 16;
        _fetchLinearPage = ulong.MaxValue;
    }
}
