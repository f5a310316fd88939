// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text;
using VirtualApic.Fabric;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>An MSR operand: its resolved number and the text it was written as (<c>X2APIC_EOI</c>, <c>0x80b</c>).</summary>
/// <param name="Number">The MSR number (ECX of RDMSR/WRMSR).</param>
/// <param name="Text">The operand exactly as written.</param>
public readonly record struct MsrRef(uint Number, string Text);

/// <summary>An APIC register operand: its page offset and the text it was written as (<c>TPR</c>, <c>0x80</c>).</summary>
/// <param name="Offset">The byte offset in the 4 KiB APIC page, a multiple of 0x10 in 0x0..0xff0.</param>
/// <param name="Text">The operand exactly as written.</param>
public readonly record struct RegisterRef(int Offset, string Text);

/// <summary>
/// The set of backends an <c>exits</c> probe applies to (<c>accel=avic,x2avic</c>); the probe is
/// skipped under the others.
/// </summary>
/// <param name="Bits">One bit per <see cref="AccelKind"/> value (bit <c>1 &lt;&lt; (int)kind</c>).</param>
public readonly record struct AccelFilter(byte Bits)
{
    /// <summary>The filter that holds exactly <paramref name="kinds"/>.</summary>
    public static AccelFilter Of(params ReadOnlySpan<AccelKind> kinds)
    {
        byte bits = 0;
        foreach (var kind in kinds)
        {
            bits |= (byte)(1 << (int)kind);
        }

        return new AccelFilter(bits);
    }

    /// <summary>True when the probe applies under <paramref name="kind"/>.</summary>
    public bool Contains(AccelKind kind) => (Bits & (1 << (int)kind)) != 0;

    /// <summary>The filter in scenario syntax, for example <c>avic,x2avic</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        for (var kind = AccelKind.None; kind <= AccelKind.X2Avic; kind++)
        {
            if (Contains(kind))
            {
                text.Append(text.Length == 0 ? "" : ",").Append(AccelNames.Format(kind));
            }
        }

        return text.ToString();
    }
}
