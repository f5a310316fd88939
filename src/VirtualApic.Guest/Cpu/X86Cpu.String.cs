// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>String instructions (MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS) with REP/REPE/REPNE.</summary>
public sealed partial class X86Cpu
{
    /// <summary>Iterations of a REP string instruction per retired step: the instruction restarts (RIP
    /// unchanged, counts updated) so events and the budget are checked between chunks, as hardware
    /// allows interrupts between iterations.</summary>
    private const int RepChunk = 4096;

    private void ExecString(ref Decoded d)
    {
        var m = d.I.Mnemonic;
        if (m is Mnemonic.Movsd or Mnemonic.Cmpsd && d.I.Code is not (Code.Movsd_m32_m32 or Code.Cmpsd_m32_m32))
        {
            throw new UnsupportedException($"SSE form {d.I.Code}");
        }

        int size = m switch
        {
            Mnemonic.Movsb or Mnemonic.Stosb or Mnemonic.Lodsb or Mnemonic.Cmpsb or Mnemonic.Scasb or Mnemonic.Insb or Mnemonic.Outsb => 1,
            Mnemonic.Movsw or Mnemonic.Stosw or Mnemonic.Lodsw or Mnemonic.Cmpsw or Mnemonic.Scasw or Mnemonic.Insw or Mnemonic.Outsw => 2,
            Mnemonic.Movsd or Mnemonic.Stosd or Mnemonic.Lodsd or Mnemonic.Cmpsd or Mnemonic.Scasd or Mnemonic.Insd or Mnemonic.Outsd => 4,
            _ => 8,
        };
        int ab = StringAddressBytes(ref d);
        ulong amask = SizeMask(ab);
        bool rep = d.I.HasRepPrefix || d.I.HasRepnePrefix;
        bool compares = m is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq;
        bool isIo = m is Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd or Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd;
        if (isIo)
        {
            CheckIoPrivilege();
        }

        int srcSeg = d.I.MemorySegment - Register.ES;
        ulong step = (_flags & FlagDf) != 0 ? (ulong)-size : (ulong)size;
        int iterations = 0;
        while (true)
        {
            if (rep)
            {
                if ((_gpr[1] & amask) == 0)
                {
                    return;
                }

                if (iterations == RepChunk)
                {
                    _nextRip = _rip; // resume this instruction after the boundary
                    return;
                }
            }

            ulong si = _gpr[6] & amask, di = _gpr[7] & amask;
            switch (m)
            {
                case Mnemonic.Movsb:
                case Mnemonic.Movsw:
                case Mnemonic.Movsd:
                case Mnemonic.Movsq:
                    WriteMem(Linear(0, di), size, ReadMem(Linear(srcSeg, si), size));
                    WriteGpr(6, ab, si + step);
                    WriteGpr(7, ab, di + step);
                    break;
                case Mnemonic.Stosb:
                case Mnemonic.Stosw:
                case Mnemonic.Stosd:
                case Mnemonic.Stosq:
                    WriteMem(Linear(0, di), size, _gpr[0] & SizeMask(size));
                    WriteGpr(7, ab, di + step);
                    break;
                case Mnemonic.Lodsb:
                case Mnemonic.Lodsw:
                case Mnemonic.Lodsd:
                case Mnemonic.Lodsq:
                    WriteGpr(0, size, ReadMem(Linear(srcSeg, si), size));
                    WriteGpr(6, ab, si + step);
                    break;
                case Mnemonic.Cmpsb:
                case Mnemonic.Cmpsw:
                case Mnemonic.Cmpsd:
                case Mnemonic.Cmpsq:
                    {
                        ulong a = ReadMem(Linear(srcSeg, si), size);
                        ulong b = ReadMem(Linear(0, di), size);
                        SetLazy(LazySub, size, a, b, (a - b) & SizeMask(size));
                        WriteGpr(6, ab, si + step);
                        WriteGpr(7, ab, di + step);
                        break;
                    }

                case Mnemonic.Scasb:
                case Mnemonic.Scasw:
                case Mnemonic.Scasd:
                case Mnemonic.Scasq:
                    {
                        ulong a = _gpr[0] & SizeMask(size);
                        ulong b = ReadMem(Linear(0, di), size);
                        SetLazy(LazySub, size, a, b, (a - b) & SizeMask(size));
                        WriteGpr(7, ab, di + step);
                        break;
                    }

                case Mnemonic.Insb:
                case Mnemonic.Insw:
                case Mnemonic.Insd:
                    {
                        ProbeWrite(Linear(0, di), size);
                        ulong v = _host.PortIn((ushort)_gpr[2], size);
                        WriteMem(Linear(0, di), size, v);
                        WriteGpr(7, ab, di + step);
                        _eventCheck = true;
                        break;
                    }

                default:
                    _host.PortOut((ushort)_gpr[2], (uint)ReadMem(Linear(srcSeg, si), size), size);
                    WriteGpr(6, ab, si + step);
                    _eventCheck = true;
                    break;
            }

            if (!rep)
            {
                return;
            }

            WriteGpr(1, ab, (_gpr[1] - 1) & amask);
            iterations++;
            if (compares)
            {
                bool zf = GetZf();
                if ((d.I.HasRepePrefix && !zf) || (d.I.HasRepnePrefix && zf))
                {
                    return;
                }
            }
        }
    }

    private static int StringAddressBytes(ref Decoded d)
    {
        for (int i = 0; i < d.I.OpCount; i++)
        {
            switch (d.I.GetOpKind(i))
            {
                case OpKind.MemorySegSI:
                case OpKind.MemoryESDI:
                    return 2;
                case OpKind.MemorySegESI:
                case OpKind.MemoryESEDI:
                    return 4;
                case OpKind.MemorySegRSI:
                case OpKind.MemoryESRDI:
                    return 8;
                default:
                    break;
            }
        }

        throw new UnsupportedException("string instruction without a string memory operand");
    }
}
