namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// Parses the <c>.vapic</c> scenario language (format version 1) into a typed <see cref="Scenario"/>.
/// Syntax only: nothing runs. Everything that can be checked without running is checked up front
/// (statement and option names, numbers, durations, operand names, expectation syntax, ranges such
/// as vectors 0..255, IOAPIC pins 0..23 and <c>cpuN</c> below the <c>vm</c> line's <c>cpus</c>), so
/// that a file that parses can run to the end.
/// </summary>
/// <remarks>
/// <para>
/// Lexical rules: one statement per line (<c>\n</c> or <c>\r\n</c>); <c>#</c> starts a comment
/// except in <c>== #GP</c>; blank lines are ignored; words are case-insensitive; numbers are decimal
/// or <c>0x</c> hex, 64-bit unsigned, with <c>_</c> allowed between two digits; durations are a
/// number with <c>ns</c>, <c>us</c> or <c>ms</c>. Outside comments only printable ASCII, spaces and
/// tabs may appear; control characters are refused everywhere. A leading byte-order mark is skipped.
/// </para>
/// <para>
/// Bad input never throws: it yields diagnostics. Memory stays bounded: lines longer than
/// <see cref="MaxLineLength"/> are refused without being scanned, at most <see cref="MaxStatements"/>
/// statements are read, and parsing stops after <see cref="MaxDiagnostics"/> errors.
/// </para>
/// </remarks>
public static class ScenarioParser
{
    /// <summary>The longest line accepted, in characters, line ending excluded.</summary>
    public const int MaxLineLength = 4096;

    /// <summary>The most statements (non-blank, non-comment lines, the <c>vm</c> line included) a scenario may have.</summary>
    public const int MaxStatements = 100_000;

    /// <summary>The number of errors after which the parser stops (and adds one "too many errors" diagnostic).</summary>
    public const int MaxDiagnostics = 100;

    /// <summary>The number of IOAPIC pins (input lines): pins are 0..23.</summary>
    public const int IoApicPins = 24;

    /// <summary>Parses a whole scenario file.</summary>
    /// <param name="text">The file's text (decoding it is the caller's business).</param>
    /// <param name="fileName">The name used in diagnostics (<c>FILE:LINE:COL: message</c>).</param>
    /// <returns>The scenario, or the diagnostics that explain why there is none.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> or <paramref name="fileName"/> is null.</exception>
    public static ParseResult Parse(string text, string fileName)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);
        return new Parser(text, fileName).Run();
    }
}
