// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// Differential tests against the host CPU: each integer form is assembled with Iced, run natively inside
/// a small harness (inputs in RAX, RBX, RCX, RDX and RFLAGS; outputs captured with PUSHFQ) and run on the
/// interpreter with the same inputs; registers and the architecturally defined flags must agree. Inputs
/// come from a seeded generator (edge values mixed with random ones), so every run checks the same cases.
/// </summary>
public class NativeDifferentialTests
{
    private const ulong Cf = 1, Pf = 4, Af = 0x10, Zf = 0x40, Sf = 0x80, Of = 0x800;
    private const ulong All = Cf | Pf | Af | Zf | Sf | Of;
    private const int Iterations = 400;

    private static readonly ulong[] Edges =
    [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFE,
        0x8000_0000_0000_0001, 0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210,
    ];

    /// <summary>One form: the instruction(s) under test, which flags the SDM defines for given inputs, and input constraints.</summary>
    public sealed record Form(string Name, Action<Assembler> Body, Func<ulong[], ulong> DefinedFlags, Action<Random, ulong[]>? Shape = null)
    {
        public override string ToString() => Name;
    }

    private static Func<ulong[], ulong> Mask(ulong m) => _ => m;

    public static TheoryData<string> FormNames()
    {
        var data = new TheoryData<string>();
        foreach (var f in AllForms())
        {
            data.Add(f.Name);
        }

        return data;
    }

    private static readonly Dictionary<string, Form> FormsByName = AllForms().ToDictionary(f => f.Name);

    [Theory]
    [MemberData(nameof(FormNames))]
    public void Interpreter_matches_the_host_cpu(string name)
    {
        string? why = NativeCode.WhyUnavailable;
        Assert.SkipWhen(why is not null, $"native differential test skipped: {why}");
        var form = FormsByName[name];
        Compare(form, seed: StableHash(name));
    }

    private static int StableHash(string s)
    {
        int h = 17;
        foreach (char c in s)
        {
            h = (h * 31) + c;
        }

        return h;
    }

    private static unsafe void Compare(Form form, int seed)
    {
        using var native = new NativeCode();
        native.Load(AssembleHarness(form.Body, native.Address));
        var m = new TestMachine(4 << 20);
        ulong end = m.Load(a =>
        {
            form.Body(a);
            a.pause(); // PAUSE ends the run without halting, so the next iteration starts afresh
        });
        var rng = new Random(seed);
        ulong* state = stackalloc ulong[16];
        ulong[] inputs = new ulong[5];
        for (int it = 0; it < Iterations; it++)
        {
            for (int i = 0; i < 4; i++)
            {
                inputs[i] = rng.Next(3) == 0 ? Edges[rng.Next(Edges.Length)] : (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 33);
            }

            inputs[4] = (ulong)rng.Next(64) & 0x3F;
            ulong flagsIn = 0x202 | (inputs[4] & 1) | ((inputs[4] >> 1 & 1) << 2) | ((inputs[4] >> 2 & 1) << 4)
                | ((inputs[4] >> 3 & 1) << 6) | ((inputs[4] >> 4 & 1) << 7) | ((inputs[4] >> 5 & 1) << 11);
            form.Shape?.Invoke(rng, inputs);
            for (int i = 0; i < 4; i++)
            {
                state[i] = inputs[i];
            }

            state[4] = flagsIn;
            native.Call(state);

            m.Cpu.SetRegister(0, inputs[0]);
            m.Cpu.SetRegister(3, inputs[1]);
            m.Cpu.SetRegister(1, inputs[2]);
            m.Cpu.SetRegister(2, inputs[3]);

            m.Cpu.SetRegister(4, TestMachine.StackTop);
            m.Cpu.Rflags = flagsIn & ~0x200UL;
            m.Cpu.Rip = TestMachine.CodeBase;
            var r = m.Cpu.Run(100);
            Assert.True(r.Reason == StopReason.Pause, $"{form.Name}: stopped with {r.Reason} {r.Unsupported}");
            ulong defined = form.DefinedFlags(inputs);
            string ctx = $"{form.Name} rax={inputs[0]:X} rbx={inputs[1]:X} rcx={inputs[2]:X} rdx={inputs[3]:X} flags={flagsIn:X}";
            Assert.True(state[6] == m.Reg(0), $"{ctx}: RAX native {state[6]:X} interp {m.Reg(0):X}");
            Assert.True(state[7] == m.Reg(3), $"{ctx}: RBX native {state[7]:X} interp {m.Reg(3):X}");
            Assert.True(state[8] == m.Reg(1), $"{ctx}: RCX native {state[8]:X} interp {m.Reg(1):X}");
            Assert.True(state[9] == m.Reg(2), $"{ctx}: RDX native {state[9]:X} interp {m.Reg(2):X}");
            ulong nf = state[5] & defined, jf = m.Cpu.Rflags & defined;
            Assert.True(nf == jf, $"{ctx}: flags native {state[5]:X} interp {m.Cpu.Rflags:X} differ in {nf ^ jf:X} (defined {defined:X})");
        }
    }

    private static byte[] AssembleHarness(Action<Assembler> body, ulong address)
    {
        var a = new Assembler(64);
        a.push(rbx);
        a.push(r12);
        a.mov(r12, rdi);
        a.mov(rax, __qword_ptr[r12]);
        a.mov(rbx, __qword_ptr[r12 + 8]);
        a.mov(rcx, __qword_ptr[r12 + 16]);
        a.mov(rdx, __qword_ptr[r12 + 24]);
        a.push(__qword_ptr[r12 + 32]);
        a.popfq();
        body(a);
        a.pushfq();
        a.pop(__qword_ptr[r12 + 40]);
        a.mov(__qword_ptr[r12 + 48], rax);
        a.mov(__qword_ptr[r12 + 56], rbx);
        a.mov(__qword_ptr[r12 + 64], rcx);
        a.mov(__qword_ptr[r12 + 72], rdx);
        a.push(0x202);
        a.popfq();
        a.pop(r12);
        a.pop(rbx);
        a.ret();
        var s = new MemoryStream();
        a.Assemble(new StreamCodeWriter(s), address);
        return s.ToArray();
    }

    // ---- the forms ----


    private static IEnumerable<Form> AllForms()
    {
        var forms = new List<Form>();
        string[] sizes = ["8", "8h", "16", "32", "64"];

        // Binary ALU, register-register, in every width (8h = AH, BH without REX).
        foreach (string op in new[] { "add", "adc", "sub", "sbb", "and", "or", "xor", "cmp", "test" })
        {
            ulong defined = op is "and" or "or" or "xor" or "test" ? All & ~Af : All;
            foreach (string sz in sizes)
            {
                forms.Add(new Form($"{op}{sz} r,r", a => Binary(a, op, sz), Mask(defined)));
            }

            forms.Add(new Form($"{op}64 r,imm8", a => BinaryImm(a, op, -3), Mask(defined)));
            forms.Add(new Form($"{op}32 r,imm32", a => BinaryImm32(a, op, 0x7654_3210), Mask(defined)));
            forms.Add(new Form($"{op}64 r,imm32neg", a => BinaryImm(a, op, -0x1234_5678), Mask(defined)));
            forms.Add(new Form($"{op}16 r,imm8", a => BinaryImm16(a, op, -2), Mask(defined)));
        }

        foreach (string sz in sizes)
        {
            forms.Add(new Form($"inc{sz}", a => Unary(a, "inc", sz), Mask(All)));
            forms.Add(new Form($"dec{sz}", a => Unary(a, "dec", sz), Mask(All)));
            forms.Add(new Form($"neg{sz}", a => Unary(a, "neg", sz), Mask(All)));
            forms.Add(new Form($"not{sz}", a => Unary(a, "not", sz), Mask(All)));
        }

        // Shifts and rotates by CL (count from RCX, biased to small counts) and by immediates.
        foreach (string op in new[] { "shl", "shr", "sar", "rol", "ror", "rcl", "rcr" })
        {
            foreach (string sz in new[] { "8", "16", "32", "64" })
            {
                int bits = sz == "8" ? 8 : int.Parse(sz, System.Globalization.CultureInfo.InvariantCulture);
                forms.Add(new Form($"{op}{sz} r,cl", a => Shift(a, op, sz, -1), inputs => ShiftDefined(op, bits, (int)inputs[2] & 0xFF), SmallCount));
                foreach (int imm in new[] { 1, 3, bits - 1 })
                {
                    forms.Add(new Form($"{op}{sz} r,{imm}", a => Shift(a, op, sz, imm), _ => ShiftDefined(op, bits, imm)));
                }
            }
        }

        foreach (string op in new[] { "shld", "shrd" })
        {
            foreach (string sz in new[] { "16", "32", "64" })
            {
                int bits = int.Parse(sz, System.Globalization.CultureInfo.InvariantCulture);
                forms.Add(new Form($"{op}{sz} r,r,cl", a => DoubleShift(a, op, sz), inputs => DoubleShiftDefined(bits, (int)inputs[2] & (bits == 64 ? 63 : 31)), (rng, v) =>
                {
                    v[2] = (ulong)rng.Next(bits + 1);
                }));
            }
        }

        // Multiply and divide.
        foreach (string sz in new[] { "8", "16", "32", "64" })
        {
            forms.Add(new Form($"mul{sz}", a => MulDiv(a, "mul", sz), Mask(Cf | Of)));
            forms.Add(new Form($"imul{sz} 1op", a => MulDiv(a, "imul", sz), Mask(Cf | Of)));
            forms.Add(new Form($"div{sz}", a => MulDiv(a, "div", sz), Mask(0), (rng, v) => ShapeDiv(rng, v, sz, signed: false)));
            forms.Add(new Form($"idiv{sz}", a => MulDiv(a, "idiv", sz), Mask(0), (rng, v) => ShapeDiv(rng, v, sz, signed: true)));
        }

        forms.Add(new Form("imul16 r,r", a => a.imul(ax, bx), Mask(Cf | Of)));
        forms.Add(new Form("imul32 r,r", a => a.imul(eax, ebx), Mask(Cf | Of)));
        forms.Add(new Form("imul64 r,r", a => a.imul(rax, rbx), Mask(Cf | Of)));
        forms.Add(new Form("imul32 r,r,imm", a => a.imul(eax, ebx, -77), Mask(Cf | Of)));
        forms.Add(new Form("imul64 r,r,imm32", a => a.imul(rax, rbx, 0x12345), Mask(Cf | Of)));
        forms.Add(new Form("imul16 r,r,imm", a => a.imul(ax, bx, (short)300), Mask(Cf | Of)));

        // Bit operations.
        foreach (string op in new[] { "bt", "bts", "btr", "btc" })
        {
            forms.Add(new Form($"{op}16 r,r", a => BitOp(a, op, "16", false), Mask(Cf)));
            forms.Add(new Form($"{op}32 r,r", a => BitOp(a, op, "32", false), Mask(Cf)));
            forms.Add(new Form($"{op}64 r,r", a => BitOp(a, op, "64", false), Mask(Cf)));
            forms.Add(new Form($"{op}32 r,imm", a => BitOp(a, op, "32", true), Mask(Cf)));
            forms.Add(new Form($"{op}64 r,imm", a => BitOp(a, op, "64", true), Mask(Cf)));
        }

        Action<Random, ulong[]> nonZeroRbx = (rng, v) => v[1] = v[1] == 0 ? 1UL << rng.Next(64) : v[1];
        forms.Add(new Form("bsf16", a => a.bsf(ax, bx), Mask(Zf), (rng, v) => v[1] = (v[1] & 0xFFFF) == 0 ? 1UL << rng.Next(16) : v[1]));
        forms.Add(new Form("bsf32", a => a.bsf(eax, ebx), Mask(Zf), (rng, v) => v[1] = (uint)v[1] == 0 ? 1UL << rng.Next(32) : v[1]));
        forms.Add(new Form("bsf64", a => a.bsf(rax, rbx), Mask(Zf), nonZeroRbx));
        forms.Add(new Form("bsr16", a => a.bsr(ax, bx), Mask(Zf), (rng, v) => v[1] = (v[1] & 0xFFFF) == 0 ? 1UL << rng.Next(16) : v[1]));
        forms.Add(new Form("bsr32", a => a.bsr(eax, ebx), Mask(Zf), (rng, v) => v[1] = (uint)v[1] == 0 ? 1UL << rng.Next(32) : v[1]));
        forms.Add(new Form("bsr64", a => a.bsr(rax, rbx), Mask(Zf), nonZeroRbx));

        // Exchange and compare-exchange.
        forms.Add(new Form("xadd8", a => a.xadd(al, bl), Mask(All)));
        forms.Add(new Form("xadd16", a => a.xadd(ax, bx), Mask(All)));
        forms.Add(new Form("xadd32", a => a.xadd(eax, ebx), Mask(All)));
        forms.Add(new Form("xadd64", a => a.xadd(rax, rbx), Mask(All)));
        forms.Add(new Form("xchg32", a => a.xchg(ecx, ebx), Mask(All)));
        forms.Add(new Form("xchg8h", a => a.xchg(ah, bl), Mask(All)));
        forms.Add(new Form("xchg64", a => a.xchg(rdx, rbx), Mask(All)));
        Action<Random, ulong[]> sometimesEqual = (rng, v) =>
        {
            if (rng.Next(2) == 0)
            {
                v[2] = v[0];
            }
        };
        forms.Add(new Form("cmpxchg32", a => a.cmpxchg(ecx, ebx), Mask(All), sometimesEqual));
        forms.Add(new Form("cmpxchg64", a => a.cmpxchg(rcx, rbx), Mask(All), sometimesEqual));
        forms.Add(new Form("cmpxchg8", a => a.cmpxchg(cl, bl), Mask(All), sometimesEqual));

        // Moves with extension, conversions, byte swaps, LEA.
        forms.Add(new Form("movzx32_8", a => a.movzx(eax, bl), Mask(All)));
        forms.Add(new Form("movzx32_8h", a => a.movzx(eax, bh), Mask(All)));
        forms.Add(new Form("movzx64_16", a => a.movzx(rax, bx), Mask(All)));
        forms.Add(new Form("movzx16_8", a => a.movzx(ax, bl), Mask(All)));
        forms.Add(new Form("movsx32_8", a => a.movsx(eax, bl), Mask(All)));
        forms.Add(new Form("movsx64_16", a => a.movsx(rax, bx), Mask(All)));
        forms.Add(new Form("movsx16_8", a => a.movsx(ax, bl), Mask(All)));
        forms.Add(new Form("movsxd", a => a.movsxd(rax, ebx), Mask(All)));
        forms.Add(new Form("cbw", a => a.cbw(), Mask(All)));
        forms.Add(new Form("cwde", a => a.cwde(), Mask(All)));
        forms.Add(new Form("cdqe", a => a.cdqe(), Mask(All)));
        forms.Add(new Form("cwd", a => a.cwd(), Mask(All)));
        forms.Add(new Form("cdq", a => a.cdq(), Mask(All)));
        forms.Add(new Form("cqo", a => a.cqo(), Mask(All)));
        forms.Add(new Form("bswap32", a => a.bswap(ebx), Mask(All)));
        forms.Add(new Form("bswap64", a => a.bswap(rbx), Mask(All)));
        forms.Add(new Form("lea64", a => a.lea(rax, __[rbx + rcx * 4 - 0x1234]), Mask(All)));
        forms.Add(new Form("lea32", a => a.lea(eax, __[rbx + rcx * 8 + 0x7FFF_FFF0]), Mask(All)));
        forms.Add(new Form("lea16", a => a.lea(ax, __[rbx + rdx * 2 + 3]), Mask(All)));
        forms.Add(new Form("lahf", a => a.lahf(), Mask(All)));
        forms.Add(new Form("sahf", a => a.sahf(), Mask(All)));
        forms.Add(new Form("cmc", a => a.cmc(), Mask(All)));
        forms.Add(new Form("stc", a => a.stc(), Mask(All)));
        forms.Add(new Form("clc", a => a.clc(), Mask(All)));

        // An instruction that sets every arithmetic flag, then one that changes only some: the first
        // one's flags, kept lazily as operands and result, must become real before the second
        // changes its part of them (and the rest must read as the first left them).
        forms.Add(new Form("add+stc", a => { a.add(rax, rbx); a.stc(); }, Mask(All)));
        forms.Add(new Form("sub+clc", a => { a.sub(rax, rbx); a.clc(); }, Mask(All)));
        forms.Add(new Form("sub32+cmc", a => { a.sub(eax, ebx); a.cmc(); }, Mask(All)));
        forms.Add(new Form("add+sahf", a => { a.add(rax, rbx); a.sahf(); }, Mask(All)));
        forms.Add(new Form("add+inc", a => { a.add(rax, rbx); a.inc(rcx); }, Mask(All)));
        forms.Add(new Form("sub8+dec16", a => { a.sub(al, bl); a.dec(dx); }, Mask(All)));
        forms.Add(new Form("add+stc+adc", a => { a.add(rax, rbx); a.stc(); a.adc(rcx, rdx); }, Mask(All)));

        // Every condition: SETcc and CMOVcc after a compare, and on the random input flags directly.
        string[] ccs = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
        foreach (string cc in ccs)
        {
            forms.Add(new Form($"set{cc}", a => SetCc(a, cc, compare: false), Mask(All)));
            forms.Add(new Form($"cmp+set{cc}", a => SetCc(a, cc, compare: true), Mask(All)));
            forms.Add(new Form($"cmp8+set{cc}", a => { a.cmp(bl, cl); SetCc(a, cc, compare: false); }, Mask(All)));
            forms.Add(new Form($"cmp16+set{cc}", a => { a.cmp(bx, cx); SetCc(a, cc, compare: false); }, Mask(All)));
            forms.Add(new Form($"cmov{cc}32", a => Cmov(a, cc, wide: false), Mask(All)));
            forms.Add(new Form($"cmov{cc}64", a => Cmov(a, cc, wide: true), Mask(All)));
        }

        // LOOP, LOOPE, LOOPNE and JRCXZ with a 64-bit count, and with 67h a 32-bit one (ECX): rel8 = 1 skips
        // a CMC, so CF tells whether the branch was taken; RCX shows how the count was written back.
        ulong[] loopCounts = [0, 1, 2, 0xFFFF_FFFF, 0x1_0000_0000, 0x1_0000_0001, 0x1_0000_0002, 0xFFFF_FFFF_0000_0000];
        Action<Random, ulong[]> loopCount = (rng, v) => v[2] = rng.Next(4) == 0 ? v[2] : loopCounts[rng.Next(loopCounts.Length)];
        foreach (var (name, opcode) in new[] { ("loop", (byte)0xE2), ("loope", (byte)0xE1), ("loopne", (byte)0xE0), ("jrcxz", (byte)0xE3) })
        {
            forms.Add(new Form($"{name} rcx", a => a.db(opcode, 0x01, 0xF5), Mask(All), loopCount));
            forms.Add(new Form($"{name} ecx (67h)", a => a.db(0x67, opcode, 0x01, 0xF5), Mask(All), loopCount));
        }

        return forms;
    }

    private static void SmallCount(Random rng, ulong[] v) => v[2] = rng.Next(4) == 0 ? (ulong)rng.Next(256) : (ulong)rng.Next(5);

    private static ulong ShiftDefined(string op, int bits, int cl)
    {
        int masked = cl & (bits == 64 ? 63 : 31);
        if (masked == 0)
        {
            return All;
        }

        bool rotate = op is "rol" or "ror" or "rcl" or "rcr";
        ulong d = rotate ? All : All & ~Af;
        if (masked != 1)
        {
            d &= ~Of;
        }

        if (!rotate && masked > bits)
        {
            d &= ~Cf; // SHL/SHR/SAR of an 8/16-bit operand by more than its width: CF undefined
        }

        return d;
    }

    private static ulong DoubleShiftDefined(int bits, int count)
    {
        if (count == 0)
        {
            return All;
        }

        ulong d = All & ~Af;
        if (count != 1)
        {
            d &= ~Of;
        }

        return d;
    }

    private static void ShapeDiv(Random rng, ulong[] v, string sz, bool signed)
    {
        int bits = sz == "8" ? 8 : int.Parse(sz, System.Globalization.CultureInfo.InvariantCulture);
        ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        ulong divisor = v[1] & mask;
        if (divisor == 0)
        {
            divisor = 3;
        }

        if (signed && divisor == mask)
        {
            divisor = 5; // avoid MIN / -1
        }

        v[1] = (v[1] & ~mask) | divisor;
        if (!signed)
        {
            ulong high = (ulong)rng.NextInt64() % divisor;
            if (bits == 8)
            {
                v[0] = (v[0] & ~0xFF00UL) | (high << 8);
            }
            else
            {
                v[3] = (v[3] & ~mask) | high;
            }
        }
        else
        {
            // Dividend = sign extension of the low half: the quotient always fits unless MIN / -1.
            if (bits == 8)
            {
                ulong low = v[0] & 0xFF;
                if (low == 0x80)
                {
                    low = 0x81;
                }

                v[0] = (v[0] & ~0xFFFFUL) | ((ulong)(long)(sbyte)low & 0xFFFF);
            }
            else
            {
                ulong low = v[0] & mask;
                if (low == (1UL << (bits - 1)))
                {
                    low++;
                }

                v[0] = (v[0] & ~mask) | low;
                bool neg = (low >> (bits - 1)) != 0;
                v[3] = (v[3] & ~mask) | (neg ? mask : 0);
            }
        }
    }

    private static void Binary(Assembler a, string op, string sz)
    {
        switch (sz)
        {
            case "8": Emit(a, op, al, bl); break;
            case "8h": Emit(a, op, ah, bh); break;
            case "16": Emit(a, op, ax, bx); break;
            case "32": Emit(a, op, eax, ebx); break;
            default: Emit(a, op, rax, rbx); break;
        }
    }

    private static void Emit(Assembler a, string op, AssemblerRegister8 d, AssemblerRegister8 s)
    {
        switch (op)
        {
            case "add": a.add(d, s); break;
            case "adc": a.adc(d, s); break;
            case "sub": a.sub(d, s); break;
            case "sbb": a.sbb(d, s); break;
            case "and": a.and(d, s); break;
            case "or": a.or(d, s); break;
            case "xor": a.xor(d, s); break;
            case "cmp": a.cmp(d, s); break;
            default: a.test(d, s); break;
        }
    }

    private static void Emit(Assembler a, string op, AssemblerRegister16 d, AssemblerRegister16 s)
    {
        switch (op)
        {
            case "add": a.add(d, s); break;
            case "adc": a.adc(d, s); break;
            case "sub": a.sub(d, s); break;
            case "sbb": a.sbb(d, s); break;
            case "and": a.and(d, s); break;
            case "or": a.or(d, s); break;
            case "xor": a.xor(d, s); break;
            case "cmp": a.cmp(d, s); break;
            default: a.test(d, s); break;
        }
    }

    private static void Emit(Assembler a, string op, AssemblerRegister32 d, AssemblerRegister32 s)
    {
        switch (op)
        {
            case "add": a.add(d, s); break;
            case "adc": a.adc(d, s); break;
            case "sub": a.sub(d, s); break;
            case "sbb": a.sbb(d, s); break;
            case "and": a.and(d, s); break;
            case "or": a.or(d, s); break;
            case "xor": a.xor(d, s); break;
            case "cmp": a.cmp(d, s); break;
            default: a.test(d, s); break;
        }
    }

    private static void Emit(Assembler a, string op, AssemblerRegister64 d, AssemblerRegister64 s)
    {
        switch (op)
        {
            case "add": a.add(d, s); break;
            case "adc": a.adc(d, s); break;
            case "sub": a.sub(d, s); break;
            case "sbb": a.sbb(d, s); break;
            case "and": a.and(d, s); break;
            case "or": a.or(d, s); break;
            case "xor": a.xor(d, s); break;
            case "cmp": a.cmp(d, s); break;
            default: a.test(d, s); break;
        }
    }

    private static void BinaryImm(Assembler a, string op, int imm)
    {
        switch (op)
        {
            case "add": a.add(rbx, imm); break;
            case "adc": a.adc(rbx, imm); break;
            case "sub": a.sub(rbx, imm); break;
            case "sbb": a.sbb(rbx, imm); break;
            case "and": a.and(rbx, imm); break;
            case "or": a.or(rbx, imm); break;
            case "xor": a.xor(rbx, imm); break;
            case "cmp": a.cmp(rbx, imm); break;
            default: a.test(rbx, imm); break;
        }
    }

    private static void BinaryImm32(Assembler a, string op, int imm)
    {
        switch (op)
        {
            case "add": a.add(ecx, imm); break;
            case "adc": a.adc(ecx, imm); break;
            case "sub": a.sub(ecx, imm); break;
            case "sbb": a.sbb(ecx, imm); break;
            case "and": a.and(ecx, imm); break;
            case "or": a.or(ecx, imm); break;
            case "xor": a.xor(ecx, imm); break;
            case "cmp": a.cmp(ecx, imm); break;
            default: a.test(ecx, imm); break;
        }
    }

    private static void BinaryImm16(Assembler a, string op, int imm)
    {
        switch (op)
        {
            case "add": a.add(dx, (short)imm); break;
            case "adc": a.adc(dx, (short)imm); break;
            case "sub": a.sub(dx, (short)imm); break;
            case "sbb": a.sbb(dx, (short)imm); break;
            case "and": a.and(dx, (short)imm); break;
            case "or": a.or(dx, (short)imm); break;
            case "xor": a.xor(dx, (short)imm); break;
            case "cmp": a.cmp(dx, (short)imm); break;
            default: a.test(dx, (short)imm); break;
        }
    }

    private static void Unary(Assembler a, string op, string sz)
    {
        switch (sz)
        {
            case "8":
                if (op == "inc") { a.inc(bl); } else if (op == "dec") { a.dec(bl); } else if (op == "neg") { a.neg(bl); } else { a.not(bl); }
                break;
            case "8h":
                if (op == "inc") { a.inc(bh); } else if (op == "dec") { a.dec(bh); } else if (op == "neg") { a.neg(bh); } else { a.not(bh); }
                break;
            case "16":
                if (op == "inc") { a.inc(bx); } else if (op == "dec") { a.dec(bx); } else if (op == "neg") { a.neg(bx); } else { a.not(bx); }
                break;
            case "32":
                if (op == "inc") { a.inc(ebx); } else if (op == "dec") { a.dec(ebx); } else if (op == "neg") { a.neg(ebx); } else { a.not(ebx); }
                break;
            default:
                if (op == "inc") { a.inc(rbx); } else if (op == "dec") { a.dec(rbx); } else if (op == "neg") { a.neg(rbx); } else { a.not(rbx); }
                break;
        }
    }

    private static void Shift(Assembler a, string op, string sz, int imm)
    {
        switch (sz)
        {
            case "8": ShiftOp(a, op, bl, imm); break;
            case "16": ShiftOp(a, op, bx, imm); break;
            case "32": ShiftOp(a, op, ebx, imm); break;
            default: ShiftOp(a, op, rbx, imm); break;
        }
    }

    private static void ShiftOp(Assembler a, string op, AssemblerRegister8 r, int imm)
    {
        if (imm < 0)
        {
            switch (op)
            {
                case "shl": a.shl(r, cl); break;
                case "shr": a.shr(r, cl); break;
                case "sar": a.sar(r, cl); break;
                case "rol": a.rol(r, cl); break;
                case "ror": a.ror(r, cl); break;
                case "rcl": a.rcl(r, cl); break;
                default: a.rcr(r, cl); break;
            }

            return;
        }

        switch (op)
        {
            case "shl": a.shl(r, (byte)imm); break;
            case "shr": a.shr(r, (byte)imm); break;
            case "sar": a.sar(r, (byte)imm); break;
            case "rol": a.rol(r, (byte)imm); break;
            case "ror": a.ror(r, (byte)imm); break;
            case "rcl": a.rcl(r, (byte)imm); break;
            default: a.rcr(r, (byte)imm); break;
        }
    }

    private static void ShiftOp(Assembler a, string op, AssemblerRegister16 r, int imm)
    {
        if (imm < 0)
        {
            switch (op)
            {
                case "shl": a.shl(r, cl); break;
                case "shr": a.shr(r, cl); break;
                case "sar": a.sar(r, cl); break;
                case "rol": a.rol(r, cl); break;
                case "ror": a.ror(r, cl); break;
                case "rcl": a.rcl(r, cl); break;
                default: a.rcr(r, cl); break;
            }

            return;
        }

        switch (op)
        {
            case "shl": a.shl(r, (byte)imm); break;
            case "shr": a.shr(r, (byte)imm); break;
            case "sar": a.sar(r, (byte)imm); break;
            case "rol": a.rol(r, (byte)imm); break;
            case "ror": a.ror(r, (byte)imm); break;
            case "rcl": a.rcl(r, (byte)imm); break;
            default: a.rcr(r, (byte)imm); break;
        }
    }

    private static void ShiftOp(Assembler a, string op, AssemblerRegister32 r, int imm)
    {
        if (imm < 0)
        {
            switch (op)
            {
                case "shl": a.shl(r, cl); break;
                case "shr": a.shr(r, cl); break;
                case "sar": a.sar(r, cl); break;
                case "rol": a.rol(r, cl); break;
                case "ror": a.ror(r, cl); break;
                case "rcl": a.rcl(r, cl); break;
                default: a.rcr(r, cl); break;
            }

            return;
        }

        switch (op)
        {
            case "shl": a.shl(r, (byte)imm); break;
            case "shr": a.shr(r, (byte)imm); break;
            case "sar": a.sar(r, (byte)imm); break;
            case "rol": a.rol(r, (byte)imm); break;
            case "ror": a.ror(r, (byte)imm); break;
            case "rcl": a.rcl(r, (byte)imm); break;
            default: a.rcr(r, (byte)imm); break;
        }
    }

    private static void ShiftOp(Assembler a, string op, AssemblerRegister64 r, int imm)
    {
        if (imm < 0)
        {
            switch (op)
            {
                case "shl": a.shl(r, cl); break;
                case "shr": a.shr(r, cl); break;
                case "sar": a.sar(r, cl); break;
                case "rol": a.rol(r, cl); break;
                case "ror": a.ror(r, cl); break;
                case "rcl": a.rcl(r, cl); break;
                default: a.rcr(r, cl); break;
            }

            return;
        }

        switch (op)
        {
            case "shl": a.shl(r, (byte)imm); break;
            case "shr": a.shr(r, (byte)imm); break;
            case "sar": a.sar(r, (byte)imm); break;
            case "rol": a.rol(r, (byte)imm); break;
            case "ror": a.ror(r, (byte)imm); break;
            case "rcl": a.rcl(r, (byte)imm); break;
            default: a.rcr(r, (byte)imm); break;
        }
    }

    private static void DoubleShift(Assembler a, string op, string sz)
    {
        switch (sz)
        {
            case "16": if (op == "shld") { a.shld(bx, dx, cl); } else { a.shrd(bx, dx, cl); } break;
            case "32": if (op == "shld") { a.shld(ebx, edx, cl); } else { a.shrd(ebx, edx, cl); } break;
            default: if (op == "shld") { a.shld(rbx, rdx, cl); } else { a.shrd(rbx, rdx, cl); } break;
        }
    }

    private static void MulDiv(Assembler a, string op, string sz)
    {
        switch (sz)
        {
            case "8": if (op == "mul") { a.mul(bl); } else if (op == "imul") { a.imul(bl); } else if (op == "div") { a.div(bl); } else { a.idiv(bl); } break;
            case "16": if (op == "mul") { a.mul(bx); } else if (op == "imul") { a.imul(bx); } else if (op == "div") { a.div(bx); } else { a.idiv(bx); } break;
            case "32": if (op == "mul") { a.mul(ebx); } else if (op == "imul") { a.imul(ebx); } else if (op == "div") { a.div(ebx); } else { a.idiv(ebx); } break;
            default: if (op == "mul") { a.mul(rbx); } else if (op == "imul") { a.imul(rbx); } else if (op == "div") { a.div(rbx); } else { a.idiv(rbx); } break;
        }
    }

    private static void BitOp(Assembler a, string op, string sz, bool imm)
    {
        switch (sz)
        {
            case "16":
                if (op == "bt") { a.bt(bx, cx); } else if (op == "bts") { a.bts(bx, cx); } else if (op == "btr") { a.btr(bx, cx); } else { a.btc(bx, cx); }
                break;
            case "32":
                if (imm)
                {
                    if (op == "bt") { a.bt(ebx, (byte)37); } else if (op == "bts") { a.bts(ebx, (byte)37); } else if (op == "btr") { a.btr(ebx, (byte)37); } else { a.btc(ebx, (byte)37); }
                }
                else if (op == "bt") { a.bt(ebx, ecx); } else if (op == "bts") { a.bts(ebx, ecx); } else if (op == "btr") { a.btr(ebx, ecx); } else { a.btc(ebx, ecx); }
                break;
            default:
                if (imm)
                {
                    if (op == "bt") { a.bt(rbx, (byte)61); } else if (op == "bts") { a.bts(rbx, (byte)61); } else if (op == "btr") { a.btr(rbx, (byte)61); } else { a.btc(rbx, (byte)61); }
                }
                else if (op == "bt") { a.bt(rbx, rcx); } else if (op == "bts") { a.bts(rbx, rcx); } else if (op == "btr") { a.btr(rbx, rcx); } else { a.btc(rbx, rcx); }
                break;
        }
    }

    private static void SetCc(Assembler a, string cc, bool compare)
    {
        if (compare)
        {
            a.cmp(rbx, rcx);
        }

        switch (cc)
        {
            case "o": a.seto(al); break;
            case "no": a.setno(al); break;
            case "b": a.setb(al); break;
            case "ae": a.setae(al); break;
            case "e": a.sete(al); break;
            case "ne": a.setne(al); break;
            case "be": a.setbe(al); break;
            case "a": a.seta(al); break;
            case "s": a.sets(al); break;
            case "ns": a.setns(al); break;
            case "p": a.setp(al); break;
            case "np": a.setnp(al); break;
            case "l": a.setl(al); break;
            case "ge": a.setge(al); break;
            case "le": a.setle(al); break;
            default: a.setg(al); break;
        }
    }

    private static void Cmov(Assembler a, string cc, bool wide)
    {
        a.cmp(ebx, ecx);
        if (wide)
        {
            switch (cc)
            {
                case "o": a.cmovo(rax, rdx); break;
                case "no": a.cmovno(rax, rdx); break;
                case "b": a.cmovb(rax, rdx); break;
                case "ae": a.cmovae(rax, rdx); break;
                case "e": a.cmove(rax, rdx); break;
                case "ne": a.cmovne(rax, rdx); break;
                case "be": a.cmovbe(rax, rdx); break;
                case "a": a.cmova(rax, rdx); break;
                case "s": a.cmovs(rax, rdx); break;
                case "ns": a.cmovns(rax, rdx); break;
                case "p": a.cmovp(rax, rdx); break;
                case "np": a.cmovnp(rax, rdx); break;
                case "l": a.cmovl(rax, rdx); break;
                case "ge": a.cmovge(rax, rdx); break;
                case "le": a.cmovle(rax, rdx); break;
                default: a.cmovg(rax, rdx); break;
            }

            return;
        }

        switch (cc)
        {
            case "o": a.cmovo(eax, edx); break;
            case "no": a.cmovno(eax, edx); break;
            case "b": a.cmovb(eax, edx); break;
            case "ae": a.cmovae(eax, edx); break;
            case "e": a.cmove(eax, edx); break;
            case "ne": a.cmovne(eax, edx); break;
            case "be": a.cmovbe(eax, edx); break;
            case "a": a.cmova(eax, edx); break;
            case "s": a.cmovs(eax, edx); break;
            case "ns": a.cmovns(eax, edx); break;
            case "p": a.cmovp(eax, edx); break;
            case "np": a.cmovnp(eax, edx); break;
            case "l": a.cmovl(eax, edx); break;
            case "ge": a.cmovge(eax, edx); break;
            case "le": a.cmovle(eax, edx); break;
            default: a.cmovg(eax, edx); break;
        }
    }
}
