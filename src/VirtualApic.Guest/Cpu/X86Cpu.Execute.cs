// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>The integer instruction set: dispatch on Iced's mnemonic.</summary>
public sealed partial class X86Cpu
{
    private void Execute(ref Decoded d)
    {
        if (d.I.HasLockPrefix)
        {
            CheckLock(ref d);
        }

        switch (d.I.Mnemonic)
        {
            case Mnemonic.Mov:
                ExecMov(ref d);
                return;
            case Mnemonic.Add:
            case Mnemonic.Or:
            case Mnemonic.Adc:
            case Mnemonic.Sbb:
            case Mnemonic.And:
            case Mnemonic.Sub:
            case Mnemonic.Xor:
            case Mnemonic.Cmp:
            case Mnemonic.Test:
                ExecAlu(ref d);
                return;
            case Mnemonic.Call:
                ExecCall(ref d);
                return;
            case Mnemonic.Ret:
                ExecRet(ref d);
                return;
            case Mnemonic.Push:
                ExecPush(ref d);
                return;
            case Mnemonic.Pop:
                ExecPop(ref d);
                return;
            case Mnemonic.Lea:
                WriteReg(d.I.Op0Register, EffectiveAddress(ref d));
                return;
            case Mnemonic.Jmp:
                ExecJmp(ref d);
                return;
            case Mnemonic.Jo:
            case Mnemonic.Jno:
            case Mnemonic.Jb:
            case Mnemonic.Jae:
            case Mnemonic.Je:
            case Mnemonic.Jne:
            case Mnemonic.Jbe:
            case Mnemonic.Ja:
            case Mnemonic.Js:
            case Mnemonic.Jns:
            case Mnemonic.Jp:
            case Mnemonic.Jnp:
            case Mnemonic.Jl:
            case Mnemonic.Jge:
            case Mnemonic.Jle:
            case Mnemonic.Jg:
                if (Condition(d.I.ConditionCode))
                {
                    BranchRelative(ref d);
                }

                return;
            case Mnemonic.Endbr64:
            case Mnemonic.Endbr32:
            case Mnemonic.Nop:
            case Mnemonic.Mfence:
            case Mnemonic.Lfence:
            case Mnemonic.Sfence:
            case Mnemonic.Prefetchnta:
            case Mnemonic.Prefetcht0:
            case Mnemonic.Prefetcht1:
            case Mnemonic.Prefetcht2:
            case Mnemonic.Prefetchw:
                return;
            case Mnemonic.Movzx:
                {
                    int sb = SourceBytes(ref d, 1);
                    WriteReg(d.I.Op0Register, ReadOp(ref d, 1, sb));
                    return;
                }

            case Mnemonic.Movsx:
            case Mnemonic.Movsxd:
                {
                    int sb = SourceBytes(ref d, 1);
                    WriteReg(d.I.Op0Register, SignExtend(ReadOp(ref d, 1, sb), sb));
                    return;
                }

            case Mnemonic.Inc:
            case Mnemonic.Dec:
                ExecIncDec(ref d);
                return;
            case Mnemonic.Neg:
                {
                    int sz = d.OpBytes;
                    ulong v = ReadDest(ref d, sz, out ulong la);
                    ulong r = (0 - v) & SizeMask(sz);
                    WriteDest(ref d, sz, la, r);
                    SetLazy(LazySub, sz, 0, v, r);
                    return;
                }

            case Mnemonic.Not:
                {
                    int sz = d.OpBytes;
                    ulong v = ReadDest(ref d, sz, out ulong la);
                    WriteDest(ref d, sz, la, ~v & SizeMask(sz));
                    return;
                }

            case Mnemonic.Seto:
            case Mnemonic.Setno:
            case Mnemonic.Setb:
            case Mnemonic.Setae:
            case Mnemonic.Sete:
            case Mnemonic.Setne:
            case Mnemonic.Setbe:
            case Mnemonic.Seta:
            case Mnemonic.Sets:
            case Mnemonic.Setns:
            case Mnemonic.Setp:
            case Mnemonic.Setnp:
            case Mnemonic.Setl:
            case Mnemonic.Setge:
            case Mnemonic.Setle:
            case Mnemonic.Setg:
                WriteOp0(ref d, 1, Condition(d.I.ConditionCode) ? 1UL : 0UL);
                return;
            case Mnemonic.Cmovo:
            case Mnemonic.Cmovno:
            case Mnemonic.Cmovb:
            case Mnemonic.Cmovae:
            case Mnemonic.Cmove:
            case Mnemonic.Cmovne:
            case Mnemonic.Cmovbe:
            case Mnemonic.Cmova:
            case Mnemonic.Cmovs:
            case Mnemonic.Cmovns:
            case Mnemonic.Cmovp:
            case Mnemonic.Cmovnp:
            case Mnemonic.Cmovl:
            case Mnemonic.Cmovge:
            case Mnemonic.Cmovle:
            case Mnemonic.Cmovg:
                {
                    // The source is read (and may fault) whatever the condition; a 32-bit destination is
                    // zero-extended even when the move does not happen (SDM CMOVcc, 64-bit mode).
                    int sz = d.OpBytes;
                    ulong src = ReadOp(ref d, 1, sz);
                    var r = d.I.Op0Register;
                    WriteReg(r, Condition(d.I.ConditionCode) ? src : ReadReg(r));
                    return;
                }

            case Mnemonic.Shl:
            case Mnemonic.Sal:
            case Mnemonic.Shr:
            case Mnemonic.Sar:
            case Mnemonic.Rol:
            case Mnemonic.Ror:
            case Mnemonic.Rcl:
            case Mnemonic.Rcr:
                ExecShift(ref d);
                return;
            case Mnemonic.Shld:
            case Mnemonic.Shrd:
                ExecDoubleShift(ref d);
                return;
            case Mnemonic.Imul:
                ExecImul(ref d);
                return;
            case Mnemonic.Mul:
                ExecMul(ref d);
                return;
            case Mnemonic.Div:
            case Mnemonic.Idiv:
                ExecDiv(ref d);
                return;
            case Mnemonic.Xchg:
                ExecXchg(ref d);
                return;
            case Mnemonic.Xadd:
                {
                    int sz = d.OpBytes;
                    ulong dst = ReadDest(ref d, sz, out ulong la);
                    ulong src = ReadReg(d.I.Op1Register);
                    ulong r = (dst + src) & SizeMask(sz);
                    if (d.I.Op0Kind == OpKind.Memory)
                    {
                        WriteMem(la, sz, r);
                        WriteReg(d.I.Op1Register, dst);
                    }
                    else
                    {
                        WriteReg(d.I.Op1Register, dst);
                        WriteReg(d.I.Op0Register, r);
                    }

                    SetLazy(LazyAdd, sz, dst, src, r);
                    return;
                }

            case Mnemonic.Cmpxchg:
                {
                    int sz = d.OpBytes;
                    ulong dst = ReadDest(ref d, sz, out ulong la);
                    ulong acc = _gpr[0] & SizeMask(sz);
                    ulong src = ReadReg(d.I.Op1Register);
                    if (acc == dst)
                    {
                        WriteDest(ref d, sz, la, src);
                    }
                    else
                    {
                        if (d.I.Op0Kind == OpKind.Memory)
                        {
                            WriteMem(la, sz, dst); // the locked cycle always writes (SDM CMPXCHG)
                        }

                        WriteGpr(0, sz, dst);
                    }

                    SetLazy(LazySub, sz, acc, dst, (acc - dst) & SizeMask(sz));
                    return;
                }

            case Mnemonic.Bt:
            case Mnemonic.Bts:
            case Mnemonic.Btr:
            case Mnemonic.Btc:
                ExecBitTest(ref d);
                return;
            case Mnemonic.Bsf:
            case Mnemonic.Bsr:
                {
                    int sz = d.OpBytes;
                    ulong src = ReadOp(ref d, 1, sz);
                    if (src == 0)
                    {
                        SetArithFlags(FlagZf, FlagZf);
                        return; // destination unchanged (AMD documents it; Intel CPUs do it)
                    }

                    ulong idx = d.I.Mnemonic == Mnemonic.Bsf ? (ulong)BitOperations.TrailingZeroCount(src) : (ulong)(63 - BitOperations.LeadingZeroCount(src));
                    WriteReg(d.I.Op0Register, idx);
                    SetArithFlags(ArithFlags, ResultFlags(idx, sz) & ~FlagZf);
                    return;
                }

            case Mnemonic.Bswap:
                {
                    var r = d.I.Op0Register;
                    ulong v = ReadReg(r);
                    WriteReg(r, d.OpBytes == 8 ? BinaryReverse64(v) : d.OpBytes == 4 ? BinaryReverse32((uint)v) : 0);
                    return;
                }

            case Mnemonic.Cbw:
                WriteGpr(0, 2, (ulong)(sbyte)_gpr[0]);
                return;
            case Mnemonic.Cwde:
                WriteGpr(0, 4, (ulong)(short)_gpr[0]);
                return;
            case Mnemonic.Cdqe:
                _gpr[0] = (ulong)(int)_gpr[0];
                return;
            case Mnemonic.Cwd:
                WriteGpr(2, 2, (short)_gpr[0] < 0 ? 0xFFFFUL : 0);
                return;
            case Mnemonic.Cdq:
                WriteGpr(2, 4, (int)_gpr[0] < 0 ? 0xFFFFFFFFUL : 0);
                return;
            case Mnemonic.Cqo:
                _gpr[2] = (long)_gpr[0] < 0 ? ulong.MaxValue : 0;
                return;
            case Mnemonic.Clc:
                SetArithFlags(FlagCf, 0);
                return;
            case Mnemonic.Stc:
                SetArithFlags(FlagCf, FlagCf);
                return;
            case Mnemonic.Cmc:
                SetArithFlags(FlagCf, GetCf() ? 0 : FlagCf);
                return;
            case Mnemonic.Cld:
                _flags &= ~FlagDf;
                return;
            case Mnemonic.Std:
                _flags |= FlagDf;
                return;
            case Mnemonic.Lahf:
                WriteReg(Register.AH, (GetRflags() & 0xD5) | 2);
                return;
            case Mnemonic.Sahf:
                SetArithFlags(FlagCf | FlagPf | FlagAf | FlagZf | FlagSf, (_gpr[0] >> 8) & 0xD5);
                return;
            case Mnemonic.Loop:
            case Mnemonic.Loope:
            case Mnemonic.Loopne:
            case Mnemonic.Jcxz:
            case Mnemonic.Jecxz:
            case Mnemonic.Jrcxz:
                ExecLoop(ref d);
                return;
            case Mnemonic.Leave:
                {
                    int sz = d.I.Code switch { Code.Leavew => 2, Code.Leaved => 4, _ => 8 };
                    ulong bp = StackBytes switch { 8 => _gpr[5], 4 => (uint)_gpr[5], _ => (ushort)_gpr[5] };
                    ulong v = ReadMem(Linear(2, bp), sz);
                    SetStackPointer(bp + (ulong)sz);
                    WriteGpr(5, sz, v);
                    return;
                }

            case Mnemonic.Enter:
                ExecEnter(ref d);
                return;
            case Mnemonic.Movsb:
            case Mnemonic.Movsw:
            case Mnemonic.Movsd:
            case Mnemonic.Movsq:
            case Mnemonic.Stosb:
            case Mnemonic.Stosw:
            case Mnemonic.Stosd:
            case Mnemonic.Stosq:
            case Mnemonic.Lodsb:
            case Mnemonic.Lodsw:
            case Mnemonic.Lodsd:
            case Mnemonic.Lodsq:
            case Mnemonic.Cmpsb:
            case Mnemonic.Cmpsw:
            case Mnemonic.Cmpsd:
            case Mnemonic.Cmpsq:
            case Mnemonic.Scasb:
            case Mnemonic.Scasw:
            case Mnemonic.Scasd:
            case Mnemonic.Scasq:
            case Mnemonic.Insb:
            case Mnemonic.Insw:
            case Mnemonic.Insd:
            case Mnemonic.Outsb:
            case Mnemonic.Outsw:
            case Mnemonic.Outsd:
                ExecString(ref d);
                return;
            case Mnemonic.Xlatb:
                {
                    ulong ea = d.AddrBytes switch { 8 => _gpr[3] + (byte)_gpr[0], 4 => (uint)(_gpr[3] + (byte)_gpr[0]), _ => (ushort)(_gpr[3] + (byte)_gpr[0]) };
                    WriteGpr(0, 1, ReadMem(Linear(d.I.MemorySegment - Register.ES, ea), 1));
                    return;
                }

            default:
                ExecSystem(ref d);
                return;
        }
    }

    private static ulong BinaryReverse64(ulong v) => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);

    private static uint BinaryReverse32(uint v) => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);

    /// <summary>LOCK is valid only on a memory-destination ADD, ADC, AND, BTC, BTR, BTS, CMPXCHG, DEC, INC,
    /// NEG, NOT, OR, SBB, SUB, XOR, XADD, XCHG (SDM LOCK); anything else is #UD.</summary>
    private void CheckLock(ref Decoded d)
    {
        bool ok = d.I.OpCount > 0 && d.I.Op0Kind == OpKind.Memory && d.I.Mnemonic switch
        {
            Mnemonic.Add or Mnemonic.Adc or Mnemonic.And or Mnemonic.Btc or Mnemonic.Btr or Mnemonic.Bts or Mnemonic.Cmpxchg
                or Mnemonic.Dec or Mnemonic.Inc or Mnemonic.Neg or Mnemonic.Not or Mnemonic.Or or Mnemonic.Sbb or Mnemonic.Sub
                or Mnemonic.Xor or Mnemonic.Xadd or Mnemonic.Xchg or Mnemonic.Cmpxchg8b or Mnemonic.Cmpxchg16b => true,
            _ => false,
        };
        if (!ok)
        {
            RaiseUd();
        }
    }

    private int SourceBytes(ref Decoded d, int n) =>
        d.I.GetOpKind(n) == OpKind.Memory ? d.MemBytes : d.I.GetOpRegister(n).GetSize();

    private void ExecMov(ref Decoded d)
    {
        var k0 = d.I.Op0Kind;
        var k1 = d.I.Op1Kind;
        if (k0 == OpKind.Register)
        {
            var r = d.I.Op0Register;
            if (RegKind[(int)r] != 0)
            {
                if (k1 == OpKind.Register)
                {
                    var s = d.I.Op1Register;
                    if (RegKind[(int)s] == 0)
                    {
                        ExecMovSystem(ref d);
                        return;
                    }

                    WriteReg(r, ReadReg(s));
                    return;
                }

                WriteReg(r, ReadOp(ref d, 1, d.OpBytes));
                return;
            }

            ExecMovSystem(ref d);
            return;
        }

        // Memory destination.
        if (k1 == OpKind.Register && RegKind[(int)d.I.Op1Register] == 0)
        {
            ExecMovSystem(ref d);
            return;
        }

        int sz = d.MemBytes;
        ulong v = ReadOp(ref d, 1, sz);
        WriteMem(Ea(ref d), sz, v);
    }

    private void ExecAlu(ref Decoded d)
    {
        int sz = d.OpBytes;
        var m = d.I.Mnemonic;
        bool isMem = d.I.Op0Kind == OpKind.Memory;
        ulong la = 0;
        ulong dst;
        if (isMem)
        {
            la = Ea(ref d);
            dst = m is Mnemonic.Cmp or Mnemonic.Test ? ReadMem(la, sz) : ReadMemRmw(la, sz);
        }
        else
        {
            dst = ReadReg(d.I.Op0Register);
        }

        ulong src = ReadOp(ref d, 1, sz);
        ulong mask = SizeMask(sz);
        ulong r;
        int op;
        switch (m)
        {
            case Mnemonic.Add: r = (dst + src) & mask; op = LazyAdd; break;
            case Mnemonic.Sub: r = (dst - src) & mask; op = LazySub; break;
            case Mnemonic.Cmp: r = (dst - src) & mask; op = LazySub; break;
            case Mnemonic.And: r = dst & src; op = LazyLogic; break;
            case Mnemonic.Test: r = dst & src; op = LazyLogic; break;
            case Mnemonic.Or: r = dst | src; op = LazyLogic; break;
            case Mnemonic.Xor: r = dst ^ src; op = LazyLogic; break;
            case Mnemonic.Adc:
                {
                    ulong c = GetCf() ? 1UL : 0;
                    r = (dst + src + c) & mask;
                    if (isMem)
                    {
                        WriteMem(la, sz, r);
                    }
                    else
                    {
                        WriteReg(d.I.Op0Register, r);
                    }

                    MaterializeFlags();
                    _flags = (_flags & ~FlagCf) | c;
                    SetLazy(LazyAdc, sz, dst, src, r);
                    return;
                }

            default:
                {
                    ulong c = GetCf() ? 1UL : 0;
                    r = (dst - src - c) & mask;
                    if (isMem)
                    {
                        WriteMem(la, sz, r);
                    }
                    else
                    {
                        WriteReg(d.I.Op0Register, r);
                    }

                    MaterializeFlags();
                    _flags = (_flags & ~FlagCf) | c;
                    SetLazy(LazySbb, sz, dst, src, r);
                    return;
                }
        }

        if (m is not (Mnemonic.Cmp or Mnemonic.Test))
        {
            if (isMem)
            {
                WriteMem(la, sz, r);
            }
            else
            {
                WriteReg(d.I.Op0Register, r);
            }
        }

        SetLazy(op, sz, dst, src, r);
    }

    private void ExecIncDec(ref Decoded d)
    {
        int sz = d.OpBytes;
        ulong v = ReadDest(ref d, sz, out ulong la);
        bool inc = d.I.Mnemonic == Mnemonic.Inc;
        ulong r = (inc ? v + 1 : v - 1) & SizeMask(sz);
        WriteDest(ref d, sz, la, r);
        ulong cf = GetCf() ? FlagCf : 0;
        MaterializeFlags();
        _flags = (_flags & ~FlagCf) | cf;
        SetLazy(inc ? LazyInc : LazyDec, sz, v, 1, r);
    }

    private void BranchRelative(ref Decoded d)
    {
        ulong target = _nextRip + (ulong)d.Relative;
        _nextRip = d.I.Op0Kind switch
        {
            OpKind.NearBranch64 => target,
            OpKind.NearBranch32 => (uint)target,
            _ => (ushort)target,
        };
    }

    private void ExecJmp(ref Decoded d) => ExecTransfer(ref d, call: false);

    private void ExecCall(ref Decoded d) => ExecTransfer(ref d, call: true);

    // JMP and CALL resolve their target the same way; CALL pushes the return address once the target
    // is read (a faulting operand leaves the stack untouched).
    private void ExecTransfer(ref Decoded d, bool call)
    {
        ulong target;
        switch (d.I.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
            case OpKind.NearBranch64:
                if (call)
                {
                    Push(_nextRip, -d.I.StackPointerIncrement);
                }

                BranchRelative(ref d);
                return;
            case OpKind.Register:
                target = ReadReg(d.I.Op0Register);
                break;
            case OpKind.Memory when d.I.Code is Code.Jmp_rm16 or Code.Jmp_rm32 or Code.Jmp_rm64 or Code.Call_rm16 or Code.Call_rm32 or Code.Call_rm64:
                target = ReadMem(Ea(ref d), d.MemBytes);
                break;
            case OpKind.Memory:
                ExecFarIndirect(ref d, call);
                return;
            case OpKind.FarBranch16:
            case OpKind.FarBranch32:
                FarTransfer(d.I.FarBranchSelector, d.I.Op0Kind == OpKind.FarBranch16 ? d.I.FarBranch16 : d.I.FarBranch32, call, operandBytes: d.I.Op0Kind == OpKind.FarBranch16 ? 2 : 4);
                return;
            default:
                throw new UnsupportedException($"{(call ? "call" : "jmp")} operand {d.I.Op0Kind}");
        }

        if (call)
        {
            Push(_nextRip, -d.I.StackPointerIncrement);
        }

        _nextRip = target;
    }

    private void ExecRet(ref Decoded d)
    {
        int sz = d.I.Code switch
        {
            Code.Retnw or Code.Retnw_imm16 => 2,
            Code.Retnd or Code.Retnd_imm16 => 4,
            _ => 8,
        };
        ulong target = Pop(sz);
        if (d.I.OpCount > 0)
        {
            SetStackPointer(StackPointer + d.I.Immediate16);
        }

        _nextRip = target;
    }

    private void ExecPush(ref Decoded d)
    {
        int sz = -d.I.StackPointerIncrement;
        ulong v;
        if (d.I.Op0Kind == OpKind.Register)
        {
            var r = d.I.Op0Register;
            v = RegKind[(int)r] != 0 ? ReadReg(r) : r >= Register.ES && r <= Register.GS ? _segSelector[r - Register.ES] : throw new UnsupportedException($"push {r}");
        }
        else
        {
            v = ReadOp(ref d, 0, d.I.Op0Kind == OpKind.Memory ? d.MemBytes : sz);
        }

        // Immediates are sign-extended to the push size by Iced's operand kind.
        Push(v, sz);
    }

    private void ExecPop(ref Decoded d)
    {
        int sz = d.I.StackPointerIncrement;
        if (d.I.Op0Kind == OpKind.Register)
        {
            var r = d.I.Op0Register;
            if (RegKind[(int)r] != 0)
            {
                ulong v = Pop(sz);
                WriteReg(r, v);
                return;
            }

            if (r >= Register.ES && r <= Register.GS)
            {
                ulong sel = PeekStack(0, sz);
                LoadSegment(r - Register.ES, (ushort)sel);
                SetStackPointer(StackPointer + (ulong)sz);
                if (r == Register.SS)
                {
                    _shadowPending = true;
                }

                return;
            }

            throw new UnsupportedException($"pop {r}");
        }

        // POP r/m: RSP is incremented before the address is computed (SDM POP).
        ulong value = PeekStack(0, sz);
        ulong oldSp = _gpr[4];
        SetStackPointer(StackPointer + (ulong)sz);
        try
        {
            WriteMem(Ea(ref d), sz, value);
        }
        catch (GuestFault)
        {
            _gpr[4] = oldSp;
            throw;
        }
    }

    private void ExecShift(ref Decoded d)
    {
        int sz = d.OpBytes;
        int bits = 8 * sz;
        ulong mask = SizeMask(sz);
        ulong dst = ReadDest(ref d, sz, out ulong la);
        int count = (int)ReadOp(ref d, 1, 1) & (sz == 8 ? 0x3F : 0x1F);
        var m = d.I.Mnemonic;
        if (count == 0)
        {
            // Nothing changes, not even flags; a 32-bit register destination is still written (zero-extended).
            if (d.I.Op0Kind == OpKind.Register && sz == 4)
            {
                WriteReg(d.I.Op0Register, dst);
            }

            return;
        }

        ulong sign = SignBit(sz);
        ulong r;
        ulong cf;
        ulong of;
        ulong flags;
        switch (m)
        {
            case Mnemonic.Shl:
            case Mnemonic.Sal:
                r = count < 64 ? (dst << count) & mask : 0;
                cf = count <= bits ? (dst >> (bits - count)) & 1 : 0;
                of = ((r & sign) != 0 ? 1UL : 0) ^ cf;
                flags = ResultFlags(r, sz) | (cf != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0);
                WriteDest(ref d, sz, la, r);
                SetArithFlags(ArithFlags, flags);
                return;
            case Mnemonic.Shr:
                r = count < 64 ? dst >> count : 0;
                cf = count <= bits ? (dst >> (count - 1)) & 1 : 0;
                of = (dst & sign) != 0 ? 1UL : 0;
                flags = ResultFlags(r, sz) | (cf != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0);
                WriteDest(ref d, sz, la, r);
                SetArithFlags(ArithFlags, flags);
                return;
            case Mnemonic.Sar:
                {
                    long s = (long)SignExtend(dst, sz);
                    int c = Math.Min(count, 63);
                    r = (ulong)(s >> c) & mask;
                    cf = (ulong)(s >> Math.Min(count - 1, 63)) & 1;
                    flags = ResultFlags(r, sz) | (cf != 0 ? FlagCf : 0);
                    WriteDest(ref d, sz, la, r);
                    SetArithFlags(ArithFlags, flags);
                    return;
                }

            case Mnemonic.Rol:
                {
                    int c = count % bits;
                    r = c == 0 ? dst : ((dst << c) | (dst >> (bits - c))) & mask;
                    cf = r & 1;
                    of = ((r & sign) != 0 ? 1UL : 0) ^ cf;
                    WriteDest(ref d, sz, la, r);
                    SetArithFlags(FlagCf | FlagOf, (cf != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0));
                    return;
                }

            case Mnemonic.Ror:
                {
                    int c = count % bits;
                    r = c == 0 ? dst : ((dst >> c) | (dst << (bits - c))) & mask;
                    cf = (r & sign) != 0 ? 1UL : 0;
                    of = cf ^ ((r >> (bits - 2)) & 1);
                    WriteDest(ref d, sz, la, r);
                    SetArithFlags(FlagCf | FlagOf, (cf != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0));
                    return;
                }

            case Mnemonic.Rcl:
                {
                    int c = sz < 4 ? count % (bits + 1) : count;
                    ulong carry = GetCf() ? 1UL : 0;
                    r = dst;
                    for (int i = 0; i < c; i++)
                    {
                        ulong outBit = (r & sign) != 0 ? 1UL : 0;
                        r = ((r << 1) | carry) & mask;
                        carry = outBit;
                    }

                    of = ((r & sign) != 0 ? 1UL : 0) ^ carry;
                    WriteDest(ref d, sz, la, r);
                    SetArithFlags(FlagCf | FlagOf, (carry != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0));
                    return;
                }

            default:
                {
                    // RCR: OF (count 1) = MSB(dest) XOR CF, before rotating.
                    int c = sz < 4 ? count % (bits + 1) : count;
                    ulong carry = GetCf() ? 1UL : 0;
                    of = ((dst & sign) != 0 ? 1UL : 0) ^ carry;
                    r = dst;
                    for (int i = 0; i < c; i++)
                    {
                        ulong outBit = r & 1;
                        r = (r >> 1) | (carry != 0 ? sign : 0);
                        carry = outBit;
                    }

                    WriteDest(ref d, sz, la, r);
                    SetArithFlags(FlagCf | FlagOf, (carry != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0));
                    return;
                }
        }
    }

    private void ExecDoubleShift(ref Decoded d)
    {
        int sz = d.OpBytes;
        int bits = 8 * sz;
        ulong mask = SizeMask(sz);
        ulong dst = ReadDest(ref d, sz, out ulong la);
        ulong src = ReadReg(d.I.Op1Register);
        int count = (int)ReadOp(ref d, 2, 1) & (sz == 8 ? 0x3F : 0x1F);
        if (count == 0)
        {
            if (d.I.Op0Kind == OpKind.Register && sz == 4)
            {
                WriteReg(d.I.Op0Register, dst);
            }

            return;
        }

        if (count > bits)
        {
            throw new UnsupportedException("SHLD/SHRD with a count above the operand size (result undefined)");
        }

        UInt128 wide;
        ulong r, cf;
        ulong sign = SignBit(sz);
        if (d.I.Mnemonic == Mnemonic.Shld)
        {
            wide = ((UInt128)dst << bits) | src;
            r = (ulong)((wide << count) >> bits) & mask;
            cf = (ulong)(wide >> (2 * bits - count)) & 1;
        }
        else
        {
            wide = ((UInt128)src << bits) | dst;
            r = (ulong)(wide >> count) & mask;
            cf = (ulong)(wide >> (count - 1)) & 1;
        }

        ulong of = ((r ^ dst) & sign) != 0 ? 1UL : 0;
        WriteDest(ref d, sz, la, r);
        SetArithFlags(ArithFlags, ResultFlags(r, sz) | (cf != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0));
    }

    private void ExecMul(ref Decoded d)
    {
        int sz = d.OpBytes;
        ulong src = ReadOp(ref d, 0, sz);
        ulong lo, hi;
        switch (sz)
        {
            case 1:
                {
                    ulong p = (byte)_gpr[0] * src;
                    WriteGpr(0, 2, p);
                    lo = p & 0xFF;
                    hi = p >> 8;
                    break;
                }

            case 2:
                {
                    ulong p = (ushort)_gpr[0] * src;
                    lo = p & 0xFFFF;
                    hi = p >> 16;
                    WriteGpr(0, 2, lo);
                    WriteGpr(2, 2, hi);
                    break;
                }

            case 4:
                {
                    ulong p = (uint)_gpr[0] * src;
                    lo = (uint)p;
                    hi = p >> 32;
                    WriteGpr(0, 4, lo);
                    WriteGpr(2, 4, hi);
                    break;
                }

            default:
                hi = Math.BigMul(_gpr[0], src, out lo);
                _gpr[0] = lo;
                _gpr[2] = hi;
                break;
        }

        ulong c = hi != 0 ? FlagCf | FlagOf : 0;
        SetArithFlags(ArithFlags, c | ResultFlags(lo, sz));
    }

    private void ExecImul(ref Decoded d)
    {
        int sz = d.OpBytes;
        if (d.I.OpCount == 1)
        {
            long a = (long)SignExtend(_gpr[0], sz);
            long b = (long)SignExtend(ReadOp(ref d, 0, sz), sz);
            bool overflow;
            ulong lo;
            switch (sz)
            {
                case 1:
                    {
                        long p = a * b;
                        WriteGpr(0, 2, (ulong)p);
                        lo = (ulong)p & 0xFF;
                        overflow = p != (sbyte)p;
                        break;
                    }

                case 2:
                    {
                        long p = a * b;
                        WriteGpr(0, 2, (ulong)p);
                        WriteGpr(2, 2, (ulong)(p >> 16));
                        lo = (ulong)p & 0xFFFF;
                        overflow = p != (short)p;
                        break;
                    }

                case 4:
                    {
                        long p = a * b;
                        WriteGpr(0, 4, (ulong)p);
                        WriteGpr(2, 4, (ulong)(p >> 32));
                        lo = (uint)p;
                        overflow = p != (int)p;
                        break;
                    }

                default:
                    {
                        long hi = Math.BigMul(a, b, out long low);
                        _gpr[0] = (ulong)low;
                        _gpr[2] = (ulong)hi;
                        lo = (ulong)low;
                        overflow = hi != (low >> 63);
                        break;
                    }
            }

            SetArithFlags(ArithFlags, (overflow ? FlagCf | FlagOf : 0) | ResultFlags(lo, sz));
            return;
        }

        long x, y;
        if (d.I.OpCount == 2)
        {
            x = (long)SignExtend(ReadReg(d.I.Op0Register), sz);
            y = (long)SignExtend(ReadOp(ref d, 1, sz), sz);
        }
        else
        {
            x = (long)SignExtend(ReadOp(ref d, 1, sz), sz);
            y = (long)SignExtend(ReadOp(ref d, 2, sz), sz);
        }

        ulong res;
        bool ov;
        if (sz == 8)
        {
            long hi = Math.BigMul(x, y, out long low);
            res = (ulong)low;
            ov = hi != (low >> 63);
        }
        else
        {
            long p = x * y;
            res = (ulong)p & SizeMask(sz);
            ov = (long)SignExtend(res, sz) != p;
        }

        WriteReg(d.I.Op0Register, res);
        SetArithFlags(ArithFlags, (ov ? FlagCf | FlagOf : 0) | ResultFlags(res, sz));
    }

    private void ExecDiv(ref Decoded d)
    {
        int sz = d.OpBytes;
        ulong divisor = ReadOp(ref d, 0, sz);
        if (divisor == 0)
        {
            Raise(0);
        }

        bool signed = d.I.Mnemonic == Mnemonic.Idiv;
        int bits = 8 * sz;
        var dividend = sz switch
        {
            1 => (ushort)_gpr[0],
            2 => ((ulong)(ushort)_gpr[2] << 16) | (ushort)_gpr[0],
            4 => ((ulong)(uint)_gpr[2] << 32) | (uint)_gpr[0],
            _ => ((UInt128)_gpr[2] << 64) | _gpr[0],
        };
        ulong q, rem;
        if (!signed)
        {
            var qq = dividend / divisor;
            if (qq > SizeMask(sz))
            {
                Raise(0);
            }

            q = (ulong)qq;
            rem = (ulong)(dividend % divisor);
        }
        else
        {
            // Sign-extend the 2*bits dividend to 128 bits.
            var sd = sz == 8 ? (Int128)dividend : (Int128)(long)((ulong)dividend << (64 - (2 * bits))) >> (64 - (2 * bits));
            Int128 sv = (long)SignExtend(divisor, sz);
            var qq = sd / sv;
            var min = -((Int128)1 << (bits - 1));
            var max = ((Int128)1 << (bits - 1)) - 1;
            if (qq < min || qq > max)
            {
                Raise(0);
            }

            q = (ulong)(long)qq & SizeMask(sz);
            rem = (ulong)(long)(sd % sv) & SizeMask(sz);
        }

        if (sz == 1)
        {
            WriteGpr(0, 2, (rem << 8) | q);
        }
        else
        {
            WriteGpr(0, sz, q);
            WriteGpr(2, sz, rem);
        }
    }

    private void ExecXchg(ref Decoded d)
    {
        int sz = d.OpBytes;
        if (d.I.Op0Kind == OpKind.Memory || d.I.Op1Kind == OpKind.Memory)
        {
            var r = d.I.Op0Kind == OpKind.Register ? d.I.Op0Register : d.I.Op1Register;
            ulong la = Ea(ref d);
            ulong m = ReadMemRmw(la, sz);
            WriteMem(la, sz, ReadReg(r));
            WriteReg(r, m);
            return;
        }

        Register a = d.I.Op0Register, b = d.I.Op1Register;
        ulong va = ReadReg(a), vb = ReadReg(b);
        WriteReg(a, vb);
        WriteReg(b, va);
    }

    private void ExecBitTest(ref Decoded d)
    {
        int sz = d.OpBytes;
        int bits = 8 * sz;
        var m = d.I.Mnemonic;
        bool immediate = d.I.Op1Kind != OpKind.Register;
        ulong offset = ReadOp(ref d, 1, immediate ? 1 : sz);
        ulong la = 0;
        ulong value;
        int bit;
        bool isMem = d.I.Op0Kind == OpKind.Memory;
        if (isMem)
        {
            la = Ea(ref d);
            if (!immediate)
            {
                // A register bit offset addresses memory beyond the operand (signed, SDM BT).
                long off = (long)SignExtend(offset, sz);
                long displacement = (off >> (sz switch { 2 => 4, 4 => 5, _ => 6 })) * sz;
                la = MaskLinear(la + (ulong)displacement);
                bit = (int)(off & (bits - 1));
            }
            else
            {
                bit = (int)(offset & (ulong)(bits - 1));
            }

            value = m == Mnemonic.Bt ? ReadMem(la, sz) : ReadMemRmw(la, sz);
        }
        else
        {
            bit = (int)(offset & (ulong)(bits - 1));
            value = ReadReg(d.I.Op0Register);
        }

        ulong cf = (value >> bit) & 1;
        if (m != Mnemonic.Bt)
        {
            ulong r = m switch
            {
                Mnemonic.Bts => value | (1UL << bit),
                Mnemonic.Btr => value & ~(1UL << bit),
                _ => value ^ (1UL << bit),
            };
            if (isMem)
            {
                WriteMem(la, sz, r);
            }
            else
            {
                WriteReg(d.I.Op0Register, r);
            }
        }

        SetArithFlags(FlagCf, cf != 0 ? FlagCf : 0);
    }

    private void ExecLoop(ref Decoded d)
    {
        int cb = d.I.Code switch
        {
            Code.Loop_rel8_16_CX or Code.Loope_rel8_16_CX or Code.Loopne_rel8_16_CX or Code.Loop_rel8_32_CX or Code.Loope_rel8_32_CX
                or Code.Loopne_rel8_32_CX or Code.Jcxz_rel8_16 or Code.Jcxz_rel8_32 => 2,
            Code.Loop_rel8_32_ECX or Code.Loope_rel8_32_ECX or Code.Loopne_rel8_32_ECX or Code.Loop_rel8_16_ECX or Code.Loope_rel8_16_ECX
                or Code.Loopne_rel8_16_ECX or Code.Loop_rel8_64_ECX or Code.Loope_rel8_64_ECX or Code.Loopne_rel8_64_ECX
                or Code.Jecxz_rel8_16 or Code.Jecxz_rel8_32 or Code.Jecxz_rel8_64 => 4,
            _ => 8,
        };
        ulong count = _gpr[1] & SizeMask(cb);
        bool take;
        switch (d.I.Mnemonic)
        {
            case Mnemonic.Jcxz:
            case Mnemonic.Jecxz:
            case Mnemonic.Jrcxz:
                take = count == 0;
                break;
            default:
                count = (count - 1) & SizeMask(cb);
                WriteGpr(1, cb, count);
                take = count != 0 && d.I.Mnemonic switch
                {
                    Mnemonic.Loope => GetZf(),
                    Mnemonic.Loopne => !GetZf(),
                    _ => true,
                };
                break;
        }

        if (take)
        {
            BranchRelative(ref d);
        }
    }

    private void ExecEnter(ref Decoded d)
    {
        int level = d.I.Immediate8_2nd & 31;
        if (level != 0)
        {
            throw new UnsupportedException("ENTER with a nesting level");
        }

        int sz = d.I.Code switch { Code.Enterw_imm16_imm8 => 2, Code.Enterd_imm16_imm8 => 4, _ => 8 };
        ulong frame = StackPointer - (ulong)sz;
        WriteMem(Linear(2, MaskStack(frame)), sz, _gpr[5]);
        ulong newSp = frame - d.I.Immediate16;
        SetStackPointer(newSp);
        WriteGpr(5, StackBytes == 2 ? 2 : sz, frame);
    }
}
