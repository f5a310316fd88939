// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>Segment descriptors: loads of data/stack/code segments, far transfers and their checks (SDM Vol 3 5).</summary>
public sealed partial class X86Cpu
{
    /// <summary>Reads the 8-byte descriptor for a selector from the GDT or LDT; #GP(selector + <paramref name="ext"/>)
    /// beyond the limit (EXT = 1 while delivering an external event).</summary>
    private ulong ReadDescriptor(ushort selector, int bytes = 8, int ext = 0)
    {
        bool ldt = (selector & 4) != 0;
        ulong tableBase = ldt ? _ldtr.Base : _gdtr.Base;
        uint limit = ldt ? _ldtr.Limit : _gdtr.Limit;
        uint index = (uint)(selector & ~7);
        if (index + (uint)bytes - 1 > limit || (ldt && (_ldtr.Attributes & 0x80) == 0))
        {
            RaiseGp((selector & ~3) + ext);
        }

        return ReadSystem(tableBase + index, 8);
    }

    private static ulong DescriptorBase(ulong d) => ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24);

    private static uint DescriptorLimit(ulong d)
    {
        uint limit = (uint)((d & 0xFFFF) | ((d >> 32) & 0xF0000));
        return (d & (1UL << 55)) != 0 ? (limit << 12) | 0xFFF : limit;
    }

    private static ushort DescriptorAttributes(ulong d) => (ushort)(((d >> 40) & 0xFF) | (((d >> 52) & 0xF) << 12));

    /// <summary>Sets the accessed bit of a descriptor in memory if it is clear (SDM 3.4.5.1).</summary>
    private void MarkAccessed(ushort selector, ulong d)
    {
        if ((d & (1UL << 40)) == 0)
        {
            ulong tableBase = (selector & 4) != 0 ? _ldtr.Base : _gdtr.Base;
            WriteSystem(tableBase + (uint)(selector & ~7) + 5, 1, (d >> 40) | 1);
        }
    }

    /// <summary>MOV/POP to DS, ES, FS, GS or SS (CS is never loaded this way).</summary>
    private void LoadSegment(int seg, ushort selector)
    {
        if (seg == 1)
        {
            RaiseUd();
        }

        if ((_cr0 & Cr0Pe) == 0 || (_flags & FlagVm) != 0)
        {
            _segSelector[seg] = selector;
            _segBase[seg] = (ulong)selector << 4;
            return;
        }

        int rpl = selector & 3;
        if ((selector & ~3) == 0)
        {
            if (seg == 2 && !(_bitness == 64 && _cpl != 3 && rpl == _cpl))
            {
                RaiseGp(0);
            }

            // A null selector: the register becomes unusable (attributes 0 here; its base is cleared).
            _segSelector[seg] = selector;
            _segBase[seg] = 0;
            _segLimit[seg] = 0;
            _segAttributes[seg] = 0;
            return;
        }

        ulong d = ReadDescriptor(selector);
        ushort attr = DescriptorAttributes(d);
        int type = attr & 0xF;
        bool system = (attr & 0x10) == 0;
        int dpl = (attr >> 5) & 3;
        bool code = (type & 8) != 0;
        if (seg == 2)
        {
            // SS: a writable data segment with RPL = DPL = CPL.
            if (system || code || (type & 2) == 0 || rpl != _cpl || dpl != _cpl)
            {
                RaiseGp(selector & ~3);
            }

            if ((attr & 0x80) == 0)
            {
                Raise(12, selector & ~3);
            }
        }
        else
        {
            // Data segments or readable code; non-conforming ones need DPL >= max(CPL, RPL).
            bool conformingCode = code && (type & 4) != 0;
            if (system || (code && (type & 2) == 0) || (!conformingCode && dpl < Math.Max(_cpl, rpl)))
            {
                RaiseGp(selector & ~3);
            }

            if ((attr & 0x80) == 0)
            {
                Raise(11, selector & ~3);
            }
        }

        MarkAccessed(selector, d);
        _segSelector[seg] = selector;
        _segBase[seg] = DescriptorBase(d);
        _segLimit[seg] = DescriptorLimit(d);
        _segAttributes[seg] = (ushort)(attr | 1);
    }

    /// <summary>Validates a code-segment descriptor for a same-privilege far JMP/CALL/RET; returns it.</summary>
    private ulong CheckCodeDescriptor(ushort selector, bool isReturn)
    {
        if ((selector & ~3) == 0)
        {
            RaiseGp(0);
        }

        ulong d = ReadDescriptor(selector);
        ushort attr = DescriptorAttributes(d);
        int type = attr & 0xF;
        int dpl = (attr >> 5) & 3;
        int rpl = selector & 3;
        if ((attr & 0x10) == 0 && !isReturn)
        {
            throw new UnsupportedException($"far transfer through a system descriptor (call gate or TSS), selector {selector:X4}");
        }

        // RET accepts only a code segment, never a gate or TSS, and never a more privileged one (SDM RET).
        if ((attr & 0x10) == 0 || (type & 8) == 0 || (isReturn && rpl < _cpl))
        {
            RaiseGp(selector & ~3);
        }

        // A return checks DPL against the return selector's RPL, a JMP or CALL against CPL (which a
        // non-conforming target's RPL may not exceed either).
        bool conforming = (type & 4) != 0;
        int privilege = isReturn ? rpl : _cpl;
        bool dplRefused = conforming ? dpl > privilege : dpl != privilege || (!isReturn && rpl > _cpl);
        if (dplRefused)
        {
            RaiseGp(selector & ~3);
        }

        if ((attr & 0x80) == 0)
        {
            Raise(11, selector & ~3);
        }

        if (isReturn && rpl != _cpl)
        {
            throw new UnsupportedException("far return to another privilege level");
        }

        if ((_efer & EferLma) != 0 && (attr & 0x2000) != 0 && (attr & 0x4000) != 0)
        {
            RaiseGp(selector & ~3);
        }

        return d;
    }

    /// <summary>Loads CS from a checked descriptor with the given privilege level and recomputes the mode.</summary>
    private void LoadCs(ushort selector, ulong d, int cpl)
    {
        MarkAccessed(selector, d);
        _segSelector[1] = (ushort)((selector & ~3) | cpl);
        _segBase[1] = DescriptorBase(d);
        _segLimit[1] = DescriptorLimit(d);
        _segAttributes[1] = (ushort)(DescriptorAttributes(d) | 1);
        if (cpl != _cpl)
        {
            _cpl = cpl;
            FlushTlb();
        }

        UpdateMode();
    }

    private void LoadCsReal(ushort selector)
    {
        _segSelector[1] = selector;
        _segBase[1] = (ulong)selector << 4;
        UpdateMode();
    }

    /// <summary>Far JMP or CALL to selector:offset (same privilege, code segments only).</summary>
    private void FarTransfer(ushort selector, ulong offset, bool call, int operandBytes)
    {
        if ((_cr0 & Cr0Pe) == 0)
        {
            if (call)
            {
                Push(_segSelector[1], operandBytes);
                Push(_nextRip, operandBytes);
            }

            LoadCsReal(selector);
            _nextRip = operandBytes == 2 ? (ushort)offset : (uint)offset;
            return;
        }

        ulong d = CheckCodeDescriptor(selector, isReturn: false);
        if (call)
        {
            Push(_segSelector[1], operandBytes);
            Push(_nextRip, operandBytes);
        }

        LoadCs(selector, d, _cpl);
        _nextRip = _bitness == 64 ? offset : operandBytes == 2 ? (ushort)offset : (uint)offset;
    }

    private void ExecFarIndirect(ref Decoded d, bool call)
    {
        int ob = d.I.Code switch
        {
            Code.Jmp_m1616 or Code.Call_m1616 => 2,
            Code.Jmp_m1632 or Code.Call_m1632 => 4,
            Code.Jmp_m1664 or Code.Call_m1664 => 8,
            _ => throw new UnsupportedException($"far indirect form {d.I.Code}"),
        };
        ulong la = Ea(ref d);
        ulong offset = ReadMem(la, ob);
        ushort selector = (ushort)ReadMem(MaskLinear(la + (ulong)ob), 2);
        FarTransfer(selector, offset, call, ob);
    }

    private void ExecRetf(ref Decoded d)
    {
        int ob = d.I.Code switch
        {
            Code.Retfw or Code.Retfw_imm16 => 2,
            Code.Retfd or Code.Retfd_imm16 => 4,
            _ => 8,
        };
        ulong offset = PeekStack(0, ob);
        ushort selector = (ushort)PeekStack(ob, ob);
        ulong release = (ulong)(2 * ob) + (d.I.OpCount > 0 ? d.I.Immediate16 : 0UL);
        if ((_cr0 & Cr0Pe) == 0)
        {
            LoadCsReal(selector);
        }
        else
        {
            ulong desc = CheckCodeDescriptor(selector, isReturn: true);
            LoadCs(selector, desc, _cpl);
        }

        SetStackPointer(StackPointer + release);
        _nextRip = _bitness == 64 ? offset : ob == 2 ? (ushort)offset : (uint)offset;
    }
}
