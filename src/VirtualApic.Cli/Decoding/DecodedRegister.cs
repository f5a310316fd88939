// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;

namespace VirtualApic.Cli.Decoding;

/// <summary>One field of a decoded register value.</summary>
/// <param name="Name">
/// The field name (<c>vector</c>, <c>delivery mode</c>, ...). Set reserved bits are reported as
/// fields named <see cref="ReservedName"/>.
/// </param>
/// <param name="HighBit">The most significant bit of the field, 0-63.</param>
/// <param name="LowBit">The least significant bit of the field, 0-63.</param>
/// <param name="Value">
/// The field's bits shifted down to bit 0. (The one exception is the TDCR divide value, bits 3:0,
/// whose bit 2 is not part of the encoding and always reads as 0 here.)
/// </param>
/// <param name="Meaning">What the value means, in plain English.</param>
public readonly record struct DecodedField(string Name, int HighBit, int LowBit, ulong Value, string Meaning)
{
    /// <summary>The name of the fields that report set reserved bits.</summary>
    public const string ReservedName = "reserved";

    /// <summary>True for a field that reports set reserved bits.</summary>
    public bool IsReserved => Name == ReservedName;

    /// <summary>The number of bits the field spans.</summary>
    public int Width => HighBit - LowBit + 1;

    /// <summary>The bit range as the SDM writes it: <c>63:32</c>, or <c>11</c> for a single bit.</summary>
    public string Bits => HighBit == LowBit
        ? LowBit.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{HighBit}:{LowBit}");

    /// <summary>
    /// The value as the table prints it: <c>0</c>/<c>1</c> for one bit, binary (<c>0b011</c>) for
    /// fields of two to four bits, hexadecimal (<c>0x51</c>) for wider ones.
    /// </summary>
    public string FormattedValue => Width switch
    {
        1 => Value.ToString(CultureInfo.InvariantCulture),
        <= 4 => "0b" + Convert.ToString((long)Value, 2).PadLeft(Width, '0'),
        _ => "0x" + Value.ToString("X", CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// A register value taken apart into its fields (<see cref="RegisterDecoder.Decode"/>): the kind,
/// the raw value, the fields in ascending bit order, and a one-line summary.
/// </summary>
public sealed class DecodedRegister
{
    internal DecodedRegister(RegisterKind kind, ulong value, string displayName, IList<DecodedField> fields, string summary)
    {
        Kind = kind;
        Value = value;
        DisplayName = displayName;
        Fields = new ReadOnlyCollection<DecodedField>(fields);
        Summary = summary;
    }

    /// <summary>The register layout that was applied.</summary>
    public RegisterKind Kind { get; }

    /// <summary>The raw value that was decoded.</summary>
    public ulong Value { get; }

    /// <summary>A human name for the kind: <c>ICR</c>, <c>IOAPIC redirection entry</c>, ...</summary>
    public string DisplayName { get; }

    /// <summary>
    /// The fields, ordered by ascending low bit. Alternative readings of the same bits (the xAPIC
    /// and x2APIC ICR destinations, for example) appear as separate, overlapping fields.
    /// </summary>
    public IReadOnlyList<DecodedField> Fields { get; }

    /// <summary>
    /// A one-line description, e.g. <c>fixed IPI, vector 0x51, physical destination 3, edge, assert,
    /// no shorthand</c>. It ends in <c>; reserved bits set</c> when the value sets reserved bits.
    /// </summary>
    public string Summary { get; }

    /// <summary>
    /// The value as a plain-text table: a header line (<c>ICR 0x0000000300004051: summary</c>), a
    /// column heading line, then one line per field with aligned <c>bits</c>, <c>field</c>,
    /// <c>value</c> and <c>meaning</c> columns. Lines end in <c>\n</c>; no line has trailing spaces.
    /// </summary>
    public override string ToString()
    {
        const string BitsHeading = "bits", FieldHeading = "field", ValueHeading = "value", MeaningHeading = "meaning";
        int bitsWidth = BitsHeading.Length, nameWidth = FieldHeading.Length, valueWidth = ValueHeading.Length;
        foreach (var f in Fields)
        {
            bitsWidth = Math.Max(bitsWidth, f.Bits.Length);
            nameWidth = Math.Max(nameWidth, f.Name.Length);
            valueWidth = Math.Max(valueWidth, f.FormattedValue.Length);
        }

        var sb = new StringBuilder();
        sb.Append(DisplayName).Append(' ').Append(FormatRaw()).Append(": ").Append(Summary).Append('\n');
        AppendRow(BitsHeading, FieldHeading, ValueHeading, MeaningHeading);
        foreach (var f in Fields)
        {
            AppendRow(f.Bits, f.Name, f.FormattedValue, f.Meaning);
        }

        return sb.ToString();

        void AppendRow(string bits, string name, string value, string meaning)
        {
            sb.Append("  ").Append(bits.PadRight(bitsWidth + 2)).Append(name.PadRight(nameWidth + 2))
                .Append(value.PadRight(valueWidth + 2)).Append(meaning);
            while (sb.Length > 0 && sb[^1] == ' ')
            {
                sb.Length--;
            }

            sb.Append('\n');
        }
    }

    private string FormatRaw()
    {
        bool wide = Kind is RegisterKind.Icr or RegisterKind.Rte or RegisterKind.ApicBase || Value > uint.MaxValue;
        return "0x" + Value.ToString(wide ? "X16" : "X8", CultureInfo.InvariantCulture);
    }
}
