// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Assist;

/// <summary>Exit counts of one vCPU, by reason (the <c>perf kvm stat</c> view).</summary>
public sealed class ExitStatistics
{
    private static readonly string[] Names =
        ["msr-read", "msr-write", "apic-access", "apic-write", "eoi-induced", "avic-noaccel", "avic-incomplete-ipi", "hlt", "ioapic-eoi", "vmcall"];

    // Held in this object rather than in an array of its own: every exit counts, and an array is one
    // more reference (and cache line) to reach first (docs/performance.md, "Thirteenth session").
    private Counts _counts;

    /// <summary>Every reason, in enum order.</summary>
    public static IReadOnlyList<ExitReason> Reasons { get; } = Enum.GetValues<ExitReason>();

    /// <summary>The name of a reason as scenarios and reports spell it (<c>avic-noaccel</c>).</summary>
    public static string NameOf(ExitReason reason) => Names[(int)reason];

    /// <summary>Parses a reason name.</summary>
    public static bool TryParse(string name, out ExitReason reason)
    {
        int i = Array.FindIndex(Names, n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
        reason = i < 0 ? default : (ExitReason)i;
        return i >= 0;
    }

    /// <summary>The count for one reason.</summary>
    public long this[ExitReason reason] => Volatile.Read(ref _counts[(int)reason]);

    /// <summary>The total of all reasons.</summary>
    public long Total
    {
        get
        {
            long t = 0;
            for (int i = 0; i < Counts.Length; i++)
            {
                t += Volatile.Read(ref _counts[i]);
            }

            return t;
        }
    }

    /// <summary>Counts one exit. Only the vCPU's own thread exits, so a plain increment is enough.</summary>
    public void Count(ExitReason reason) => _counts[(int)reason]++;

    /// <summary>Zeroes every count.</summary>
    public void Clear() => ((Span<long>)_counts).Clear();

    [InlineArray(Length)]
    private struct Counts
    {
        public const int Length = 10; // one per ExitReason (checked by ExitStatisticsTests)

        private long _count;
    }
}
