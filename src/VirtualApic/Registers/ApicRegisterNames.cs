// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Frozen;

namespace VirtualApic.Registers;

/// <summary>
/// The register names of the scenario language and of the tools (<c>ID</c>, <c>ISR3</c>,
/// <c>LVT_TIMER</c>, ...) and their page offsets: the name column of <see cref="ApicRegisterTable"/>.
/// </summary>
public static class ApicRegisterNames
{
    private static readonly (string Name, int Offset)[] Rows =
        [.. ApicRegisterTable.Rows.Select(r => (r.Name, r.Offset))];

    private static readonly FrozenDictionary<string, int> ByName =
        Rows.ToFrozenDictionary(r => r.Name, r => r.Offset, StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<int, string> ByOffset =
        Rows.ToFrozenDictionary(r => r.Offset, r => r.Name);

    /// <summary>Every named register, in page order.</summary>
    public static IReadOnlyList<(string Name, int Offset)> All => Rows;

    /// <summary>Looks up a register name (case-insensitive).</summary>
    public static bool TryGetOffset(string name, out int offset) => ByName.TryGetValue(name, out offset);

    /// <summary>The name of the register at <paramref name="offset"/> (a 16-byte aligned slot), or <c>null</c>.</summary>
    public static string? NameOf(int offset) => ByOffset.GetValueOrDefault(offset & 0xFF0);
}
