// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>Register and operand access: Iced registers to the GPR file (with AH/CH/DH/BH), effective
/// addresses, immediates, and the stack.</summary>
public sealed partial class X86Cpu
{
    private const byte KindHigh = 9;

    /// <summary>Per Iced <see cref="Register"/>: the GPR index (ModRM numbering).</summary>
    private static readonly byte[] RegIndex = BuildRegisterTable(index: true);

    /// <summary>Per Iced <see cref="Register"/>: 1, 2, 4, 8 for a GPR of that size, 9 for AH/CH/DH/BH, 0 otherwise.</summary>
    private static readonly byte[] RegKind = BuildRegisterTable(index: false);

    private static byte[] BuildRegisterTable(bool index)
    {
        byte[] table = new byte[256];
        for (int r = 0; r < table.Length; r++)
        {
            var reg = (Register)r;
            if (!reg.IsGPR())
            {
                continue;
            }

            bool high = reg is Register.AH or Register.CH or Register.DH or Register.BH;
            table[r] = index ? (byte)(reg.GetFullRegister() - Register.RAX) : high ? KindHigh : (byte)reg.GetSize();
        }

        return table;
    }

    private ulong ReadReg(Register r)
    {
        int i = (int)r;
        ulong v = _gpr[RegIndex[i]];
        switch (RegKind[i])
        {
            case 8: return v;
            case 4: return (uint)v;
            case 2: return (ushort)v;
            case 1: return (byte)v;
            case KindHigh: return (byte)(v >> 8);
            default: throw new UnsupportedException($"register operand {r}");
        }
    }

    private void WriteReg(Register r, ulong value)
    {
        int i = (int)r;
        ref ulong g = ref _gpr[RegIndex[i]];
        switch (RegKind[i])
        {
            case 8: g = value; break;
            case 4: g = (uint)value; break;
            case 2: g = (g & ~0xFFFFUL) | (ushort)value; break;
            case 1: g = (g & ~0xFFUL) | (byte)value; break;
            case KindHigh: g = (g & ~0xFF00UL) | ((value & 0xFF) << 8); break;
            default: throw new UnsupportedException($"register operand {r}");
        }
    }

    /// <summary>Writes a GPR by index with an operand size (4 zero-extends, 2 and 1 merge).</summary>
    private void WriteGpr(int index, int bytes, ulong value)
    {
        ref ulong g = ref _gpr[index];
        switch (bytes)
        {
            case 8: g = value; break;
            case 4: g = (uint)value; break;
            case 2: g = (g & ~0xFFFFUL) | (ushort)value; break;
            default: g = (g & ~0xFFUL) | (byte)value; break;
        }
    }

    /// <summary>The effective address of the memory operand, masked to the address size.</summary>
    private ulong EffectiveAddress(ref Decoded d)
    {
        ulong ea;
        if (d.RipRelative)
        {
            ea = _nextRip + (ulong)d.Relative;
        }
        else
        {
            ea = d.I.MemoryDisplacement64;
            var b = d.I.MemoryBase;
            if (b != Register.None)
            {
                ea += ReadReg(b);
            }

            var x = d.I.MemoryIndex;
            if (x != Register.None)
            {
                ea += ReadReg(x) * (ulong)d.I.MemoryIndexScale;
            }
        }

        return d.AddrBytes switch
        {
            8 => ea,
            4 => (uint)ea,
            _ => (ushort)ea,
        };
    }

    /// <summary>The linear address of the memory operand (segment base applied).</summary>
    private ulong Ea(ref Decoded d) => Linear(d.I.MemorySegment - Register.ES, EffectiveAddress(ref d));

    private ulong ReadOp(ref Decoded d, int n, int bytes)
    {
        switch (d.I.GetOpKind(n))
        {
            case OpKind.Register:
                return ReadReg(d.I.GetOpRegister(n));
            case OpKind.Memory:
                return ReadMem(Ea(ref d), bytes);
            case OpKind.Immediate8:
            case OpKind.Immediate16:
            case OpKind.Immediate32:
            case OpKind.Immediate64:
            case OpKind.Immediate8to16:
            case OpKind.Immediate8to32:
            case OpKind.Immediate8to64:
            case OpKind.Immediate32to64:
                return d.I.GetImmediate(n) & SizeMask(bytes);
            default:
                throw new UnsupportedException($"operand kind {d.I.GetOpKind(n)}");
        }
    }

    /// <summary>Reads operand 0 for a read-modify-write; <paramref name="linear"/> receives its address when it is memory.</summary>
    private ulong ReadDest(ref Decoded d, int bytes, out ulong linear)
    {
        if (d.I.Op0Kind == OpKind.Memory)
        {
            linear = Ea(ref d);
            return ReadMemRmw(linear, bytes);
        }

        linear = 0;
        return ReadReg(d.I.Op0Register);
    }

    private void WriteDest(ref Decoded d, int bytes, ulong linear, ulong value)
    {
        if (d.I.Op0Kind == OpKind.Memory)
        {
            WriteMem(linear, bytes, value);
        }
        else
        {
            WriteReg(d.I.Op0Register, value);
        }
    }

    /// <summary>Writes operand 0 (register or memory) without reading it first.</summary>
    private void WriteOp0(ref Decoded d, int bytes, ulong value)
    {
        if (d.I.Op0Kind == OpKind.Memory)
        {
            WriteMem(Ea(ref d), bytes, value);
        }
        else
        {
            WriteReg(d.I.Op0Register, value);
        }
    }

    // ---- stack ----

    /// <summary>Stack-pointer width in bytes: 8 in 64-bit mode, else SS.B ? 4 : 2.</summary>
    private int StackBytes => _bitness == 64 ? 8 : (_segAttributes[2] & 0x4000) != 0 ? 4 : 2;

    private ulong StackPointer => StackBytes switch
    {
        8 => _gpr[4],
        4 => (uint)_gpr[4],
        _ => (ushort)_gpr[4],
    };

    private void SetStackPointer(ulong value) => WriteGpr(4, StackBytes, value);

    private void Push(ulong value, int bytes)
    {
        ulong sp = StackPointer - (ulong)bytes;
        WriteMem(Linear(2, MaskStack(sp)), bytes, value);
        SetStackPointer(sp);
    }

    private ulong MaskStack(ulong sp) => StackBytes switch
    {
        8 => sp,
        4 => (uint)sp,
        _ => (ushort)sp,
    };

    /// <summary>Reads the stack at RSP + <paramref name="offset"/> without moving RSP.</summary>
    private ulong PeekStack(int offset, int bytes) => ReadMem(Linear(2, MaskStack(StackPointer + (ulong)offset)), bytes);

    private ulong Pop(int bytes)
    {
        ulong sp = StackPointer;
        ulong v = ReadMem(Linear(2, sp), bytes);
        SetStackPointer(sp + (ulong)bytes);
        return v;
    }

    private static ulong SignExtend(ulong value, int bytes) => bytes switch
    {
        1 => (ulong)(sbyte)value,
        2 => (ulong)(short)value,
        4 => (ulong)(int)value,
        _ => value,
    };
}
