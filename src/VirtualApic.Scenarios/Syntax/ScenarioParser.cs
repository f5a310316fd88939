// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

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
/// <para>Statements and the nodes they parse to (<c>[...]</c> optional, <c>a|b</c> one of):</para>
/// <list type="table">
/// <listheader><term>statement</term><description>node</description></listheader>
/// <item><term><c>vm [cpus=N] [accel=...] ...</c> (first, once)</term><description><see cref="Scenario.Vm"/> (<see cref="VmOptions"/>)</description></item>
/// <item><term><c>cpuN wrmsr MSR VALUE</c></term><description><see cref="WrmsrStatement"/></description></item>
/// <item><term><c>cpuN rdmsr MSR</c></term><description><see cref="RdmsrStatement"/></description></item>
/// <item><term><c>cpuN mmio-write ADDR VALUE [size=1|2|4|8]</c></term><description><see cref="MmioWriteStatement"/></description></item>
/// <item><term><c>cpuN mmio-read ADDR [size=1|2|4|8]</c></term><description><see cref="MmioReadStatement"/></description></item>
/// <item><term><c>cpuN write REG VALUE</c> / <c>cpuN read REG</c></term><description><see cref="WriteRegisterStatement"/> / <see cref="ReadRegisterStatement"/></description></item>
/// <item><term><c>cpuN eoi</c></term><description><see cref="EoiStatement"/></description></item>
/// <item><term><c>cpuN ipi VECTOR [dest=ID] [mode=...] [logical] [shorthand=...] [level=...] [trigger=...]</c></term><description><see cref="IpiStatement"/></description></item>
/// <item><term><c>cpuN sti</c> / <c>cli</c> / <c>take</c> / <c>iret</c> / <c>hlt</c> / <c>rdtsc</c></term><description><see cref="StiStatement"/>, <see cref="CliStatement"/>, <see cref="TakeStatement"/>, <see cref="IretStatement"/>, <see cref="HltStatement"/>, <see cref="RdtscStatement"/></description></item>
/// <item><term><c>cpuN host-wrmsr MSR VALUE</c></term><description><see cref="HostWrmsrStatement"/></description></item>
/// <item><term><c>cpuN wrcr8 VALUE</c> / <c>cpuN rdcr8</c></term><description><see cref="Wrcr8Statement"/> / <see cref="Rdcr8Statement"/></description></item>
/// <item><term><c>cpuN cpuid LEAF [SUBLEAF] eax|ebx|ecx|edx</c></term><description><see cref="CpuidStatement"/></description></item>
/// <item><term><c>cpuN lint0|lint1 assert|deassert|pulse</c></term><description><see cref="LintStatement"/></description></item>
/// <item><term><c>ioapic write INDEX VALUE</c> / <c>ioapic read INDEX</c></term><description><see cref="IoApicWriteStatement"/> / <see cref="IoApicReadStatement"/></description></item>
/// <item><term><c>ioapic route PIN vector=V [dest=ID] [logical] [trigger=...] [polarity=...] [mode=...] [masked]</c></term><description><see cref="IoApicRouteStatement"/></description></item>
/// <item><term><c>irq PIN assert|deassert|pulse</c></term><description><see cref="IrqStatement"/></description></item>
/// <item><term><c>msi ADDR DATA</c></term><description><see cref="MsiStatement"/></description></item>
/// <item><term><c>advance DURATION</c></term><description><see cref="AdvanceStatement"/></description></item>
/// <item><term><c>pic raise VECTOR</c> / <c>pic lower</c></term><description><see cref="PicRaiseStatement"/> / <see cref="PicLowerStatement"/></description></item>
/// <item><term><c>snapshot NAME</c> / <c>restore NAME</c> / <c>migrate accel=KIND</c></term><description><see cref="SnapshotStatement"/>, <see cref="RestoreStatement"/>, <see cref="MigrateStatement"/></description></item>
/// <item><term><c>dump [cpuN|ioapic]</c></term><description><see cref="DumpStatement"/></description></item>
/// <item><term><c>expect cpuN irr|isr|tmr has V|lacks V|empty</c></term><description><see cref="ExpectVectorsProbe"/></description></item>
/// <item><term><c>expect cpuN reg REG [&amp; MASK] == V</c></term><description><see cref="ExpectRegisterProbe"/></description></item>
/// <item><term><c>expect cpuN pending has|lacks nmi|smi|init|sipi|extint</c></term><description><see cref="ExpectPendingProbe"/></description></item>
/// <item><term><c>expect cpuN mode == ...</c> / <c>state == ...</c> / <c>if == 0|1</c></term><description><see cref="ExpectModeProbe"/>, <see cref="ExpectStateProbe"/>, <see cref="ExpectInterruptFlagProbe"/></description></item>
/// <item><term><c>expect accel=KIND[,KIND...] cpuN exits [REASON] == N</c></term><description><see cref="ExpectExitsProbe"/></description></item>
/// <item><term><c>expect ioapic pin N line|remote-irr == 0|1</c></term><description><see cref="ExpectIoApicLineProbe"/>, <see cref="ExpectIoApicRemoteIrrProbe"/></description></item>
/// <item><term><c>expect ioapic pin N entry [&amp; MASK] == V</c></term><description><see cref="ExpectIoApicEntryProbe"/></description></item>
/// <item><term><c>expect vm running|dead</c></term><description><see cref="ExpectVmProbe"/></description></item>
/// </list>
/// <para>
/// Expectations (<see cref="Expectation"/>) end observing statements (<see cref="IObservingStatement"/>)
/// and must be able to match what the statement observes: <c>ok</c> or <c>#GP</c> for <c>wrmsr</c>,
/// <c>write</c>, <c>eoi</c>, <c>ipi</c> and <c>wrcr8</c>; a value or <c>#GP</c> for <c>rdmsr</c> and
/// <c>read</c>; a value for <c>mmio-read</c>, <c>rdtsc</c>, <c>rdcr8</c>, <c>cpuid</c> and
/// <c>ioapic read</c>; <c>ok</c> or <c>error</c> for <c>host-wrmsr</c>; an event for <c>take</c>. Other
/// statements observe nothing and take no expectation.
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

    /// <summary>
    /// The most statements a scenario may have: lines with anything but blanks and a comment, the
    /// <c>vm</c> line and lines too long or too malformed to read included.
    /// </summary>
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
