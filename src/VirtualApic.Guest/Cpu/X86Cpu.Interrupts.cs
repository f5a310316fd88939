// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>Events and exceptions: taking host events at instruction boundaries, IDT/IVT delivery, the
/// double-fault rules, IRET, and RFLAGS.IF bookkeeping.</summary>
public sealed partial class X86Cpu
{
    private enum EventSource : byte
    {
        /// <summary>A fault or trap raised by an instruction.</summary>
        Exception,

        /// <summary>An external interrupt or NMI (EXT = 1 in error codes).</summary>
        External,

        /// <summary>INT n, INT3, INTO: gate DPL is checked against CPL.</summary>
        Software,
    }

    private void CheckEvents()
    {
        _eventCheck = false;
        var e = _host.TakeEvent((_flags & FlagIf) != 0);
        switch (e.Kind)
        {
            case CpuEventKind.None:
                return;
            case CpuEventKind.Interrupt:
                if (!_waitForSipi)
                {
                    _halted = false;
                    Deliver(e.Vector, -1, EventSource.External, _rip);
                }

                break;
            case CpuEventKind.Nmi:
                if (!_waitForSipi)
                {
                    _halted = false;
                    Deliver(2, -1, EventSource.External, _rip);
                }

                break;
            case CpuEventKind.Init:
                bool wasIf = (_flags & FlagIf) != 0;
                InitAndWaitForSipi();
                if (wasIf)
                {
                    _host.InterruptFlagChanged(false);
                }

                break;
            case CpuEventKind.Sipi:
                if (_waitForSipi)
                {
                    StartFromSipi(e.Vector);
                }

                break;
            default:
                break;
        }

        _eventCheck = true; // another event may be waiting behind this one
    }

    /// <summary>Delivers a fault raised by the instruction at RIP (RIP is the return address).</summary>
    private void DeliverException(int vector, int errorCode, ulong faultAddress)
    {
        if (vector == 14)
        {
            _cr2 = faultAddress;
        }

        Deliver(vector, errorCode, EventSource.Exception, _rip);
    }

    private static bool IsContributory(int vector) => vector is 0 or 10 or 11 or 12 or 13;

    /// <summary>Delivers an event; a fault during delivery is combined per SDM Vol 3 Table 6-5: contributory
    /// after contributory, or contributory/#PF after #PF, gives #DF; anything during #DF is a triple fault.</summary>
    private void Deliver(int vector, int errorCode, EventSource source, ulong returnRip)
    {
        int first = source == EventSource.Exception ? vector : -1;
        try
        {
            DeliverCore(vector, errorCode, source, returnRip);
        }
        catch (GuestFault f)
        {
            int second = f.Vector;
            int code = f.ErrorCode;
            if (second == 14)
            {
                _cr2 = f.FaultAddress;
            }

            if (first == 8)
            {
                _shutdown = true;
                return;
            }

            // The second fault is a fault of the current instruction (SDM Vol 3 6.5): its frame points at the
            // instruction, also when the first event was a software INT whose own frame would point past it.
            if ((IsContributory(first) && IsContributory(second)) || (first == 14 && (IsContributory(second) || second == 14)))
            {
                Deliver(8, 0, EventSource.Exception, _rip);
                return;
            }

            Deliver(second, code, EventSource.Exception, _rip);
        }
    }

    private static bool PushesErrorCode(int vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21 or 29 or 30;

    /// <summary>Fault-class exceptions (SDM Vol 3 Table 6-1); #DF and #MC are aborts, #BP and #OF traps.</summary>
    private static bool IsFault(int vector) => vector is 0 or 5 or 6 or 7 or 10 or 11 or 12 or 13 or 14 or 16 or 17 or 19 or 20 or 21;

    private void DeliverCore(int vector, int errorCode, EventSource source, ulong returnRip)
    {
        int ext = source == EventSource.External ? 1 : 0;
        if (source != EventSource.Exception || !PushesErrorCode(vector))
        {
            errorCode = -1;
        }

        if ((_cr0 & Cr0Pe) == 0)
        {
            DeliverReal(vector, returnRip);
            return;
        }

        bool longMode = (_efer & EferLma) != 0;
        int gateBytes = longMode ? 16 : 8;
        if ((ulong)(vector * gateBytes) + (ulong)gateBytes - 1 > _idtr.Limit)
        {
            RaiseGp((vector * 8) + 2 + ext);
        }

        ulong lo = ReadSystem(_idtr.Base + (ulong)(vector * gateBytes), 8);
        ulong hi = longMode ? ReadSystem(_idtr.Base + (ulong)(vector * gateBytes) + 8, 8) : 0;
        int type = (int)(lo >> 40) & 0xF;
        int gateDpl = (int)(lo >> 45) & 3;
        bool present = ((lo >> 47) & 1) != 0;
        bool validType = longMode ? type is 0xE or 0xF : type is 0xE or 0xF or 0x6 or 0x7 or 0x5;
        if (!validType)
        {
            RaiseGp((vector * 8) + 2 + ext);
        }

        if (source == EventSource.Software && gateDpl < _cpl)
        {
            RaiseGp((vector * 8) + 2);
        }

        if (!present)
        {
            Raise(11, (vector * 8) + 2 + ext);
        }

        if (!longMode && type is 0x5 or 0x6 or 0x7)
        {
            throw new UnsupportedException($"task gate or 16-bit gate for vector {vector} in protected mode");
        }

        ushort selector = (ushort)(lo >> 16);
        ulong offset = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000UL) | ((hi & 0xFFFFFFFF) << 32);
        if ((selector & ~3) == 0)
        {
            RaiseGp(ext);
        }

        ulong cs = ReadDescriptor(selector, ext: ext);
        ushort csAttr = DescriptorAttributes(cs);
        int csDpl = (csAttr >> 5) & 3;
        if ((csAttr & 0x18) != 0x18 || csDpl > _cpl || (longMode && ((csAttr & 0x2000) == 0 || (csAttr & 0x4000) != 0)))
        {
            RaiseGp((selector & ~3) + ext);
        }

        if ((csAttr & 0x80) == 0)
        {
            Raise(11, (selector & ~3) + ext);
        }

        int newCpl = (csAttr & 4) != 0 ? _cpl : csDpl;
        ulong flags = GetRflags();

        // The RF image pushed is 1 for a fault (SDM Vol 3 17.3.1.1), so that IRET back to the faulting
        // instruction does not hit an instruction breakpoint again; otherwise RF as it is, which at an
        // instruction boundary is 0 (RF clears when an instruction completes).
        ulong pushedFlags = source == EventSource.Exception && IsFault(vector) ? flags | FlagRf : flags & ~FlagRf;
        bool interruptGate = (type & 1) == 0;
        if (longMode)
        {
            int ist = (int)(lo >> 32) & 7;
            bool switchStack = newCpl < _cpl;
            ulong rsp = ist != 0 ? ReadTss64((ulong)(0x24 + ((ist - 1) * 8)), ext)
                : switchStack ? ReadTss64((ulong)(4 + (newCpl * 8)), ext)
                : _gpr[4];
            if ((ulong)((long)(rsp << 16) >> 16) != rsp)
            {
                Raise(12, ext);
            }

            // The handler's RIP must be canonical too (SDM Vol 2 INT n, IA-32e mode: #GP(EXT)), before any push.
            if (!IsCanonical(offset))
            {
                RaiseGp(ext);
            }

            rsp &= ~0xFUL;
            bool user = newCpl == 3;
            ulong sp = rsp;
            sp -= 8;
            WriteSlow(sp, 8, _segSelector[2], user);
            sp -= 8;
            WriteSlow(sp, 8, _gpr[4], user);
            sp -= 8;
            WriteSlow(sp, 8, pushedFlags, user);
            sp -= 8;
            WriteSlow(sp, 8, _segSelector[1], user);
            sp -= 8;
            WriteSlow(sp, 8, returnRip, user);
            if (errorCode >= 0)
            {
                sp -= 8;
                WriteSlow(sp, 8, (uint)errorCode, user);
            }

            // Commit: nothing below can fault.
            if (switchStack)
            {
                _segSelector[2] = (ushort)newCpl;
                _segBase[2] = 0;
                _segLimit[2] = 0;
                _segAttributes[2] = 0;
            }

            LoadCs(selector, cs, newCpl);
            _gpr[4] = sp;
        }
        else
        {
            if (newCpl != _cpl)
            {
                throw new UnsupportedException($"protected-mode delivery of vector {vector} with a privilege change");
            }

            bool user = _cpl == 3;
            ulong sp = StackPointer;
            sp = MaskStack(sp - 4);
            WriteSlow(Linear(2, sp), 4, pushedFlags, user);
            sp = MaskStack(sp - 4);
            WriteSlow(Linear(2, sp), 4, _segSelector[1], user);
            sp = MaskStack(sp - 4);
            WriteSlow(Linear(2, sp), 4, returnRip, user);
            if (errorCode >= 0)
            {
                sp = MaskStack(sp - 4);
                WriteSlow(Linear(2, sp), 4, (uint)errorCode, user);
            }

            LoadCs(selector, cs, newCpl);
            SetStackPointer(sp);
            offset = (uint)offset;
        }

        _flags = GetRflags() & ~(FlagTf | FlagNt | FlagRf | FlagVm);
        _lazyOp = LazyNone;
        if (interruptGate)
        {
            SetInterruptFlag(false);
        }

        _rip = _nextRip = offset;
        _shadowActive = _shadowPending = false;
    }

    /// <summary>Reads a stack pointer from the 64-bit TSS; #TS(TR selector + EXT) if it is beyond TR's limit.</summary>
    private ulong ReadTss64(ulong offset, int ext)
    {
        if (offset + 7 > _tr.Limit)
        {
            Raise(10, (_tr.Selector & ~3) + ext);
        }

        return ReadSystem(_tr.Base + offset, 8);
    }

    /// <summary>Real-mode delivery through the IVT (SDM Vol 3 20.1.4).</summary>
    private void DeliverReal(int vector, ulong returnRip)
    {
        if ((ulong)(vector * 4) + 3 > _idtr.Limit)
        {
            RaiseGp(0);
        }

        ulong entry = ReadSystem(_idtr.Base + (ulong)(vector * 4), 4);
        ulong flags = GetRflags();
        Push(flags & 0xFFFF, 2);
        Push(_segSelector[1], 2);
        Push(returnRip, 2);
        _flags = flags & ~(FlagTf | FlagAc);
        _lazyOp = LazyNone;
        SetInterruptFlag(false);
        LoadCsReal((ushort)(entry >> 16));
        _rip = _nextRip = entry & 0xFFFF;
        _shadowActive = _shadowPending = false;
    }

    /// <summary>Changes RFLAGS.IF, telling the host; IF 0→1 makes pending interrupts worth checking.</summary>
    private void SetInterruptFlag(bool value)
    {
        bool old = (_flags & FlagIf) != 0;
        if (old == value)
        {
            return;
        }

        _flags = value ? _flags | FlagIf : _flags & ~FlagIf;
        _host.InterruptFlagChanged(value);
        if (value)
        {
            _eventCheck = true;
        }
    }

    /// <summary>
    /// Loads RFLAGS from POPF or IRET with the privilege rules (SDM POPF, IRET): IOPL changes only at CPL 0,
    /// IF only when CPL ≤ IOPL; VIF and VIP only by a 32- or 64-bit IRET at CPL 0; VM is not changed here; RF
    /// is cleared by POPF.
    /// </summary>
    private void LoadFlags(ulong value, int bytes, int cpl, bool isIret)
    {
        ulong old = GetRflags();
        ulong changeable = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagTf | FlagDf | FlagOf | FlagNt | FlagAc | FlagId;
        int iopl = (int)(old >> 12) & 3;
        if (cpl == 0)
        {
            changeable |= FlagIopl;
        }

        if (cpl <= iopl)
        {
            changeable |= FlagIf;
        }

        if (isIret)
        {
            changeable |= FlagRf;
            if (cpl == 0 && bytes >= 4)
            {
                changeable |= FlagVif | FlagVip; // SDM IRET: at CPL 0 a 32- or 64-bit IRET loads them
            }
        }

        if (bytes == 2)
        {
            changeable &= 0xFFFF;
        }

        ulong nf = (old & ~changeable) | (value & changeable);
        if (!isIret)
        {
            nf &= ~FlagRf;
        }

        if ((nf & FlagTf) != 0)
        {
            throw new UnsupportedException("RFLAGS.TF (single-step) is not modelled");
        }

        bool newIf = (nf & FlagIf) != 0;
        _flags = (nf & ~FlagIf) | (old & FlagIf) | 2;
        _lazyOp = LazyNone;
        SetInterruptFlag(newIf);
    }

    private void ExecIret(ref Decoded d)
    {
        int ob = d.I.Code switch { Code.Iretw => 2, Code.Iretd => 4, _ => 8 };
        int oldCpl = _cpl;
        ulong rip = PeekStack(0, ob);
        ushort selector = (ushort)PeekStack(ob, ob);
        ulong flags = PeekStack(2 * ob, ob);
        if ((_cr0 & Cr0Pe) == 0)
        {
            LoadCsReal(selector);
            SetStackPointer(StackPointer + (ulong)(3 * ob));
            LoadFlags(flags, ob, 0, isIret: true);
            _nextRip = ob == 2 ? (ushort)rip : (uint)rip;
            AfterIret();
            return;
        }

        bool longMode = (_efer & EferLma) != 0;
        if ((GetRflags() & FlagNt) != 0)
        {
            if (longMode)
            {
                RaiseGp(0);
            }

            throw new UnsupportedException("IRET with NT=1 (task return)");
        }

        if (!longMode && (flags & FlagVm) != 0 && oldCpl == 0)
        {
            throw new UnsupportedException("IRET to virtual-8086 mode");
        }

        int rpl = selector & 3;
        if ((selector & ~3) == 0)
        {
            RaiseGp(0);
        }

        if (rpl < oldCpl)
        {
            RaiseGp(selector & ~3);
        }

        ulong cs = ReadDescriptor(selector);
        ushort attr = DescriptorAttributes(cs);
        int dpl = (attr >> 5) & 3;
        bool conforming = (attr & 4) != 0;
        if ((attr & 0x18) != 0x18 || (conforming ? dpl > rpl : dpl != rpl))
        {
            RaiseGp(selector & ~3);
        }

        if ((attr & 0x80) == 0)
        {
            Raise(11, selector & ~3);
        }

        bool target64 = longMode && (attr & 0x2000) != 0;
        bool popStack = _bitness == 64 || rpl > oldCpl;
        ulong newRsp = 0;
        ushort newSs = 0;
        ulong ssDesc = 0;
        if (popStack)
        {
            newRsp = PeekStack(3 * ob, ob);
            newSs = (ushort)PeekStack(4 * ob, ob);
            if ((newSs & ~3) == 0)
            {
                if (!(target64 && rpl != 3))
                {
                    RaiseGp(0);
                }
            }
            else
            {
                if ((newSs & 3) != rpl)
                {
                    RaiseGp(newSs & ~3);
                }

                ssDesc = ReadDescriptor(newSs);
                ushort sa = DescriptorAttributes(ssDesc);
                if ((sa & 0x18) != 0x10 || (sa & 2) == 0 || ((sa >> 5) & 3) != rpl)
                {
                    RaiseGp(newSs & ~3);
                }

                if ((sa & 0x80) == 0)
                {
                    Raise(12, newSs & ~3);
                }
            }
        }

        // A 64-bit target's RIP must be canonical (SDM Vol 2 IRET: #GP(0)), checked before anything is loaded.
        if (target64 && !IsCanonical(rip))
        {
            RaiseGp(0);
        }

        // Commit.
        LoadCs(selector, cs, rpl);
        if (popStack)
        {
            _segSelector[2] = newSs;
            if ((newSs & ~3) == 0)
            {
                _segBase[2] = 0;
                _segLimit[2] = 0;
                _segAttributes[2] = 0;
            }
            else
            {
                _segBase[2] = DescriptorBase(ssDesc);
                _segLimit[2] = DescriptorLimit(ssDesc);
                _segAttributes[2] = (ushort)(DescriptorAttributes(ssDesc) | 1);
            }

            _gpr[4] = ob == 8 || _bitness == 64 ? newRsp : ob == 4 ? (uint)newRsp : (_gpr[4] & ~0xFFFFUL) | (ushort)newRsp;
        }
        else
        {
            SetStackPointer(StackPointer + (ulong)(3 * ob));
        }

        if (rpl > oldCpl)
        {
            NullSegmentsTheNewCplMayNotUse(rpl);
        }

        LoadFlags(flags, ob, oldCpl, isIret: true);
        _nextRip = _bitness == 64 ? rip : ob == 2 ? (ushort)rip : (uint)rip;
        AfterIret();
    }

    /// <summary>
    /// A return to an outer level leaves no segment the new CPL could not have loaded: ES, DS, FS and GS
    /// holding data or non-conforming code with DPL below <paramref name="cpl"/> get a null selector (SDM
    /// IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL). Only the selector and usability change: an FS or GS base
    /// written through its MSR is kept.
    /// </summary>
    private void NullSegmentsTheNewCplMayNotUse(int cpl)
    {
        foreach (var seg in (ReadOnlySpan<SegmentRegister>)[SegmentRegister.Es, SegmentRegister.Ds, SegmentRegister.Fs, SegmentRegister.Gs])
        {
            int i = (int)seg;
            ushort attr = _segAttributes[i];
            bool usable = (attr & 0x10) != 0;             // a null-loaded register has attributes 0
            bool conformingCode = (attr & 0xC) == 0xC;     // type: code (bit 3) and conforming (bit 2)
            if (usable && !conformingCode && ((attr >> 5) & 3) < cpl)
            {
                _segSelector[i] = 0;
                _segAttributes[i] = 0;
            }
        }
    }

    private void AfterIret()
    {
        // Any IRET ends NMI blocking (SDM 6.7.1); the host tracks it.
        _host.Iret((_flags & FlagIf) != 0);
        _eventCheck = true;
    }
}
