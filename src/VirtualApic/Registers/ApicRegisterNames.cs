// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Frozen;

namespace VirtualApic.Registers;

/// <summary>
/// The register names of the scenario language and of the tools (<c>ID</c>, <c>ISR3</c>,
/// <c>LVT_TIMER</c>, ...) and their page offsets.
/// </summary>
public static class ApicRegisterNames
{
    private static readonly (string Name, int Offset)[] Rows = BuildRows();

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

    private static (string, int)[] BuildRows()
    {
        var rows = new List<(string, int)>
        {
            ("ID", ApicOffset.Id), ("VER", ApicOffset.Version), ("TPR", ApicOffset.Tpr), ("APR", ApicOffset.Apr),
            ("PPR", ApicOffset.Ppr), ("EOI", ApicOffset.Eoi), ("RRD", ApicOffset.Rrd), ("LDR", ApicOffset.Ldr),
            ("DFR", ApicOffset.Dfr), ("SVR", ApicOffset.Svr),
        };
        for (int i = 0; i < 8; i++)
        {
            rows.Add(($"ISR{i}", ApicOffset.Isr + (0x10 * i)));
        }

        for (int i = 0; i < 8; i++)
        {
            rows.Add(($"TMR{i}", ApicOffset.Tmr + (0x10 * i)));
        }

        for (int i = 0; i < 8; i++)
        {
            rows.Add(($"IRR{i}", ApicOffset.Irr + (0x10 * i)));
        }

        rows.AddRange(
        [
            ("ESR", ApicOffset.Esr), ("LVT_CMCI", ApicOffset.LvtCmci), ("ICR", ApicOffset.Icr), ("ICR2", ApicOffset.Icr2),
            ("LVT_TIMER", ApicOffset.LvtTimer), ("LVT_THERMAL", ApicOffset.LvtThermal), ("LVT_PMC", ApicOffset.LvtPmc),
            ("LVT_LINT0", ApicOffset.LvtLint0), ("LVT_LINT1", ApicOffset.LvtLint1), ("LVT_ERROR", ApicOffset.LvtError),
            ("TMICT", ApicOffset.Tmict), ("TMCCT", ApicOffset.Tmcct), ("TDCR", ApicOffset.Tdcr), ("SELF_IPI", ApicOffset.SelfIpi),
        ]);
        return [.. rows];
    }
}
