// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Frozen;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// A case-insensitive keyword table: looks a word up without allocating (span lookup on a frozen
/// dictionary) and knows how to list its words for an error message.
/// </summary>
/// <typeparam name="T">What a keyword stands for.</typeparam>
internal sealed class KeywordTable<T>
{
    private readonly FrozenDictionary<string, T>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public KeywordTable(params (string Word, T Value)[] rows)
    {
        var map = rows.ToFrozenDictionary(r => r.Word, r => r.Value, StringComparer.OrdinalIgnoreCase);
        _lookup = map.GetAlternateLookup<ReadOnlySpan<char>>();
        Words = rows.Select(r => r.Word).ToArray();
        Choices = Join(Words.ToArray(), "or");
    }

    /// <summary>The words, in table order (for the documentation check).</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>The words as prose, for example <c>edge or level</c>.</summary>
    public string Choices { get; }

    public bool TryGet(ReadOnlySpan<char> word, out T value) => _lookup.TryGetValue(word, out value!);

    /// <summary><c>a, b or c</c>.</summary>
    public static string Join(string[] words, string conjunction) => words.Length switch
    {
        0 => "",
        1 => words[0],
        _ => $"{string.Join(", ", words[..^1])} {conjunction} {words[^1]}",
    };
}
