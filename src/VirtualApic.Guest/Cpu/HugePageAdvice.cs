// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.InteropServices;

namespace VirtualApic.Guest.Cpu;

/// <summary>
/// Asks Linux to back guest RAM with transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>). A guest
/// that touches all its RAM (kvm-unit-tests' x2apic run touches most of its 128 MiB) otherwise takes
/// one host page fault per 4 KiB page on first touch; with 2 MiB pages, one per 512. Advice only: where
/// the kernel does not allow it (THP off) or elsewhere than Linux, nothing changes.
/// </summary>
internal static partial class HugePageAdvice
{
    private const int MadvHugePage = 14; // linux/mman.h
    private const long HugePage = 2 << 20;

    /// <summary>Advises the whole 2 MiB pages inside <paramref name="ram"/>, which must not move (pinned heap).</summary>
    public static void Advise(byte[] ram)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        long start = Marshal.UnsafeAddrOfPinnedArrayElement(ram, 0);
        long first = (start + HugePage - 1) & ~(HugePage - 1);
        long end = (start + ram.LongLength) & ~(HugePage - 1);
        if (end <= first)
        {
            return; // no whole 2 MiB page inside
        }

        try
        {
            _ = Madvise((nint)first, (nuint)(end - first), MadvHugePage);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // A libc without madvise: the advice is an optimization only.
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
