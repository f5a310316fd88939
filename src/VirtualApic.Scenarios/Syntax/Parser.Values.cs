// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using VirtualApic.Registers;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>Operands: numbers, durations, ranged values, <c>cpuN</c>, MSRs, registers, names.</summary>
internal sealed partial class Parser
{
    private const string MsrPrefix = "X2APIC_";

    /// <summary>The vCPU count that <c>cpuN</c> is checked against (the most allowed before a valid <c>vm</c> line).</summary>
    private int CpuCount => _vm?.Cpus ?? VmOptions.MaxCpus;

    private ulong Number(Token token, string what, string usage)
    {
        if (token.Kind != TokenKind.Word || !Literals.LooksNumeric(Span(token)))
        {
            throw At(token, $"expected {what} (a number), found {Show(token)}; usage: {usage}");
        }

        string? error = Literals.TryParseNumber(Span(token), out ulong value);
        return error is null ? value : throw At(token, $"bad number {Show(token)} for {what}: {error}");
    }

    private ulong TakeNumber(string what, string usage) => Number(Take(what, usage), what, usage);

    /// <summary>A number in <paramref name="min"/>..<paramref name="max"/>; <paramref name="range"/> says so in the message.</summary>
    private ulong Ranged(Token token, string what, string usage, ulong min, ulong max, string? range = null)
    {
        ulong value = Number(token, what, usage);
        return value >= min && value <= max
            ? value
            : throw At(token, $"{what} {Span(token)} is out of range {range ?? $"{Format(min)}..{Format(max)}"}");
    }

    private ulong TakeRanged(string what, string usage, ulong min, ulong max, string? range = null) =>
        Ranged(Take(what, usage), what, usage, min, max, range);

    private uint TakeUInt32(string what, string usage) => (uint)TakeRanged(what, usage, 0, uint.MaxValue, "0..0xffffffff (32 bits)");

    private byte Vector(Token token, string usage) => (byte)Ranged(token, "vector", usage, 0, 255, "0..255");

    private byte TakeVector(string usage) => Vector(Take("VECTOR", usage), usage);

    private int TakePin(string usage) =>
        (int)TakeRanged("IOAPIC pin", usage, 0, ScenarioParser.IoApicPins - 1, $"0..{ScenarioParser.IoApicPins - 1} (the IOAPIC has {ScenarioParser.IoApicPins} pins)");

    /// <summary>A 0|1 value, as in <c>if == 1</c>.</summary>
    private bool TakeBit(string what, string usage) => TakeRanged(what, usage, 0, 1, "0..1") == 1;

    private long TakeDuration(string usage)
    {
        var token = TakeWord("DURATION", usage);
        string? error = Literals.TryParseDuration(Span(token), out long nanoseconds);
        return error is null ? nanoseconds : throw At(token, $"bad duration {Show(token)}: {error}");
    }

    private static string Format(ulong value) =>
        value < 10 ? value.ToString(CultureInfo.InvariantCulture) : "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    // ---- cpuN ----------------------------------------------------------------------------------

    private static bool IsCpuName(ReadOnlySpan<char> word) => word.StartsWith("cpu", StringComparison.OrdinalIgnoreCase);

    /// <summary>The index of a <c>cpuN</c> word: decimal, no leading zero, below the vm's <c>cpus</c>.</summary>
    private int CpuIndex(Token token)
    {
        var digits = Span(token)[3..];
        int count = CpuCount;
        bool decimalDigits = !digits.IsEmpty && !digits.ContainsAnyExceptInRange('0', '9');
        if (!decimalDigits || (digits.Length > 1 && digits[0] == '0'))
        {
            throw At(token, $"bad vCPU {Show(token)}: expected `cpu` and a decimal index without leading zeros ({Range(count)})");
        }

        if (digits.Length > 9 || int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture) >= count)
        {
            string declared = _vm is null ? $"at most {count} vCPUs" : $"the vm has {count} vCPU{(count == 1 ? "" : "s")}";
            throw At(token, $"{Show(token)} does not exist: {declared} ({Range(count)})");
        }

        return int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);

        static string Range(int count) => count == 1 ? "cpu0" : $"cpu0..cpu{count - 1}";
    }

    // ---- MSR and REG operands ------------------------------------------------------------------

    /// <summary>An MSR: a 32-bit number, <c>APIC_BASE</c>, <c>TSC_DEADLINE</c> or <c>X2APIC_&lt;REG&gt;</c>.</summary>
    private MsrRef TakeMsr(string usage)
    {
        var token = TakeWord("MSR", usage);
        var word = Span(token);
        if (Literals.LooksNumeric(word))
        {
            return new MsrRef((uint)Ranged(token, "MSR", usage, 0, uint.MaxValue, "0..0xffffffff (32 bits)"), TextOf(token));
        }

        if (word.Equals("APIC_BASE", StringComparison.OrdinalIgnoreCase))
        {
            return new MsrRef(ApicBase.Msr, TextOf(token));
        }

        if (word.Equals("TSC_DEADLINE", StringComparison.OrdinalIgnoreCase))
        {
            return new MsrRef(TscDeadlineMsr, TextOf(token));
        }

        if (word.StartsWith(MsrPrefix, StringComparison.OrdinalIgnoreCase))
        {
            var register = word[MsrPrefix.Length..];
            return ApicRegisterNames.TryGetOffset(register.ToString(), out int offset)
                ? new MsrRef(ApicOffset.ToMsr(offset), TextOf(token))
                : throw At(token, $"unknown MSR {Show(token)}: `{register}` is not an APIC register name");
        }

        throw At(token, $"unknown MSR {Show(token)}; expected a number, APIC_BASE, TSC_DEADLINE or X2APIC_<REG>");
    }

    /// <summary>IA32_TSC_DEADLINE.</summary>
    private const uint TscDeadlineMsr = 0x6E0;

    /// <summary>The highest register offset of the APIC page.</summary>
    private const int LastRegisterOffset = 0xFF0;

    /// <summary>An APIC register: a 16-byte aligned offset in the page, or a name.</summary>
    private RegisterRef TakeRegister(string usage)
    {
        var token = TakeWord("REG", usage);
        if (Literals.LooksNumeric(Span(token)))
        {
            ulong offset = Number(token, "REG", usage);
            if (offset > LastRegisterOffset || offset % 16 != 0)
            {
                throw At(token, $"register offset {Span(token)} is not a multiple of 0x10 in 0x0..0xff0");
            }

            return new RegisterRef((int)offset, TextOf(token));
        }

        string name = TextOf(token);
        return ApicRegisterNames.TryGetOffset(name, out int named)
            ? new RegisterRef(named, name)
            : throw At(token, $"unknown APIC register {Show(token)}; expected an offset (0xb0) or a name such as TPR, EOI, ICR, LVT_TIMER, IRR0");
    }

    /// <summary>A snapshot name: letters, digits, <c>_</c>, <c>-</c> and <c>.</c>.</summary>
    private string TakeName(string usage)
    {
        var token = TakeWord("NAME", usage);
        foreach (char c in Span(token))
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-' or '.'))
            {
                throw At(token, $"bad snapshot name {Show(token)}: use letters, digits, `_`, `-` and `.`");
            }
        }

        return TextOf(token);
    }

    // ---- KEY=VALUE options ---------------------------------------------------------------------

    /// <summary>After an option's key, takes <c>=</c> and the value token.</summary>
    private Token OptionValue(Token key, string form)
    {
        if (!NextIs(TokenKind.Assign))
        {
            throw At(key, $"option {Show(key)} needs a value: {form}");
        }

        _cursor++;
        if (AtEnd)
        {
            throw Missing($"the value of {Show(key)}", form);
        }

        var value = _tokens[_cursor++];
        return value.Kind == TokenKind.Word ? value : throw At(value, $"expected the value of {Show(key)}, found {Show(value)}; usage: {form}");
    }

    private T Choice<T>(Token token, KeywordTable<T> table, string what) =>
        table.TryGet(Span(token), out var value) ? value : throw At(token, $"unknown {what} {Show(token)}; expected {table.Choices}");

    /// <summary>Marks option <paramref name="bit"/> as seen; a second time is an error.</summary>
    private void Once(ref uint seen, int bit, Token key)
    {
        if ((seen & (1u << bit)) != 0)
        {
            throw At(key, $"duplicate option {Show(key)}");
        }

        seen |= 1u << bit;
    }
}
