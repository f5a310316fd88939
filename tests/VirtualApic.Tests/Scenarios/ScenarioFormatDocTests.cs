// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.RegularExpressions;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>
/// docs/scenario-format.md is the language reference: every example in it parses, and every keyword
/// the parser knows (statements, options, option values, probe words) appears in one of those
/// examples and in the prose, so the page cannot fall behind the parser or run ahead of it.
/// </summary>
public partial class ScenarioFormatDocTests
{
    private static readonly string Doc = Repo.Read("docs/scenario-format.md");

    [GeneratedRegex(@"```vapic\r?\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex VapicBlock();

    private static List<string> Examples() => VapicBlock().Matches(Doc).Select(m => m.Groups[1].Value).ToList();

    [Fact]
    public void Every_example_in_the_reference_parses()
    {
        var examples = Examples();
        Assert.True(examples.Count >= 5, $"only {examples.Count} vapic examples found");
        for (int i = 0; i < examples.Count; i++)
        {
            var result = ScenarioParser.Parse(examples[i], $"scenario-format.md example {i + 1}");
            Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics) + "\n--- example:\n" + examples[i]);
        }
    }

    [Fact]
    public void Every_keyword_the_parser_knows_is_in_a_parsed_example_and_in_the_text()
    {
        var words = Examples()
            .SelectMany(e => e.Split('\n'))
            .Select(line => line.Split('#')[0])
            .SelectMany(line => line.Split([' ', '\t', '=', ',', '&'], StringSplitOptions.RemoveEmptyEntries))
            .Select(w => w.ToLowerInvariant())
            .ToHashSet(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var (place, keywords) in Parser.Vocabulary)
        {
            foreach (string keyword in keywords)
            {
                if (!words.Contains(keyword.ToLowerInvariant()))
                {
                    missing.Add($"{place} `{keyword}`: in no example");
                }

                if (!Regex.IsMatch(Doc, $@"(?<![\w-]){Regex.Escape(keyword)}(?![\w-])", RegexOptions.IgnoreCase))
                {
                    missing.Add($"{place} `{keyword}`: not in the text");
                }
            }
        }

        Assert.True(missing.Count == 0, "docs/scenario-format.md lacks:\n" + string.Join("\n", missing));
    }

    [Fact]
    public void Every_statement_and_option_has_a_row_or_usage_line_in_the_text()
    {
        foreach (string place in new[] { "statement", "cpu statement", "vm option", "ipi option", "route option", "cpu probe", "pin probe" })
        {
            foreach (string keyword in Parser.Vocabulary[place])
            {
                // In a usage line or table row: `word, cpuN word`, [word, word=, |word.
                Assert.True(
                    Regex.IsMatch(Doc, $@"[`\[|]{Regex.Escape(keyword)}[`\]|= ]|cpuN {Regex.Escape(keyword)}[` ]|expect (cpuN|ioapic pin N) {Regex.Escape(keyword)}[` ]"),
                    $"{place} `{keyword}` has no usage in docs/scenario-format.md");
            }
        }
    }

    [Fact]
    public void Every_exit_reason_and_register_name_is_listed()
    {
        foreach (var reason in VirtualApic.Assist.ExitStatistics.Reasons)
        {
            Assert.Contains($"`{VirtualApic.Assist.ExitStatistics.NameOf(reason)}`", Doc, StringComparison.Ordinal);
        }

        foreach (var (name, _) in VirtualApic.Registers.ApicRegisterNames.All)
        {
            // The eight-register banks are written as ranges: ISR0..ISR7.
            string written = Regex.IsMatch(name, "^(ISR|TMR|IRR)[0-7]$") ? $"{name[..3]}0..{name[..3]}7" : name;
            Assert.Matches($@"(?<![\w]){Regex.Escape(written)}(?![\w])", Doc);
        }
    }
}
