// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.CommandLine;

namespace VirtualApic.Cli;

/// <summary>
/// "Did you mean" for a mistyped option or command, in System.CommandLine's own wording: the
/// command's options (with their aliases) and subcommands within three edits of the word; only the
/// nearest are offered.
/// </summary>
internal static class Suggestions
{
    private const int MaxDistance = 3;

    /// <summary>The known words nearest to <paramref name="word"/>.</summary>
    public static IReadOnlyList<string> For(string word, Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var names = command.Options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name))
            .Concat(command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
        var near = names
            .Distinct(StringComparer.Ordinal)
            .Select(n => (Name: n, Distance: Distance(word, n)))
            .Where(c => c.Distance <= MaxDistance && c.Distance < Math.Max(word.Length, 2))
            .ToList();
        int best = near.Count == 0 ? 0 : near.Min(c => c.Distance);
        return near.Where(c => c.Distance == best).Select(c => c.Name).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Writes the suggestions for <paramref name="word"/>, if any.</summary>
    public static void Write(string word, Command command, TextWriter stderr)
    {
        var near = For(word, command);
        if (near.Count > 0)
        {
            stderr.WriteLine($"'{word}' was not matched. Did you mean one of the following?");
            foreach (string name in near)
            {
                stderr.WriteLine(name);
            }
        }
    }

    // Levenshtein distance, two rows.
    private static int Distance(string a, string b)
    {
        int[] previous = new int[b.Length + 1];
        int[] current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
