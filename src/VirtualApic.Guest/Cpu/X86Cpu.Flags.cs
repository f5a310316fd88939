// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>
/// RFLAGS with lazily evaluated arithmetic flags: ADD/ADC/SUB/SBB/CMP/NEG/INC/DEC/AND/OR/XOR/TEST record
/// their operands and result; CF, PF, AF, ZF, SF and OF are computed only when read.
/// </summary>
public sealed partial class X86Cpu
{
    private const int LazyNone = 0, LazyAdd = 1, LazyAdc = 2, LazySub = 3, LazySbb = 4, LazyLogic = 5, LazyInc = 6, LazyDec = 7;

    /// <summary>RFLAGS; the arithmetic bits are valid only while <see cref="_lazyOp"/> is <see cref="LazyNone"/>
    /// (for INC/DEC, CF is valid here too).</summary>
    private ulong _flags = 2;
    private int _lazyOp;
    private int _lazyBytes;
    private ulong _lazyDst, _lazySrc, _lazyRes;

    private static ulong SignBit(int bytes) => 1UL << ((8 * bytes) - 1);

    private static ulong SizeMask(int bytes) => bytes == 8 ? ulong.MaxValue : (1UL << (8 * bytes)) - 1;

    private void SetLazy(int op, int bytes, ulong dst, ulong src, ulong res)
    {
        _lazyOp = op;
        _lazyBytes = bytes;
        _lazyDst = dst;
        _lazySrc = src;
        _lazyRes = res;
    }

    private bool GetCf() => _lazyOp switch
    {
        LazyNone or LazyInc or LazyDec => (_flags & FlagCf) != 0,
        LazyAdd => _lazyRes < _lazyDst,
        LazyAdc => (_flags & FlagCf) != 0 ? _lazyRes <= _lazyDst : _lazyRes < _lazyDst,
        LazySub => _lazyDst < _lazySrc,
        LazySbb => (_flags & FlagCf) != 0 ? _lazyDst <= _lazySrc : _lazyDst < _lazySrc,
        _ => false,
    };

    private bool GetZf() => _lazyOp == LazyNone ? (_flags & FlagZf) != 0 : _lazyRes == 0;

    private bool GetSf() => _lazyOp == LazyNone ? (_flags & FlagSf) != 0 : (_lazyRes & SignBit(_lazyBytes)) != 0;

    private bool GetPf() => _lazyOp == LazyNone ? (_flags & FlagPf) != 0 : (BitOperations.PopCount(_lazyRes & 0xFF) & 1) == 0;

    private bool GetOf() => _lazyOp switch
    {
        LazyNone => (_flags & FlagOf) != 0,
        LazyAdd or LazyAdc or LazyInc => ((_lazyDst ^ _lazyRes) & (_lazySrc ^ _lazyRes) & SignBit(_lazyBytes)) != 0,
        LazySub or LazySbb or LazyDec => ((_lazyDst ^ _lazySrc) & (_lazyDst ^ _lazyRes) & SignBit(_lazyBytes)) != 0,
        _ => false,
    };

    private bool GetAf() => _lazyOp switch
    {
        LazyNone => (_flags & FlagAf) != 0,
        LazyLogic => false,
        _ => ((_lazyDst ^ _lazySrc ^ _lazyRes) & 0x10) != 0,
    };

    /// <summary>The complete RFLAGS value.</summary>
    private ulong GetRflags()
    {
        if (_lazyOp == LazyNone)
        {
            return _flags;
        }

        ulong f = _flags & ~ArithFlags;
        if (GetCf())
        {
            f |= FlagCf;
        }

        if (GetPf())
        {
            f |= FlagPf;
        }

        if (GetAf())
        {
            f |= FlagAf;
        }

        if (GetZf())
        {
            f |= FlagZf;
        }

        if (GetSf())
        {
            f |= FlagSf;
        }

        if (GetOf())
        {
            f |= FlagOf;
        }

        return f;
    }

    /// <summary>Makes <see cref="_flags"/> hold every flag (ends lazy evaluation).</summary>
    private void MaterializeFlags()
    {
        if (_lazyOp != LazyNone)
        {
            _flags = GetRflags();
            _lazyOp = LazyNone;
        }
    }

    /// <summary>Replaces the arithmetic flags selected by <paramref name="mask"/>.</summary>
    private void SetArithFlags(ulong mask, ulong values)
    {
        MaterializeFlags();
        _flags = (_flags & ~mask) | (values & mask);
    }

    /// <summary>ZF, SF and PF of a result, as bits.</summary>
    private static ulong ResultFlags(ulong result, int bytes)
    {
        ulong f = 0;
        if ((result & SizeMask(bytes)) == 0)
        {
            f |= FlagZf;
        }

        if ((result & SignBit(bytes)) != 0)
        {
            f |= FlagSf;
        }

        if ((BitOperations.PopCount(result & 0xFF) & 1) == 0)
        {
            f |= FlagPf;
        }

        return f;
    }

    private bool Condition(ConditionCode cc)
    {
        if (_lazyOp == LazySub)
        {
            // CMP/SUB fast path: compare the recorded operands directly.
            ulong a = _lazyDst, b = _lazySrc;
            switch (cc)
            {
                case ConditionCode.e: return a == b;
                case ConditionCode.ne: return a != b;
                case ConditionCode.b: return a < b;
                case ConditionCode.ae: return a >= b;
                case ConditionCode.be: return a <= b;
                case ConditionCode.a: return a > b;
                default:
                    break;
            }

            if (cc is ConditionCode.l or ConditionCode.ge or ConditionCode.le or ConditionCode.g)
            {
                int shift = 64 - (8 * _lazyBytes);
                long sa = (long)(a << shift) >> shift, sb = (long)(b << shift) >> shift;
                return cc switch
                {
                    ConditionCode.l => sa < sb,
                    ConditionCode.ge => sa >= sb,
                    ConditionCode.le => sa <= sb,
                    _ => sa > sb,
                };
            }
        }

        return cc switch
        {
            ConditionCode.o => GetOf(),
            ConditionCode.no => !GetOf(),
            ConditionCode.b => GetCf(),
            ConditionCode.ae => !GetCf(),
            ConditionCode.e => GetZf(),
            ConditionCode.ne => !GetZf(),
            ConditionCode.be => GetCf() || GetZf(),
            ConditionCode.a => !GetCf() && !GetZf(),
            ConditionCode.s => GetSf(),
            ConditionCode.ns => !GetSf(),
            ConditionCode.p => GetPf(),
            ConditionCode.np => !GetPf(),
            ConditionCode.l => GetSf() != GetOf(),
            ConditionCode.ge => GetSf() == GetOf(),
            ConditionCode.le => GetZf() || GetSf() != GetOf(),
            ConditionCode.g => !GetZf() && GetSf() == GetOf(),
            _ => throw new UnsupportedException($"condition code {cc}"),
        };
    }
}
