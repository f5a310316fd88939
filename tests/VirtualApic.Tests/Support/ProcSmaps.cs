// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;

namespace VirtualApic.Tests.Support;

/// <summary>
/// What Linux says about this process's mappings (proc(5), <c>/proc/self/smaps</c>), for the tests
/// that check memory advice: the register-page block's here, guest RAM's in the guest tests, which
/// compile this file in too.
/// </summary>
internal static class ProcSmaps
{
    /// <summary>The VmFlags of the mapping that holds <paramref name="address"/> ("hg": advised for huge pages).</summary>
    public static string[] VmFlagsAt(long address)
    {
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && long.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long from)
                && long.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long to))
            {
                inside = address >= from && address < to;
            }
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                return line["VmFlags:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        throw new InvalidOperationException($"no mapping holds 0x{address:X} in /proc/self/smaps");
    }
}
