// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using System.Runtime.InteropServices;

namespace VirtualApic.Benchmarks;

/// <summary>
/// Pins the calling thread to one CPU (Linux <c>sched_setaffinity(0, ...)</c>: 0 names the calling
/// thread, not the process). A process the thread starts afterwards inherits the pin (fork keeps the
/// forking thread's mask, exec keeps it), which is how SpellCanary places the floor it reads and the
/// benchmark process BenchmarkDotNet starts next.
/// </summary>
internal static partial class ThreadAffinity
{
    /// <summary>Pins the calling thread to <paramref name="cpu"/>; throws with the reason when Linux refuses.</summary>
    public static void PinCurrentThread(int cpu)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("pinning a thread to a CPU is implemented for Linux only");
        }

        if (cpu is < 0 or > 63)
        {
            throw new ArgumentOutOfRangeException(nameof(cpu), cpu, "a CPU number from 0 to 63");
        }

        ulong mask = 1UL << cpu;
        if (SchedSetAffinity(0, sizeof(ulong), ref mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity to CPU {cpu} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// The CPUs the calling thread may run on (Linux <c>sched_getaffinity(0, ...)</c>), lowest first;
    /// empty where the set cannot be read (not Linux, or a CPU above 63).
    /// </summary>
    public static int[] AllowedCpus()
    {
        ulong mask = 0;
        if (!OperatingSystem.IsLinux() || SchedGetAffinity(0, sizeof(ulong), ref mask) < 0)
        {
            return [];
        }

        int[] cpus = new int[BitOperations.PopCount(mask)];
        for (int i = 0; mask != 0; i++, mask &= mask - 1)
        {
            cpus[i] = BitOperations.TrailingZeroCount(mask);
        }

        return cpus;
    }

    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int SchedGetAffinity(int pid, nuint size, ref ulong mask);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nuint size, ref ulong mask);
}
