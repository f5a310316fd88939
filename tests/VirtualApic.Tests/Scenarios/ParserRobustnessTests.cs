// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using System.Text;
using CsCheck;
using VirtualApic.Registers;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>
/// Bad input of any shape (random text and bytes, token soup, edits and truncations of a valid file,
/// control characters, huge lines and files) yields diagnostics that point inside the file, never an
/// exception, and memory stays bounded.
/// </summary>
public class ParserRobustnessTests
{
    private const string FileName = "fuzz.vapic";

    /// <summary>A valid scenario that uses every statement form.</summary>
    internal const string Corpus = """
        # every statement of the format, once
        vm cpus=4 accel=x2avic profile=kvm tsc-khz=2000000 bus-mhz=1000 x2apic=on tsc-deadline=on cmci=off maxphyaddr=46 ioapic-version=0x11 ext-dest-id=off ap-state=running
        cpu0 wrmsr APIC_BASE 0xfee00d00      # enable x2APIC
        cpu0 rdmsr X2APIC_EOI !gp
        cpu0 wrmsr X2APIC_SELF_IPI 0x100 == #GP
        cpu1 mmio-write 0xfee00080 0x20 size=1
        cpu1 mmio-read 0xfee00030 size=4 & 0xff == 0x14
        cpu1 write TPR 0x20 == ok
        cpu1 read PPR == 0x20
        cpu0 eoi
        cpu0 ipi 0x51 dest=1 mode=fixed logical shorthand=none level=assert trigger=edge
        cpu1 sti
        cpu1 take == vector 0x51
        cpu1 iret
        cpu1 cli
        cpu2 hlt
        cpu2 rdtsc
        cpu2 kick-cpu 1 == 0
        cpu2 pv-eoi enable 0x1000 == ok
        cpu2 pv-eoi eoi
        cpu3 host-wrmsr APIC_BASE 0xfee00c00 == ok
        cpu3 wrcr8 2
        cpu3 rdcr8 == 2
        cpu3 cpuid 1 ecx & 0x200000 == 0x200000
        cpu3 cpuid 0xb 0 edx == 3
        cpu0 lint0 pulse
        ioapic write 0x10 0xa051
        ioapic read 0x10 == 0xa051
        ioapic route 10 vector=0x51 dest=1 trigger=level polarity=low mode=lowest masked
        irq 10 assert
        msi 0xfee00000 0x4051
        msi-route 5 0xfee00000 0xc052
        gsi 5
        advance 250us
        pic raise 0x20
        pic lower
        expect cpu1 irr has 0x51
        expect cpu1 isr empty
        expect cpu1 tmr lacks 0x51
        expect cpu1 reg PPR & 0xf0 == 0x20
        expect cpu1 pending lacks nmi
        expect ioapic pin 10 line == 1
        expect ioapic pin 10 remote-irr == 0
        expect ioapic pin 10 entry == 0x0000_0000_0001_a051
        expect cpu0 mode == x2apic
        expect cpu2 state == halted
        expect cpu1 if == 0
        expect accel=avic,x2avic cpu0 exits == 0
        expect accel=x2avic cpu0 exits avic-noaccel == 1
        expect accel=none,x2avic cpu2 pv-eoi == 0
        migrate accel=apicv
        dump cpu0
        expect vm running
        """;

    private const string CorpusWithSnapshots = Corpus + "\nsnapshot base\ncpu0 sti\nrestore base\n";

    /// <summary>Parses <paramref name="text"/>: it must not throw, and every diagnostic must point inside the file.</summary>
    private static ParseResult ParsesOrReports(string text)
    {
        var result = ScenarioParser.Parse(text, FileName);
        string[] lines = LinesOf(text);
        if (result.Succeeded)
        {
            Assert.Empty(result.Diagnostics);
            foreach (var statement in result.Scenario.Statements)
            {
                Assert.InRange(statement.Source.Line, 1, lines.Length);
                Assert.NotEmpty(statement.Source.Text);
                Assert.Contains(statement.Source.Text, lines[statement.Source.Line - 1], StringComparison.Ordinal);
            }
        }
        else
        {
            Assert.Null(result.Scenario);
            Assert.NotEmpty(result.Diagnostics);
            Assert.True(result.Diagnostics.Count <= ScenarioParser.MaxDiagnostics + 1, "too many diagnostics");
            foreach (var diagnostic in result.Diagnostics)
            {
                Assert.Equal(FileName, diagnostic.File);
                Assert.InRange(diagnostic.Line, 1, lines.Length);
                int length = lines[diagnostic.Line - 1].Length;
                Assert.InRange(diagnostic.Column, 1, Math.Min(length, ScenarioParser.MaxLineLength) + 1);
                Assert.False(string.IsNullOrWhiteSpace(diagnostic.Message));
                Assert.DoesNotContain('\n', diagnostic.Message);
                Assert.Equal($"{FileName}:{diagnostic.Line}:{diagnostic.Column}: {diagnostic.Message}", diagnostic.ToString());
            }
        }

        return result;
    }

    /// <summary>The lines as the parser sees them: split at <c>\n</c>, one <c>\r</c> before it dropped, a leading BOM skipped.</summary>
    private static string[] LinesOf(string text)
    {
        if (text.StartsWith('\uFEFF'))
        {
            text = text[1..];
        }

        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].EndsWith('\r'))
            {
                lines[i] = lines[i][..^1];
            }
        }

        return lines;
    }

    [Fact]
    public void The_corpus_parses_and_uses_every_statement_kind()
    {
        var scenario = ParsesOrReports(CorpusWithSnapshots).Scenario!;
        var kinds = scenario.Statements.Select(s => s.GetType()).ToHashSet();
        var every = typeof(Statement).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(Statement)) && !t.IsAbstract)
            .ToHashSet();
        Assert.Empty(every.Except(kinds));
        Assert.Equal(AccelKind.X2Avic, scenario.Vm.Accel);
    }

    [Fact]
    public void Random_strings_never_throw() =>
        Gen.String.Sample(text => { ParsesOrReports(text); ParsesOrReports("vm cpus=4\n" + text); }, iter: 3000);

    [Fact]
    public void Random_ascii_and_control_text_never_throws() =>
        Gen.String[Gen.Char['\0', '\u007f'], 0, 300].Sample(text => { ParsesOrReports("vm cpus=4\n" + text); }, iter: 3000);

    [Fact]
    public void Random_bytes_decoded_any_way_never_throw() =>
        Gen.Byte.Array[0, 2000].Sample(
            bytes =>
            {
                ParsesOrReports(Encoding.UTF8.GetString(bytes));
                ParsesOrReports(Encoding.Latin1.GetString(bytes));
                ParsesOrReports("vm cpus=4\n" + Encoding.Latin1.GetString(bytes));
            },
            iter: 2000);

    private static readonly string[] Words =
    [
        "vm", "cpus=4", "accel=avic", "cpu0", "cpu1", "cpu4", "cpu", "cpu00", "wrmsr", "rdmsr", "mmio-write", "mmio-read",
        "write", "read", "eoi", "ipi", "sti", "cli", "take", "iret", "hlt", "rdtsc", "host-wrmsr", "wrcr8", "rdcr8",
        "cpuid", "lint0", "lint1", "kick-cpu", "assert", "deassert", "pulse", "ioapic", "route", "irq", "msi", "advance", "pic",
        "raise", "lower", "expect", "irr", "isr", "tmr", "has", "lacks", "empty", "reg", "pending", "mode", "state",
        "if", "exits", "line", "remote-irr", "entry", "pin", "vm", "running", "dead", "snapshot", "restore", "migrate",
        "accel", "dest", "logical", "shorthand", "level", "trigger", "polarity", "masked", "vector", "size", "nmi",
        "smi", "init", "sipi", "extint", "none", "ok", "error", "#GP", "!gp", "==", "=", "&", ",", "#", "0", "1", "23",
        "24", "255", "256", "0x51", "0xfee00900", "0x", "1_", "18446744073709551616", "0xffff_ffff_ffff_ffff",
        "250us", "1ms", "10s", "APIC_BASE", "TSC_DEADLINE", "X2APIC_EOI", "X2APIC_FOO", "TPR", "PPR", "ICR", "0xb4",
        "eax", "edx", "avic,x2avic", "avic-noaccel", "s1", "\t", "\r", "é", "\0",
    ];

    [Fact]
    public void Token_soup_never_throws()
    {
        var line = Gen.Int[0, Words.Length - 1].Array[0, 10].Select(ix => string.Join(' ', ix.Select(i => Words[i])));
        var file = Gen.Select(Gen.Bool, line.Array[0, 8]).Select(t => (t.Item1 ? "vm cpus=4\n" : "") + string.Join('\n', t.Item2));
        file.Sample(text => { ParsesOrReports(text); }, iter: 5000);
    }

    [Fact]
    public void Small_edits_of_a_valid_file_never_throw()
    {
        const string Interesting = "\0\t\n\r #=&,!_x0f9.-é\u0085\u00a0";
        var edit = Gen.Select(Gen.Int[0, 3], Gen.Int[0, CorpusWithSnapshots.Length], Gen.Char[Interesting], Gen.Int[1, 20]);
        edit.Array[1, 4].Sample(
            edits =>
            {
                var text = new StringBuilder(CorpusWithSnapshots);
                foreach (var (kind, at, c, count) in edits)
                {
                    int i = Math.Min(at, text.Length);
                    switch (kind)
                    {
                        case 0: text.Insert(i, c); break;
                        case 1: text.Remove(i, Math.Min(count, text.Length - i)); break;
                        case 2: text.Insert(i, text.ToString(i, Math.Min(count, text.Length - i))); break;
                        default: text.Length = i; break;
                    }
                }

                ParsesOrReports(text.ToString());
            },
            iter: 5000);
    }

    [Fact]
    public void Every_truncation_of_a_valid_file_gives_diagnostics_or_a_prefix_of_its_statements()
    {
        int full = ParsesOrReports(CorpusWithSnapshots).Scenario!.Statements.Count;
        for (int length = 0; length <= CorpusWithSnapshots.Length; length++)
        {
            var result = ParsesOrReports(CorpusWithSnapshots[..length]);
            if (result.Succeeded)
            {
                Assert.InRange(result.Scenario.Statements.Count, 0, full);
            }
        }

        // A cut at a line end always parses.
        int cut = CorpusWithSnapshots.IndexOf("\ncpu1 sti", StringComparison.Ordinal);
        Assert.True(ParsesOrReports(CorpusWithSnapshots[..cut]).Succeeded);
    }

    [Fact]
    public void A_control_character_anywhere_is_reported_at_its_line_and_column()
    {
        char[] controls = Enumerable.Range(0, 0x20).Where(c => c is not ('\t' or '\n'))
            .Concat(Enumerable.Range(0x7f, 0x21)).Select(c => (char)c).ToArray();
        string[] lines = LinesOf(Corpus);
        var gen = from line in Gen.Int[0, lines.Length - 1]
                  from column in Gen.Int[0, lines[line].Length]
                  from c in Gen.Int[0, controls.Length - 1].Select(i => controls[i])
                  where !(c == '\r' && column == lines[line].Length) // CR before LF is a line ending
                  select (line, column, c);
        gen.Sample(
            (line, column, c) =>
            {
                string[] edited = (string[])lines.Clone();
                edited[line] = edited[line].Insert(column, c.ToString());
                var result = ParsesOrReports(string.Join('\n', edited));
                var diagnostic = Assert.Single(result.Diagnostics);
                Assert.Equal($"{FileName}:{line + 1}:{column + 1}: control character U+{(int)c:X4} is not allowed", diagnostic.ToString());
            },
            iter: 3000);
    }

    private static readonly DeliveryMode[] IpiModes =
        [DeliveryMode.Fixed, DeliveryMode.LowestPriority, DeliveryMode.Smi, DeliveryMode.Nmi, DeliveryMode.Init, DeliveryMode.StartUp];

    [Fact]
    public void Generated_ipi_statements_parse_to_their_fields_in_any_option_order()
    {
        string[] modes = ["fixed", "lowest", "smi", "nmi", "init", "sipi"];
        string[] shorthands = ["none", "self", "all", "others"];
        var gen = Gen.Select(Gen.Byte, Gen.UInt, Gen.Int[0, 5], Gen.Bool, Gen.Int[0, 3], Gen.Bool, Gen.Bool, Gen.Int[0, 63])
            .SelectMany(t => Gen.Shuffle(
                new[]
                {
                    $"dest={(t.Item2 % 2 == 0 ? t.Item2.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"0x{t.Item2:x}")}",
                    $"mode={modes[t.Item3]}", t.Item4 ? "logical" : "", $"shorthand={shorthands[t.Item5]}",
                    t.Item6 ? "level=assert" : "level=deassert", t.Item7 ? "trigger=level" : "trigger=edge",
                }.Where((option, i) => option.Length > 0 && (t.Item8 & (1 << i)) != 0).ToArray())
            .Select(options => (t, options)));
        gen.Sample(
            x =>
            {
                var (t, options) = x;
                string line = $"cpu3 ipi 0x{t.Item1:x} {string.Join(' ', options)}";
                var ipi = Assert.IsType<IpiStatement>(Assert.Single(ParsesOrReports("vm cpus=4\n" + line).Scenario!.Statements));
                bool has(string key) => options.Any(o => o.StartsWith(key, StringComparison.Ordinal));
                var expected = new IpiStatement(
                    new SourceLine(2, line.TrimEnd()),
                    3,
                    t.Item1,
                    has("dest=") ? t.Item2 : 0,
                    has("mode=") ? IpiModes[t.Item3] : DeliveryMode.Fixed,
                    has("logical") ? DestinationMode.Logical : DestinationMode.Physical,
                    has("shorthand=") ? (DestinationShorthand)t.Item5 : DestinationShorthand.None,
                    !has("level=") || t.Item6,
                    has("trigger=") && t.Item7 ? TriggerMode.Level : TriggerMode.Edge,
                    null);
                Assert.Equal(expected, ipi);
            },
            iter: 2000);
    }

    // ---- limits ----------------------------------------------------------------------------------

    [Fact]
    public void A_line_of_the_longest_length_parses_and_one_more_character_is_refused()
    {
        string longest = "cpu0 sti #".PadRight(ScenarioParser.MaxLineLength, 'x');
        Assert.Single(ParsesOrReports("vm\n" + longest + "\n").Scenario!.Statements);

        string[] errors = ScenarioAssert.Fails("vm\n" + longest + "x\ncpu0 frob\n");
        Assert.Equal(
            [
                $"t.vapic:2:{ScenarioParser.MaxLineLength + 1}: line is longer than {ScenarioParser.MaxLineLength} characters",
                "t.vapic:3:6: unknown vCPU operation `frob`; expected wrmsr, rdmsr, mmio-write, mmio-read, write, read, eoi, ipi, sti, cli, take, iret, hlt, rdtsc, host-wrmsr, wrcr8, rdcr8, cpuid, lint0, lint1, kick-cpu or pv-eoi",
            ],
            errors);
    }

    [Fact]
    public void A_50_MB_single_line_gives_one_diagnostic()
    {
        string huge = new('a', 50 * 1024 * 1024);
        Assert.Equal(["t.vapic:1:4097: line is longer than 4096 characters"], ScenarioAssert.Fails(huge));
        Assert.Equal(["t.vapic:2:4097: line is longer than 4096 characters"], ScenarioAssert.Fails("vm\n" + huge + "\ncpu0 sti"));
    }

    [Fact]
    public void The_statement_limit_is_inclusive_and_enforced()
    {
        var text = new StringBuilder("vm\n");
        for (int i = 1; i < ScenarioParser.MaxStatements; i++)
        {
            text.Append("cpu0 sti\n");
        }

        Assert.Equal(ScenarioParser.MaxStatements - 1, ParsesOrReports(text.ToString()).Scenario!.Statements.Count);

        text.Append("# comments and blank lines do not count\n\ncpu0 cli\n");
        Assert.Equal(
            [$"t.vapic:{ScenarioParser.MaxStatements + 3}:1: too many statements: a scenario may have at most {ScenarioParser.MaxStatements}"],
            ScenarioAssert.Fails(text.ToString()));
    }

    [Fact]
    public void A_50_MB_file_of_statements_stops_at_the_statement_limit()
    {
        string text = "vm\n" + string.Concat(Enumerable.Repeat("cpu0 sti # padding padding padding\n", 50 * 1024 * 1024 / 36));
        Assert.Equal(
            [$"t.vapic:{ScenarioParser.MaxStatements + 1}:1: too many statements: a scenario may have at most {ScenarioParser.MaxStatements}"],
            ScenarioAssert.Fails(text));
    }

    [Fact]
    public void A_50_MB_file_of_bad_lines_stops_after_the_diagnostic_limit()
    {
        string text = "vm\n" + string.Concat(Enumerable.Repeat("cpu0 frob\n", 50 * 1024 * 1024 / 10));
        string[] errors = ScenarioAssert.Fails(text);
        Assert.Equal(ScenarioParser.MaxDiagnostics + 1, errors.Length);
        Assert.StartsWith("t.vapic:2:6: unknown vCPU operation `frob`", errors[0], StringComparison.Ordinal);
        Assert.Equal($"t.vapic:{ScenarioParser.MaxDiagnostics + 1}:6: too many errors; stopped after {ScenarioParser.MaxDiagnostics}", errors[^1]);
    }

    [Fact]
    public void A_50_MB_file_of_random_bytes_gives_bounded_diagnostics()
    {
        byte[] bytes = new byte[50 * 1024 * 1024];
        new Random(1234).NextBytes(bytes);
        ParsesOrReports(Encoding.Latin1.GetString(bytes));
        ParsesOrReports(Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void A_50_MB_file_of_comments_and_blank_lines_parses_to_no_statements()
    {
        string text = "vm cpus=2\n" + string.Concat(Enumerable.Repeat("# a comment, then a blank line\n\n", 50 * 1024 * 1024 / 33));
        var scenario = ParsesOrReports(text).Scenario!;
        Assert.Empty(scenario.Statements);
        Assert.Equal(2, scenario.Vm.Cpus);
    }

    [Theory]
    [InlineData("vm\0", "t.vapic:1:3: control character U+0000 is not allowed")]
    [InlineData("\0\0\0\0", "t.vapic:1:1: control character U+0000 is not allowed")]
    [InlineData("vm\ncpu0 ipi 0x51 dest=", "t.vapic:2:20: missing the value of `dest`; usage: dest=ID")]
    [InlineData("vm\ncpu0 rdmsr APIC_BA", "t.vapic:2:12: unknown MSR `APIC_BA`; expected a number, APIC_BASE, TSC_DEADLINE or X2APIC_<REG>")]
    [InlineData("vm cpus=4 accel=x2a", "t.vapic:1:17: unknown accel `x2a`; expected none, apicv, avic or x2avic")]
    public void Nul_bytes_and_truncated_files_give_diagnostics(string text, string expected) =>
        Assert.Equal([expected], ScenarioAssert.Fails(text));

    [Fact]
    public void Null_arguments_are_the_callers_bug()
    {
        Assert.Throws<ArgumentNullException>(() => ScenarioParser.Parse(null!, "f"));
        Assert.Throws<ArgumentNullException>(() => ScenarioParser.Parse("vm", null!));
    }
}
