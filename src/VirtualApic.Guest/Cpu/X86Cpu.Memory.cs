// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace VirtualApic.Guest.Cpu;

/// <summary>Linear and physical memory access: segmentation bases, 4-level paging with a TLB, #PF, RAM vs MMIO.</summary>
public sealed partial class X86Cpu
{
    private const ulong Cr0Pe = 1, Cr0Ts = 8, Cr0Et = 0x10, Cr0Wp = 1UL << 16, Cr0Nw = 1UL << 29, Cr0Cd = 1UL << 30, Cr0Pg = 1UL << 31;

    private const ulong Cr4Pse = 0x10, Cr4Pae = 0x20, Cr4Pge = 0x80, Cr4Smep = 1UL << 20;
    private const ulong EferSce = 1, EferLme = 0x100, EferLma = 0x400, EferNxe = 0x800;

    private const int TlbSize = 256;
    private const int AccessRead = 0, AccessWrite = 1, AccessExec = 2;

    /// <summary>Tags (linear page + 1) of entries usable for a data read / write / instruction fetch at the current CPL.</summary>
    private readonly ulong[] _tlbRead = new ulong[TlbSize];
    private readonly ulong[] _tlbWrite = new ulong[TlbSize];
    private readonly ulong[] _tlbExec = new ulong[TlbSize];
    private readonly ulong[] _tlbPhys = new ulong[TlbSize];

    private void FlushTlb()
    {
        Array.Clear(_tlbRead);
        Array.Clear(_tlbWrite);
        Array.Clear(_tlbExec);
        _fetchLinearPage = ulong.MaxValue;
    }

    private bool IsMmio(ulong physical) => physical >= _ramSize || _host.IsMmioPage(physical);

    /// <summary>Linear address of an effective address in a segment (64-bit mode: only FS and GS have bases).</summary>
    private ulong Linear(int segment, ulong effective)
    {
        if (_bitness == 64)
        {
            return segment >= 4 ? effective + _segBase[segment] : effective;
        }

        return (uint)(_segBase[segment] + effective);
    }

    // ---- data reads and writes at the current privilege level ----

    // A little-endian load of 1, 2, 4 or 8 bytes of RAM, all inside one page.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadRam(int p, int size) => size switch
    {
        1 => _ram[p],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(_ram, p, 2)),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(_ram, p, 4)),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_ram, p, 8)),
    };

    private ulong ReadMem(ulong linear, int size)
    {
        int i = (int)(linear >> 12) & (TlbSize - 1);
        if (_tlbRead[i] == (linear >> 12) + 1 && (int)(linear & 0xFFF) <= PhysicalMemory.PageSize - size)
        {
            return ReadRam((int)(_tlbPhys[i] | (linear & 0xFFF)), size);
        }

        return ReadSlow(linear, size, _cpl == 3);
    }

    private void WriteMem(ulong linear, int size, ulong value)
    {
        int i = (int)(linear >> 12) & (TlbSize - 1);
        if (_tlbWrite[i] == (linear >> 12) + 1 && (int)(linear & 0xFFF) <= PhysicalMemory.PageSize - size)
        {
            ulong page = _tlbPhys[i];
            if (_memory.CodePages[page >> 12] != 0)
            {
                _memory.NoteStore(page >> 12);
            }

            int p = (int)(page | (linear & 0xFFF));
            switch (size)
            {
                case 1: _ram[p] = (byte)value; break;
                case 2: BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(_ram, p, 2), (ushort)value); break;
                case 4: BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(_ram, p, 4), (uint)value); break;
                default: BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(_ram, p, 8), value); break;
            }

            return;
        }

        WriteSlow(linear, size, value, _cpl == 3);
    }

    /// <summary>The read half of a read-modify-write: translated for writing, so a fault reports W = 1 and a
    /// read-only page faults before anything is read (as hardware does for RMW instructions).</summary>
    private ulong ReadMemRmw(ulong linear, int size)
    {
        int i = (int)(linear >> 12) & (TlbSize - 1);
        if (_tlbWrite[i] == (linear >> 12) + 1 && (int)(linear & 0xFFF) <= PhysicalMemory.PageSize - size)
        {
            return ReadRam((int)(_tlbPhys[i] | (linear & 0xFFF)), size);
        }

        ProbeWrite(linear, size);
        return ReadMem(linear, size);
    }

    /// <summary>Checks that a write would succeed (translation and permissions) without writing.</summary>
    private void ProbeWrite(ulong linear, int size)
    {
        int i = (int)(linear >> 12) & (TlbSize - 1);
        if (_tlbWrite[i] != (linear >> 12) + 1)
        {
            Translate(linear, AccessWrite, _cpl == 3);
        }

        ulong last = linear + (ulong)size - 1;
        if (last >> 12 != linear >> 12)
        {
            Translate(SecondPage(last), AccessWrite, _cpl == 3);
        }
    }

    /// <summary>A supervisor-mode ("implicit") read of a system structure: GDT, LDT, IDT, TSS.</summary>
    private ulong ReadSystem(ulong linear, int size) => ReadSlow(linear, size, user: false);

    /// <summary>A supervisor-mode write of a system structure (descriptor busy/accessed bits).</summary>
    private void WriteSystem(ulong linear, int size, ulong value) => WriteSlow(linear, size, value, user: false);

    /// <summary>The start of the second page of an access straddling two, whose last byte is <paramref name="last"/>:
    /// translated from its first byte, a fault there names that byte in CR2 (SDM Vol 3A 4.7), and the
    /// translation is the page's frame.</summary>
    private ulong SecondPage(ulong last) => MaskLinear(last) & ~0xFFFUL;

    private ulong ReadSlow(ulong linear, int size, bool user)
    {
        linear = MaskLinear(linear);
        ulong last = linear + (ulong)size - 1;
        if (last >> 12 != linear >> 12)
        {
            ulong pa0 = Translate(linear, AccessRead, user);
            ulong pa1 = Translate(SecondPage(last), AccessRead, user);
            int firstBytes = (int)(PhysicalMemory.PageSize - (linear & 0xFFF));
            ulong v = 0;
            for (int b = 0; b < size; b++)
            {
                ulong pa = b < firstBytes ? pa0 + (ulong)b : pa1 + (ulong)(b - firstBytes);
                v |= ReadPhysical(pa, 1) << (8 * b);
            }

            return v;
        }

        return ReadPhysical(Translate(linear, AccessRead, user), size);
    }

    private void WriteSlow(ulong linear, int size, ulong value, bool user)
    {
        linear = MaskLinear(linear);
        ulong last = linear + (ulong)size - 1;
        if (last >> 12 != linear >> 12)
        {
            ulong pa0 = Translate(linear, AccessWrite, user);
            ulong pa1 = Translate(SecondPage(last), AccessWrite, user);
            int firstBytes = (int)(PhysicalMemory.PageSize - (linear & 0xFFF));
            for (int b = 0; b < size; b++)
            {
                ulong pa = b < firstBytes ? pa0 + (ulong)b : pa1 + (ulong)(b - firstBytes);
                WritePhysical(pa, 1, value >> (8 * b));
            }

            return;
        }

        WritePhysical(Translate(linear, AccessWrite, user), size, value);
    }

    private ulong ReadPhysical(ulong pa, int size)
    {
        if (pa < _ramSize && pa + (ulong)size <= _ramSize && !_host.IsMmioPage(pa))
        {
            return ReadRam((int)pa, size);
        }

        ulong v;
        if ((pa & (ulong)(size - 1)) == 0)
        {
            v = _host.MmioRead(pa, size);
        }
        else
        {
            v = 0;
            for (int b = 0; b < size; b++)
            {
                v |= (_host.MmioRead(pa + (ulong)b, 1) & 0xFF) << (8 * b);
            }
        }

        _eventCheck = true;
        return size == 8 ? v : v & ((1UL << (8 * size)) - 1);
    }

    private void WritePhysical(ulong pa, int size, ulong value)
    {
        if (pa < _ramSize && pa + (ulong)size <= _ramSize && !_host.IsMmioPage(pa))
        {
            _memory.NoteStore(pa >> 12);
            int p = (int)pa;
            switch (size)
            {
                case 1: _ram[p] = (byte)value; break;
                case 2: BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(_ram, p, 2), (ushort)value); break;
                case 4: BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(_ram, p, 4), (uint)value); break;
                default: BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(_ram, p, 8), value); break;
            }

            return;
        }

        if ((pa & (ulong)(size - 1)) == 0)
        {
            _host.MmioWrite(pa, size == 8 ? value : value & ((1UL << (8 * size)) - 1), size);
        }
        else
        {
            for (int b = 0; b < size; b++)
            {
                _host.MmioWrite(pa + (ulong)b, (value >> (8 * b)) & 0xFF, 1);
            }
        }

        _eventCheck = true;
    }

    /// <summary>Instruction-fetch translation through the TLB.</summary>
    private ulong TranslateFetch(ulong linear)
    {
        int i = (int)(linear >> 12) & (TlbSize - 1);
        if (_tlbExec[i] == (linear >> 12) + 1)
        {
            return _tlbPhys[i] | (linear & 0xFFF);
        }

        return Translate(linear, AccessExec, _cpl == 3);
    }

    /// <summary>Whether a code byte can be read without faulting (for the unsupported-instruction report).</summary>
    private bool TryPeekCode(ulong linear, out byte value)
    {
        value = 0;
        try
        {
            ulong pa = Translate(linear, AccessExec, _cpl == 3);
            if (pa >= _ramSize)
            {
                return false;
            }

            value = _ram[pa];
            return true;
        }
        catch (Exception e) when (e is GuestFault or UnsupportedException)
        {
            // Unmapped, or mapped in a way the engine cannot walk (32-bit paging): no bytes to show.
            return false;
        }
    }

    /// <summary>
    /// Translates a linear address (SDM Vol 3 4.5, 4-level paging), checking permissions, setting accessed
    /// and dirty bits and filling the TLB; raises #PF (or #GP for a non-canonical address).
    /// </summary>
    private ulong Translate(ulong linear, int access, bool user)
    {
        if ((_cr0 & Cr0Pg) == 0)
        {
            ulong pa = (uint)linear;
            if (user == (_cpl == 3))
            {
                Fill(linear, pa, readOk: true, writeOk: true, execOk: true);
            }

            return pa;
        }

        if ((_efer & EferLma) == 0)
        {
            throw new UnsupportedException("paging outside IA-32e mode (32-bit or PAE paging) is not modelled");
        }

        if ((ulong)((long)(linear << 16) >> 16) != linear)
        {
            RaiseGp(0);
        }

        ulong addrMask = ((1UL << MaxPhysicalAddressBits) - 1) & ~0xFFFUL;
        ulong rsvd = 0x000F_FFFF_FFFF_F000UL & ~addrMask;
        bool nxe = (_efer & EferNxe) != 0;
        if (!nxe)
        {
            rsvd |= 1UL << 63;
        }

        ulong table = _cr3 & addrMask;
        bool w = true, u = true, nx = false;
        var entryAddress = default(PageWalkEntries);
        int levels = 0;
        ulong physical = 0;
        for (int shift = 39; ; shift -= 9)
        {
            ulong ea = table + (((linear >> shift) & 511) * 8);
            entryAddress[levels++] = ea;
            ulong e = ReadPageTable(ea);
            if ((e & 1) == 0)
            {
                RaisePageFault(linear, access, user, present: false, reserved: false);
            }

            bool large = (e & 0x80) != 0 && shift is 30 or 21;
            ulong reservedHere = rsvd;
            if (shift == 39 && (e & 0x80) != 0)
            {
                RaisePageFault(linear, access, user, present: true, reserved: true);
            }

            if (large)
            {
                // Bits 12 (PAT) .. page size - 1 of a large-page address must be zero (except PAT).
                reservedHere |= ((1UL << shift) - 1) & ~0x1FFFUL;
            }

            if ((e & reservedHere) != 0)
            {
                RaisePageFault(linear, access, user, present: true, reserved: true);
            }

            w &= (e & 2) != 0;
            u &= (e & 4) != 0;
            nx |= nxe && (e >> 63) != 0;
            if (large || shift == 12)
            {
                ulong pageMask = (1UL << shift) - 1;
                physical = (e & addrMask & ~pageMask) | (linear & pageMask & ~0xFFFUL);
                break;
            }

            table = e & addrMask;
        }

        bool wp = (_cr0 & Cr0Wp) != 0;
        bool smep = (_cr4 & Cr4Smep) != 0;
        bool allowed = access switch
        {
            AccessRead => !user || u,
            AccessWrite => user ? u && w : !wp || w,
            _ => !nx && (user ? u : !(smep && u)),
        };
        if (!allowed)
        {
            RaisePageFault(linear, access, user, present: true, reserved: false);
        }

        // Accessed bits on every level, dirty on the leaf for a write (SDM 4.8).
        for (int l = 0; l < levels; l++)
        {
            ulong e = ReadPageTable(entryAddress[l]);
            ulong want = e | 0x20;
            if (l == levels - 1 && access == AccessWrite)
            {
                want |= 0x40;
            }

            if (want != e)
            {
                WritePageTable(entryAddress[l], want);
            }
        }

        bool dirty = (ReadPageTable(entryAddress[levels - 1]) & 0x40) != 0;
        if (user == (_cpl == 3))
        {
            bool userMode = _cpl == 3;
            Fill(
                linear,
                physical,
                readOk: !userMode || u,
                writeOk: dirty && (userMode ? u && w : !wp || w),
                execOk: !nx && (userMode ? u : !(smep && u)));
        }

        return physical | (linear & 0xFFF);
    }

    private void Fill(ulong linear, ulong physical, bool readOk, bool writeOk, bool execOk)
    {
        ulong page = physical & ~0xFFFUL;
        int i = (int)(linear >> 12) & (TlbSize - 1);
        if (IsMmio(page))
        {
            _tlbRead[i] = _tlbWrite[i] = _tlbExec[i] = 0;
            return;
        }

        ulong tag = (linear >> 12) + 1;
        _tlbPhys[i] = page;
        _tlbRead[i] = readOk ? tag : 0;
        _tlbWrite[i] = writeOk ? tag : 0;
        _tlbExec[i] = execOk ? tag : 0;
    }

    private ulong ReadPageTable(ulong pa)
    {
        if (pa + 8 > _ramSize)
        {
            throw new UnsupportedException($"page-table entry outside RAM at physical {pa:X}");
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_ram, (int)pa, 8));
    }

    private void WritePageTable(ulong pa, ulong value)
    {
        _memory.NoteStore(pa >> 12);
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(_ram, (int)pa, 8), value);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void RaisePageFault(ulong linear, int access, bool user, bool present, bool reserved)
    {
        int code = (present ? 1 : 0) | (access == AccessWrite ? 2 : 0) | (user ? 4 : 0) | (reserved ? 8 : 0);
        if (access == AccessExec && ((_efer & EferNxe) != 0 || (_cr4 & Cr4Smep) != 0))
        {
            code |= 0x10;
        }

        _fault.Vector = 14;
        _fault.ErrorCode = code;
        _fault.FaultAddress = linear;
        throw _fault;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void Raise(int vector, int errorCode = -1)
    {
        _fault.Vector = vector;
        _fault.ErrorCode = errorCode;
        _fault.FaultAddress = 0;
        throw _fault;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void RaiseGp(int errorCode) => Raise(13, errorCode);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void RaiseUd() => Raise(6);
}
