// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.InteropServices;

namespace VirtualApic.Core;

/// <summary>
/// Asks Linux to back a range with transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>): what a
/// large VM's register pages get, so that a walk over thousands of them (a broadcast, a map rebuild)
/// does not miss the TLB on every target (docs/performance.md, "Thirty-sixth session").
/// </summary>
/// <remarks>
/// Advice only: on another OS, a kernel without THP, or a range the kernel refuses, nothing changes
/// and the memory stays as it was. With THP in its usual <c>madvise</c> mode the advice is what makes
/// the kernel give huge pages at all; it applies to pages faulted after it, so callers advise before
/// they first touch the range.
/// </remarks>
internal static partial class HugePageAdvice
{
    /// <summary>The x86-64 huge page: 2 MiB.</summary>
    public const int Size = 2 << 20;

    private const int MadvHugePage = 14; // the same value on every Linux architecture (asm-generic/mman-common.h)

    /// <summary>
    /// Advises the whole 2 MiB pages inside [<paramref name="start"/>, <paramref name="start"/> +
    /// <paramref name="length"/>): a partial one would be made resident whole. Returns the bytes the
    /// kernel took the advice for: 0 when no whole page lies inside, or the advice was refused.
    /// </summary>
    public static nint Advise(nint start, nint length)
    {
        nint first = (start + Size - 1) & ~(nint)(Size - 1);
        nint end = (start + length) & ~(nint)(Size - 1);
        if (!OperatingSystem.IsLinux() || end <= first)
        {
            return 0;
        }

        try
        {
            return Madvise(first, (nuint)(end - first), MadvHugePage) == 0 ? end - first : 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 0;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
