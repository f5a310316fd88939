// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>Numbers (64-bit, decimal or hex, <c>_</c> between digits) and durations (ns/us/ms).</summary>
public class LiteralTests
{
    private static ulong ValueOf(string number)
    {
        var statement = ScenarioAssert.Statement($"cpu0 wrmsr 0x1b {number}");
        return Assert.IsType<WrmsrStatement>(statement).Value;
    }

    private static long NanosecondsOf(string duration) =>
        Assert.IsType<AdvanceStatement>(ScenarioAssert.Statement($"advance {duration}")).Nanoseconds;

    [Theory]
    [InlineData("0", 0ul)]
    [InlineData("26", 26ul)]
    [InlineData("0x1a", 0x1Aul)]
    [InlineData("0X1A", 0x1Aul)]
    [InlineData("0xAbCdEf", 0xABCDEFul)]
    [InlineData("0xfee0_0900", 0xFEE00900ul)]
    [InlineData("1_000_000", 1_000_000ul)]
    [InlineData("1_2_3", 123ul)]
    [InlineData("007", 7ul)]
    [InlineData("0x0", 0ul)]
    [InlineData("0x00000000000000000000000000001", 1ul)]
    [InlineData("18446744073709551615", ulong.MaxValue)]
    [InlineData("0xffff_ffff_ffff_ffff", ulong.MaxValue)]
    [InlineData("0xFFFFFFFFFFFFFFFF", ulong.MaxValue)]
    [InlineData("18446744073709551614", ulong.MaxValue - 1)]
    [InlineData("9223372036854775808", 1ul << 63)]
    public void Numbers_parse_to_their_64_bit_value(string text, ulong expected) =>
        Assert.Equal(expected, ValueOf(text));

    [Theory]
    [InlineData("18446744073709551616", "the number does not fit in 64 bits")]
    [InlineData("99999999999999999999", "the number does not fit in 64 bits")]
    [InlineData("0x1_0000_0000_0000_0000", "the number does not fit in 64 bits")]
    [InlineData("0x10000000000000000", "the number does not fit in 64 bits")]
    [InlineData("0x", "no digits after `0x`")]
    [InlineData("0X", "no digits after `0x`")]
    [InlineData("1_", "`_` may only separate two digits")]
    [InlineData("1__0", "`_` may only separate two digits")]
    [InlineData("0x_1", "`_` may only separate two digits")]
    [InlineData("0xg", "`g` is not a hex digit")]
    [InlineData("12a", "`a` is not a decimal digit")]
    [InlineData("1.5", "`.` is not a decimal digit")]
    [InlineData("0o7", "`o` is not a decimal digit")]
    [InlineData("0b1", "`b` is not a decimal digit")]
    public void Bad_numbers_say_why(string text, string reason) =>
        Assert.Equal([$"t.vapic:2:17: bad number `{text}` for VALUE: {reason}"], ScenarioAssert.Fails($"vm cpus=4\ncpu0 wrmsr 0x1b {text}\n"));

    [Theory]
    [InlineData("_1")]
    [InlineData("x1")]
    [InlineData("-1")]
    [InlineData("+1")]
    public void Words_that_do_not_start_with_a_digit_are_not_numbers(string text) =>
        Assert.Equal(
            [$"t.vapic:2:17: expected VALUE (a number), found `{text}`; usage: cpuN wrmsr MSR VALUE"],
            ScenarioAssert.Fails($"vm cpus=4\ncpu0 wrmsr 0x1b {text}\n"));

    [Theory]
    [InlineData("0ns", 0L)]
    [InlineData("1ns", 1L)]
    [InlineData("1us", 1_000L)]
    [InlineData("1ms", 1_000_000L)]
    [InlineData("250us", 250_000L)]
    [InlineData("5NS", 5L)]
    [InlineData("5Us", 5_000L)]
    [InlineData("5mS", 5_000_000L)]
    [InlineData("1_000us", 1_000_000L)]
    [InlineData("0x10us", 16_000L)]
    [InlineData("9223372036854775807ns", long.MaxValue)]
    [InlineData("9223372036854775us", 9_223_372_036_854_775_000L)]
    [InlineData("9223372036854ms", 9_223_372_036_854_000_000L)]
    public void Durations_are_nanoseconds(string text, long expected) =>
        Assert.Equal(expected, NanosecondsOf(text));

    [Theory]
    [InlineData("9223372036854775808ns", "the duration does not fit in 9223372036854775807ns (about 292 years)")]
    [InlineData("9223372036854776us", "the duration does not fit in 9223372036854775807ns (about 292 years)")]
    [InlineData("9223372036855ms", "the duration does not fit in 9223372036854775807ns (about 292 years)")]
    [InlineData("18446744073709551615ms", "the duration does not fit in 9223372036854775807ns (about 292 years)")]
    [InlineData("18446744073709551616ns", "the number does not fit in 64 bits")]
    [InlineData("10", "a duration needs a unit: ns, us or ms (for example 250us)")]
    [InlineData("0x10", "a duration needs a unit: ns, us or ms (for example 250us)")]
    [InlineData("10s", "expected a number followed by ns, us or ms (for example 250us)")]
    [InlineData("1h", "expected a number followed by ns, us or ms (for example 250us)")]
    [InlineData("1.5ms", "`.` is not a decimal digit")]
    [InlineData("us", "no digits")]
    [InlineData("_1us", "`_` may only separate two digits")]
    public void Bad_durations_say_why(string text, string reason) =>
        Assert.Equal([$"t.vapic:2:9: bad duration `{text}`: {reason}"], ScenarioAssert.Fails($"vm\nadvance {text}\n"));
}
