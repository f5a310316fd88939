// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// Number and duration literals: decimal (<c>26</c>) or hex (<c>0x1a</c>, <c>0X1A</c>) 64-bit
/// unsigned numbers where <c>_</c> may sit between two digits (<c>0xfee0_0900</c>), and durations
/// with a unit (<c>250us</c>). Each parser returns <c>null</c> on success or the reason it failed.
/// </summary>
internal static class Literals
{
    /// <summary>The largest duration, in nanoseconds (about 292 years).</summary>
    public const long MaxDurationNs = long.MaxValue;

    /// <summary>True when <paramref name="text"/> looks like a number (starts with a decimal digit).</summary>
    public static bool LooksNumeric(ReadOnlySpan<char> text) => !text.IsEmpty && char.IsAsciiDigit(text[0]);

    /// <summary>Parses a number; returns <c>null</c> on success or the reason it is not one.</summary>
    public static string? TryParseNumber(ReadOnlySpan<char> text, out ulong value)
    {
        value = 0;
        bool hex = text.Length >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
        var digits = hex ? text[2..] : text;
        if (digits.IsEmpty)
        {
            return hex ? "no digits after `0x`" : "no digits";
        }

        uint radix = hex ? 16u : 10u;
        ulong result = 0;
        bool afterDigit = false;
        for (int i = 0; i < digits.Length; i++)
        {
            char c = digits[i];
            if (c == '_')
            {
                if (!afterDigit || i == digits.Length - 1)
                {
                    return "`_` may only separate two digits";
                }

                afterDigit = false;
                continue;
            }

            int digit = DigitValue(c, radix);
            if (digit < 0)
            {
                return hex ? $"`{c}` is not a hex digit" : $"`{c}` is not a decimal digit";
            }

            if (result > (ulong.MaxValue - (ulong)digit) / radix)
            {
                return "the number does not fit in 64 bits";
            }

            result = (result * radix) + (ulong)digit;
            afterDigit = true;
        }

        value = result;
        return null;
    }

    /// <summary>Parses a duration (a number with <c>ns</c>, <c>us</c> or <c>ms</c>) into nanoseconds.</summary>
    public static string? TryParseDuration(ReadOnlySpan<char> text, out long nanoseconds)
    {
        nanoseconds = 0;
        long unit = UnitOf(text);
        if (unit == 0)
        {
            return TryParseNumber(text, out _) is null
                ? "a duration needs a unit: ns, us or ms (for example 250us)"
                : "expected a number followed by ns, us or ms (for example 250us)";
        }

        string? error = TryParseNumber(text[..^2], out ulong count);
        if (error is not null)
        {
            return error;
        }

        if (count > (ulong)(MaxDurationNs / unit))
        {
            return $"the duration does not fit in {MaxDurationNs}ns (about 292 years)";
        }

        nanoseconds = (long)count * unit;
        return null;
    }

    private static long UnitOf(ReadOnlySpan<char> text)
    {
        if (text.Length < 2 || (text[^1] != 's' && text[^1] != 'S'))
        {
            return 0;
        }

        return char.ToLowerInvariant(text[^2]) switch
        {
            'n' => 1,
            'u' => 1_000,
            'm' => 1_000_000,
            _ => 0,
        };
    }

    private static int DigitValue(char c, uint radix)
    {
        int value = c switch
        {
            >= '0' and <= '9' => c - '0',
            >= 'a' and <= 'f' => c - 'a' + 10,
            >= 'A' and <= 'F' => c - 'A' + 10,
            _ => -1,
        };
        return value < radix ? value : -1;
    }
}
