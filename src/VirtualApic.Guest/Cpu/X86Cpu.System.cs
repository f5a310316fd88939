// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>System instructions: control and debug registers, MSRs, descriptor tables, I/O, HLT/PAUSE,
/// software interrupts, IRET, hypercalls.</summary>
public sealed partial class X86Cpu
{
    private const uint MsrEfer = 0xC0000080, MsrStar = 0xC0000081, MsrLstar = 0xC0000082, MsrCstar = 0xC0000083,
        MsrSfmask = 0xC0000084, MsrFsBase = 0xC0000100, MsrGsBase = 0xC0000101, MsrKernelGsBase = 0xC0000102,
        MsrTscAux = 0xC0000103, MsrPat = 0x277, MsrSysenterCs = 0x174, MsrSysenterEsp = 0x175, MsrSysenterEip = 0x176;

    /// <summary>CR4 bits this CPU accepts; setting any other bit (VMXE, SMXE, PCIDE, LA57, PKE, ...) is #GP(0).</summary>
    private const ulong Cr4Allowed = 0x1 | 0x2 | 0x4 | 0x8 | Cr4Pse | Cr4Pae | 0x40 | Cr4Pge | 0x100 | 0x200 | 0x400 | 0x800
        | 0x10000 | 0x40000 | Cr4Smep | 0x200000;

    private void RequireCpl0()
    {
        if (_cpl != 0)
        {
            RaiseGp(0);
        }
    }

    /// <summary>IN/OUT/INS/OUTS and CLI/STI need CPL ≤ IOPL in protected mode (no I/O permission bitmap is modelled).</summary>
    private void CheckIoPrivilege()
    {
        if ((_cr0 & Cr0Pe) != 0 && _cpl > (int)((_flags >> 12) & 3))
        {
            RaiseGp(0);
        }
    }

    private void ExecSystem(ref Decoded d)
    {
        switch (d.I.Mnemonic)
        {
            case Mnemonic.Cpuid:
                {
                    _host.Cpuid((uint)_gpr[0], (uint)_gpr[1], out uint a, out uint b, out uint c, out uint dx);
                    _gpr[0] = a;
                    _gpr[3] = b;
                    _gpr[1] = c;
                    _gpr[2] = dx;
                    _eventCheck = true;
                    return;
                }

            case Mnemonic.Rdtsc:
            case Mnemonic.Rdtscp:
                {
                    if ((_cr4 & 4) != 0 && _cpl != 0)
                    {
                        RaiseGp(0);
                    }

                    ulong tsc = _host.ReadTsc();
                    _gpr[0] = (uint)tsc;
                    _gpr[2] = tsc >> 32;
                    if (d.I.Mnemonic == Mnemonic.Rdtscp)
                    {
                        _gpr[1] = (uint)_tscAux;
                    }

                    _eventCheck = true;
                    return;
                }

            case Mnemonic.Rdmsr:
                {
                    RequireCpl0();
                    ulong v = ReadMsr((uint)_gpr[1]);
                    _gpr[0] = (uint)v;
                    _gpr[2] = v >> 32;
                    return;
                }

            case Mnemonic.Wrmsr:
                RequireCpl0();
                WriteMsr((uint)_gpr[1], ((ulong)(uint)_gpr[2] << 32) | (uint)_gpr[0]);
                return;
            case Mnemonic.Hlt:
                RequireCpl0();
                _halted = true;
                _host.Halt();
                RequestStop(StopReason.Halted);
                return;
            case Mnemonic.Pause:
                RequestStop(StopReason.Pause);
                return;
            case Mnemonic.Cli:
                CheckIoPrivilege();
                SetInterruptFlag(false);
                return;
            case Mnemonic.Sti:
                CheckIoPrivilege();
                if ((_flags & FlagIf) == 0)
                {
                    _shadowPending = true; // STI blocks events until after the next instruction (SDM STI)
                    SetInterruptFlag(true);
                }

                return;
            case Mnemonic.Pushf:
            case Mnemonic.Pushfd:
            case Mnemonic.Pushfq:
                Push(GetRflags() & ~(FlagRf | FlagVm), -d.I.StackPointerIncrement);
                return;
            case Mnemonic.Popf:
            case Mnemonic.Popfd:
            case Mnemonic.Popfq:
                {
                    int sz = d.I.StackPointerIncrement;
                    ulong v = PeekStack(0, sz);
                    SetStackPointer(StackPointer + (ulong)sz);
                    LoadFlags(v, sz, _cpl, isIret: false);
                    return;
                }

            case Mnemonic.Iret:
            case Mnemonic.Iretd:
            case Mnemonic.Iretq:
                ExecIret(ref d);
                return;
            case Mnemonic.Retf:
                ExecRetf(ref d);
                return;
            case Mnemonic.Int:
                Deliver(d.I.Immediate8, -1, EventSource.Software, _nextRip);
                return;
            case Mnemonic.Int3:
                Deliver(3, -1, EventSource.Software, _nextRip);
                return;
            case Mnemonic.Into:
                if (GetOf())
                {
                    Deliver(4, -1, EventSource.Software, _nextRip);
                }

                return;
            case Mnemonic.Int1:
                Deliver(1, -1, EventSource.External, _nextRip);
                return;
            case Mnemonic.Ud0:
            case Mnemonic.Ud1:
            case Mnemonic.Ud2:
                RaiseUd();
                return;
            case Mnemonic.Vmcall:
            case Mnemonic.Vmmcall:
                _host.Hypercall(_gpr);
                _eventCheck = true;
                return;
            case Mnemonic.In:
                {
                    CheckIoPrivilege();
                    ushort port = d.I.Op1Kind == OpKind.Register ? (ushort)_gpr[2] : d.I.Immediate8;
                    int sz = d.I.Op0Register.GetSize();
                    uint v = _host.PortIn(port, sz);
                    WriteGpr(0, sz, v);
                    _eventCheck = true;
                    return;
                }

            case Mnemonic.Out:
                {
                    CheckIoPrivilege();
                    ushort port = d.I.Op0Kind == OpKind.Register ? (ushort)_gpr[2] : d.I.Immediate8;
                    int sz = d.I.Op1Register.GetSize();
                    _host.PortOut(port, (uint)(_gpr[0] & SizeMask(sz)), sz);
                    _eventCheck = true;
                    return;
                }

            case Mnemonic.Lgdt:
            case Mnemonic.Lidt:
                {
                    RequireCpl0();
                    ulong la = Ea(ref d);
                    ushort limit = (ushort)ReadMem(la, 2);
                    ulong b = ReadMem(MaskLinear(la + 2), _bitness == 64 ? 8 : 4);
                    if (d.I.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16)
                    {
                        b &= 0xFFFFFF;
                    }

                    if (_bitness == 64 && (ulong)((long)(b << 16) >> 16) != b)
                    {
                        RaiseGp(0);
                    }

                    if (d.I.Mnemonic == Mnemonic.Lgdt)
                    {
                        _gdtr = new DescriptorTable(b, limit);
                    }
                    else
                    {
                        _idtr = new DescriptorTable(b, limit);
                    }

                    return;
                }

            case Mnemonic.Sgdt:
            case Mnemonic.Sidt:
                {
                    var t = d.I.Mnemonic == Mnemonic.Sgdt ? _gdtr : _idtr;
                    ulong la = Ea(ref d);
                    int bb = _bitness == 64 ? 8 : 4;
                    ProbeWrite(la, 2 + bb);
                    WriteMem(la, 2, t.Limit);
                    WriteMem(MaskLinear(la + 2), bb, t.Base);
                    return;
                }

            case Mnemonic.Ltr:
                RequireCpl0();
                LoadTaskRegister((ushort)ReadOp(ref d, 0, 2));
                return;
            case Mnemonic.Lldt:
                RequireCpl0();
                LoadLdt((ushort)ReadOp(ref d, 0, 2));
                return;
            case Mnemonic.Str:
                WriteSelectorOperand(ref d, _tr.Selector);
                return;
            case Mnemonic.Sldt:
                WriteSelectorOperand(ref d, _ldtr.Selector);
                return;
            case Mnemonic.Smsw:
                WriteSelectorOperand(ref d, _cr0); // a register gets CR0 to its size (SDM SMSW, 64-bit mode)
                return;
            case Mnemonic.Lmsw:
                {
                    RequireCpl0();
                    ulong v = ReadOp(ref d, 0, 2) & 0xF;
                    WriteCr0((_cr0 & ~0xEUL) | v | (_cr0 & Cr0Pe));
                    return;
                }

            case Mnemonic.Clts:
                RequireCpl0();
                _cr0 &= ~Cr0Ts;
                return;
            case Mnemonic.Invlpg:
                RequireCpl0();
                FlushTlb(); // a large page covers many 4 KiB TLB entries: drop them all
                return;
            case Mnemonic.Wbinvd:
            case Mnemonic.Invd:
                RequireCpl0();
                return;
            case Mnemonic.Clflush:
            case Mnemonic.Clflushopt:
                return;
            case Mnemonic.Swapgs:
                {
                    if (_bitness != 64)
                    {
                        RaiseUd();
                    }

                    RequireCpl0();
                    (_segBase[5], _kernelGsBase) = (_kernelGsBase, _segBase[5]);
                    return;
                }

            default:
                throw new UnsupportedException($"instruction {d.I.Mnemonic} ({d.I.Code}) is not modelled");
        }
    }

    /// <summary>STR/SLDT/SMSW/MOV from Sreg: a register destination gets the value zero-extended or truncated to
    /// its size; memory gets the low 16 bits.</summary>
    private void WriteSelectorOperand(ref Decoded d, ulong value)
    {
        if (d.I.Op0Kind == OpKind.Register)
        {
            var r = d.I.Op0Register;
            WriteGpr(RegIndex[(int)r], r.GetSize(), value);
        }
        else
        {
            WriteMem(Ea(ref d), 2, (ushort)value);
        }
    }

    private void ExecMovSystem(ref Decoded d)
    {
        var r0 = d.I.Op0Register;
        var r1 = d.I.Op1Kind == OpKind.Register ? d.I.Op1Register : Register.None;
        if (d.I.Op0Kind == OpKind.Register && r0 >= Register.CR0 && r0 <= Register.CR15)
        {
            RequireCpl0();
            WriteCr(r0 - Register.CR0, ReadReg(r1));
            return;
        }

        if (r1 >= Register.CR0 && r1 <= Register.CR15)
        {
            RequireCpl0();
            WriteReg(r0, ReadCr(r1 - Register.CR0));
            return;
        }

        if (d.I.Op0Kind == OpKind.Register && r0 >= Register.DR0 && r0 <= Register.DR15)
        {
            RequireCpl0();
            int n = DebugIndex(r0 - Register.DR0);
            ulong v = ReadReg(r1);
            if (n >= 6 && (v >> 32) != 0)
            {
                RaiseGp(0); // DR6 and DR7 bits 63:32 are reserved (SDM MOV DR)
            }

            _dr[n] = v;
            return;
        }

        if (r1 >= Register.DR0 && r1 <= Register.DR15)
        {
            RequireCpl0();
            WriteReg(r0, _dr[DebugIndex(r1 - Register.DR0)]);
            return;
        }

        if (d.I.Op0Kind == OpKind.Register && r0 >= Register.ES && r0 <= Register.GS)
        {
            ushort sel = (ushort)ReadOp(ref d, 1, 2);
            LoadSegment(r0 - Register.ES, sel);
            if (r0 == Register.SS)
            {
                _shadowPending = true; // MOV SS blocks events for one instruction
            }

            return;
        }

        if (r1 >= Register.ES && r1 <= Register.GS)
        {
            WriteSelectorOperand(ref d, _segSelector[r1 - Register.ES]);
            return;
        }

        throw new UnsupportedException($"MOV form {d.I.Code}");
    }

    private int DebugIndex(int n)
    {
        if (n is 4 or 5)
        {
            if ((_cr4 & 8) != 0)
            {
                RaiseUd();
            }

            return n + 2;
        }

        if (n > 7)
        {
            RaiseUd();
        }

        return n;
    }

    private ulong ReadCr(int n)
    {
        switch (n)
        {
            case 0: return _cr0;
            case 2: return _cr2;
            case 3: return _cr3;
            case 4: return _cr4;
            case 8:
                _eventCheck = true;
                return _host.ReadCr8();
            default:
                RaiseUd();
                return 0;
        }
    }

    private void WriteCr(int n, ulong value)
    {
        switch (n)
        {
            case 0:
                WriteCr0(value);
                return;
            case 2:
                _cr2 = value;
                return;
            case 3:
                if ((_efer & EferLma) != 0 && (value >> MaxPhysicalAddressBits) != 0)
                {
                    RaiseGp(0);
                }

                _cr3 = value;
                FlushTlb();
                return;
            case 4:
                WriteCr4(value);
                return;
            case 8:
                if (value > 15 || !_host.TryWriteCr8(value))
                {
                    RaiseGp(0);
                }

                _eventCheck = true;
                return;
            default:
                RaiseUd();
                return;
        }
    }

    /// <summary>MOV to CR0 with the SDM's #GP rules (Vol 3 2.5, 9.8.5): reserved high bits, PG without PE,
    /// NW without CD, enabling paging with LME but not PAE, disabling paging in 64-bit mode.</summary>
    private void WriteCr0(ulong value)
    {
        if ((value >> 32) != 0 || ((value & Cr0Pg) != 0 && (value & Cr0Pe) == 0) || ((value & Cr0Nw) != 0 && (value & Cr0Cd) == 0))
        {
            RaiseGp(0);
        }

        value |= Cr0Et;
        ulong old = _cr0;
        bool pgOn = (value & Cr0Pg) != 0 && (old & Cr0Pg) == 0;
        bool pgOff = (value & Cr0Pg) == 0 && (old & Cr0Pg) != 0;
        if (pgOn && (_efer & EferLme) != 0 && (_cr4 & Cr4Pae) == 0)
        {
            RaiseGp(0);
        }

        if (pgOff && _bitness == 64)
        {
            RaiseGp(0);
        }

        _cr0 = value;
        if (pgOn && (_efer & EferLme) != 0)
        {
            _efer |= EferLma;
        }
        else if (pgOff)
        {
            _efer &= ~EferLma;
        }

        if (((old ^ value) & (Cr0Pg | Cr0Wp | Cr0Pe)) != 0)
        {
            if ((value & Cr0Pe) == 0)
            {
                _cpl = 0;
            }

            FlushTlb();
            UpdateMode();
        }
    }

    private void WriteCr4(ulong value)
    {
        if ((value & ~Cr4Allowed) != 0 || ((_efer & EferLma) != 0 && (value & Cr4Pae) == 0))
        {
            RaiseGp(0);
        }

        ulong old = _cr4;
        _cr4 = value;
        if (((old ^ value) & (Cr4Pse | Cr4Pae | Cr4Pge | Cr4Smep | 0x200000)) != 0)
        {
            FlushTlb();
        }
    }

    private static bool IsCanonical(ulong v) => (ulong)((long)(v << 16) >> 16) == v;

    private ulong ReadMsr(uint msr)
    {
        switch (msr)
        {
            case MsrEfer: return _efer;
            case MsrStar: return _star;
            case MsrLstar: return _lstar;
            case MsrCstar: return _cstar;
            case MsrSfmask: return _sfmask;
            case MsrFsBase: return _segBase[4];
            case MsrGsBase: return _segBase[5];
            case MsrKernelGsBase: return _kernelGsBase;
            case MsrTscAux: return _tscAux;
            case MsrPat: return _pat;
            case MsrSysenterCs: return _sysenterCs;
            case MsrSysenterEsp: return _sysenterEsp;
            case MsrSysenterEip: return _sysenterEip;
            default:
                _eventCheck = true;
                if (!_host.TryReadMsr(msr, out ulong v))
                {
                    RaiseGp(0);
                }

                return v;
        }
    }

    private void WriteMsr(uint msr, ulong value)
    {
        switch (msr)
        {
            case MsrEfer:
                {
                    if ((value & ~(EferSce | EferLme | EferLma | EferNxe)) != 0)
                    {
                        RaiseGp(0);
                    }

                    if ((_cr0 & Cr0Pg) != 0 && ((value ^ _efer) & EferLme) != 0)
                    {
                        RaiseGp(0);
                    }

                    ulong old = _efer;
                    _efer = (value & ~EferLma) | (old & EferLma); // LMA is read-only
                    if (((old ^ _efer) & EferNxe) != 0)
                    {
                        FlushTlb();
                    }

                    return;
                }

            case MsrStar: _star = value; return;
            case MsrLstar: _lstar = CanonicalOrGp(value); return;
            case MsrCstar: _cstar = CanonicalOrGp(value); return;
            case MsrSfmask: _sfmask = value & 0xFFFFFFFF; return;
            case MsrFsBase: _segBase[4] = CanonicalOrGp(value); return;
            case MsrGsBase: _segBase[5] = CanonicalOrGp(value); return;
            case MsrKernelGsBase: _kernelGsBase = CanonicalOrGp(value); return;
            case MsrTscAux:
                if ((value >> 32) != 0)
                {
                    RaiseGp(0);
                }

                _tscAux = value;
                return;
            case MsrPat:
                for (int i = 0; i < 8; i++)
                {
                    ulong t = (value >> (8 * i)) & 0xFF;
                    if (t is 2 or 3 or > 7)
                    {
                        RaiseGp(0);
                    }
                }

                _pat = value;
                return;
            case MsrSysenterCs: _sysenterCs = value & 0xFFFF; return;
            case MsrSysenterEsp: _sysenterEsp = CanonicalOrGp(value); return;
            case MsrSysenterEip: _sysenterEip = CanonicalOrGp(value); return;
            default:
                _eventCheck = true;
                if (!_host.TryWriteMsr(msr, value))
                {
                    RaiseGp(0);
                }

                return;
        }
    }

    private ulong CanonicalOrGp(ulong value)
    {
        if (!IsCanonical(value))
        {
            RaiseGp(0);
        }

        return value;
    }

    /// <summary>LTR (SDM LTR): an available TSS descriptor in the GDT (16 bytes in IA-32e mode), marked busy.</summary>
    private void LoadTaskRegister(ushort selector)
    {
        if ((selector & ~3) == 0)
        {
            RaiseGp(0);
        }

        if ((selector & 4) != 0)
        {
            RaiseGp(selector & ~3);
        }

        bool longMode = (_efer & EferLma) != 0;
        ulong d = ReadDescriptor(selector, longMode ? 16 : 8);
        ushort attr = DescriptorAttributes(d);
        int type = attr & 0x1F;
        if (type != 0x09 && !(type == 0x01 && !longMode))
        {
            RaiseGp(selector & ~3);
        }

        if ((attr & 0x80) == 0)
        {
            Raise(11, selector & ~3);
        }

        ulong b = DescriptorBase(d);
        if (longMode)
        {
            ulong high = ReadSystem(_gdtr.Base + (uint)(selector & ~7) + 8, 8);
            b |= (high & 0xFFFFFFFF) << 32;
            if (!IsCanonical(b))
            {
                RaiseGp(selector & ~3);
            }
        }

        WriteSystem(_gdtr.Base + (uint)(selector & ~7) + 5, 1, (d >> 40) | 2);
        _tr = new SegmentCache(selector, b, DescriptorLimit(d), (ushort)(attr | 2));
    }

    private void LoadLdt(ushort selector)
    {
        if ((selector & ~3) == 0)
        {
            _ldtr = new SegmentCache(selector, 0, 0, 0);
            return;
        }

        if ((selector & 4) != 0)
        {
            RaiseGp(selector & ~3);
        }

        bool longMode = (_efer & EferLma) != 0;
        ulong d = ReadDescriptor(selector, longMode ? 16 : 8);
        ushort attr = DescriptorAttributes(d);
        if ((attr & 0x1F) != 0x02)
        {
            RaiseGp(selector & ~3);
        }

        if ((attr & 0x80) == 0)
        {
            Raise(11, selector & ~3);
        }

        ulong b = DescriptorBase(d);
        if (longMode)
        {
            b |= (ReadSystem(_gdtr.Base + (uint)(selector & ~7) + 8, 8) & 0xFFFFFFFF) << 32;
        }

        _ldtr = new SegmentCache(selector, b, DescriptorLimit(d), attr);
    }
}
