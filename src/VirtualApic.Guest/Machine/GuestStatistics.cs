// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text;

namespace VirtualApic.Guest.Machine;

/// <summary>Per-vCPU counters of a run (for <c>--stats</c>).</summary>
public sealed class GuestStatistics
{
    private readonly long[] _interrupts;
    private readonly long[] _nmis;
    private readonly long[] _slices;
    private readonly long[] _halts;

    internal GuestStatistics(int cpus)
    {
        _interrupts = new long[cpus];
        _nmis = new long[cpus];
        _slices = new long[cpus];
        _halts = new long[cpus];
    }

    /// <summary>Times the clock jumped over idle time.</summary>
    public long IdleSkips { get; internal set; }

    /// <summary>Virtual nanoseconds skipped while every vCPU was idle.</summary>
    public long IdleSkippedNs { get; internal set; }

    internal void CountInterrupt(int cpu) => _interrupts[cpu]++;

    internal void CountNmi(int cpu) => _nmis[cpu]++;

    internal void CountSlice(int cpu) => _slices[cpu]++;

    internal void CountHalt(int cpu) => _halts[cpu]++;

    /// <summary>Interrupts (maskable) taken by vCPU <paramref name="cpu"/>.</summary>
    public long Interrupts(int cpu) => _interrupts[cpu];

    /// <summary>NMIs taken by vCPU <paramref name="cpu"/>.</summary>
    public long Nmis(int cpu) => _nmis[cpu];

    /// <summary>Scheduling slices given to vCPU <paramref name="cpu"/>.</summary>
    public long Slices(int cpu) => _slices[cpu];

    /// <summary>One line per vCPU.</summary>
    public string Format()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < _slices.Length; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"cpu{i}: slices {_slices[i]}, interrupts {_interrupts[i]}, nmis {_nmis[i]}, halts {_halts[i]}\n");
        }

        sb.Append(CultureInfo.InvariantCulture, $"idle skips {IdleSkips} ({IdleSkippedNs} ns)");
        return sb.ToString();
    }
}
