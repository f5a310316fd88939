// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Scenarios.Syntax;

namespace VirtualApic.Tests.Support;

/// <summary>Parsing shortcuts for the scenario tests.</summary>
internal static class ScenarioAssert
{
    public const string File = "t.vapic";

    /// <summary>Parses <paramref name="text"/>, which must succeed.</summary>
    public static Scenario Parses(string text)
    {
        var result = ScenarioParser.Parse(text, File);
        Assert.True(result.Succeeded, "unexpected diagnostics:\n" + string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        return result.Scenario;
    }

    /// <summary>Parses <paramref name="text"/>, which must fail; returns the diagnostics as printed.</summary>
    public static string[] Fails(string text)
    {
        var result = ScenarioParser.Parse(text, File);
        Assert.False(result.Succeeded, "expected a parse error");
        Assert.Null(result.Scenario);
        Assert.NotEmpty(result.Diagnostics);
        return [.. result.Diagnostics.Select(d => d.ToString())];
    }

    /// <summary>
    /// Parses <paramref name="line"/> after <paramref name="prelude"/> and returns its single statement
    /// with <see cref="Statement.Source"/> cleared, after checking the source line and text.
    /// </summary>
    public static Statement Statement(string line, string prelude = "vm cpus=4")
    {
        var scenario = Parses(prelude + "\n" + line + "\n");
        var statement = scenario.Statements[^1];
        int expectedLine = prelude.Split('\n').Length + 1;
        Assert.Equal(expectedLine, statement.Source.Line);
        Assert.Equal(WithoutComment(line), statement.Source.Text);
        return statement with { Source = default };
    }

    /// <summary>The line without its comment (a <c>#</c> not starting <c>#GP</c>), trimmed.</summary>
    private static string WithoutComment(string line)
    {
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] == '#' && !line.AsSpan(i).StartsWith("#gp", StringComparison.OrdinalIgnoreCase))
            {
                return line[..i].Trim();
            }
        }

        return line.Trim();
    }
}
