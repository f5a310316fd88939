// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Reflection;
using System.Reflection.Emit;

namespace VirtualApic.Tests.Architecture;

/// <summary>
/// No method of the shipped assemblies both <c>stackalloc</c>s and loops. The JIT tiers a method with
/// a loop through on-stack replacement, which cannot handle a <c>localloc</c>; such a method is
/// compiled once, fully optimized but without dynamic PGO (dotnet/runtime#85548), so its interface
/// calls stay stub calls and nothing is inlined by profile. AVIC's hardware IPI was such a method:
/// W3 under x2avic went from 94-101 to 59 ns per IPI when its stack buffer went (docs/performance.md,
/// "Sixteenth session"). The check reads the IL, so it holds for every method, lambdas and
/// compiler-generated ones included.
/// </summary>
public sealed class TieringTests
{
    private static readonly string[] Shipped =
        ["VirtualApic", "VirtualApic.Guest", "VirtualApic.Scenarios", "VirtualApic.Diagnostics", "vapic"];

    [Fact]
    public void No_shipped_method_has_both_a_stackalloc_and_a_loop()
    {
        var offenders = new List<string>();
        foreach (string name in Shipped)
        {
            var assembly = Assembly.Load(name);
            foreach (var type in assembly.GetTypes())
            {
                foreach (var method in MethodsOf(type))
                {
                    byte[]? il = method.GetMethodBody()?.GetILAsByteArray();
                    if (il is not null && IlShape.Of(il) is { Localloc: true, BackwardBranch: true })
                    {
                        offenders.Add($"{name}: {type.FullName}.{method.Name}");
                    }
                }
            }
        }

        Assert.Empty(offenders);
    }

    [Fact]
    public void The_scan_sees_a_stackalloc_and_a_loop_where_they_are()
    {
        Assert.Equal((true, true), Shape(nameof(StackallocInLoopMethod)));
        Assert.Equal((true, false), Shape(nameof(StackallocNoLoop)));
        Assert.Equal((false, true), Shape(nameof(LoopNoStackalloc)));
    }

    private static (bool, bool) Shape(string method)
    {
        byte[] il = typeof(TieringTests).GetMethod(method, BindingFlags.NonPublic | BindingFlags.Static)!
            .GetMethodBody()!.GetILAsByteArray()!;
        var shape = IlShape.Of(il);
        return (shape.Localloc, shape.BackwardBranch);
    }

    private static IEnumerable<MethodBase> MethodsOf(Type type)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance
            | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var m in type.GetMethods(all))
        {
            yield return m;
        }

        foreach (var c in type.GetConstructors(all))
        {
            yield return c;
        }
    }

    // The three shapes the scan must tell apart, compiled by the same compiler as the library.
    private static int StackallocInLoopMethod(int n)
    {
        Span<int> buffer = stackalloc int[16];
        buffer.Clear();
        int sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += buffer[i & 15];
        }

        return sum;
    }

    private static int StackallocNoLoop(int n)
    {
        Span<int> buffer = stackalloc int[16];
        buffer.Clear();
        return buffer[n & 15];
    }

    private static int LoopNoStackalloc(int n)
    {
        int sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += i;
        }

        return sum;
    }

    /// <summary>What one method body's IL holds: a <c>localloc</c>, a branch to itself or backward.</summary>
    private readonly record struct IlShape(bool Localloc, bool BackwardBranch)
    {
        private static readonly OpCode[] OneByte = new OpCode[256];
        private static readonly OpCode[] TwoByte = new OpCode[256];

        static IlShape()
        {
            foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
            {
                var op = (OpCode)field.GetValue(null)!;
                ushort value = (ushort)op.Value;
                (op.Size == 1 ? OneByte : TwoByte)[value & 0xFF] = op;
            }
        }

        public static IlShape Of(byte[] il)
        {
            bool localloc = false, backward = false;
            int at = 0;
            while (at < il.Length)
            {
                int start = at;
                var op = il[at] == 0xFE ? TwoByte[il[at + 1]] : OneByte[il[at]];
                at += op.Size;
                localloc |= op.Value == OpCodes.Localloc.Value;
                switch (op.OperandType)
                {
                    case OperandType.ShortInlineBrTarget:
                        backward |= at + 1 + (sbyte)il[at] <= start;
                        at += 1;
                        break;
                    case OperandType.InlineBrTarget:
                        backward |= at + 4 + BitConverter.ToInt32(il, at) <= start;
                        at += 4;
                        break;
                    case OperandType.InlineSwitch:
                        int count = BitConverter.ToInt32(il, at);
                        int next = at + 4 + (4 * count);
                        for (int k = 0; k < count; k++)
                        {
                            backward |= next + BitConverter.ToInt32(il, at + 4 + (4 * k)) <= start;
                        }

                        at = next;
                        break;
                    default:
                        at += OperandSize(op.OperandType);
                        break;
                }
            }

            return new IlShape(localloc, backward);
        }

        private static int OperandSize(OperandType type) => type switch
        {
            OperandType.InlineNone => 0,
            OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
            OperandType.InlineVar => 2,
            OperandType.InlineI8 or OperandType.InlineR => 8,
            _ => 4, // tokens, int32, float32
        };
    }
}
