// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using VirtualApic.Core;
using VirtualApic.Fabric;

namespace VirtualApic.Benchmarks;

/// <summary>
/// The <c>--memory</c> mode: bytes allocated to create a 4096-vCPU VM, per vCPU, with and without
/// the 4 KiB register page, under each backend (GC.GetTotalAllocatedBytes(precise) around the
/// constructor), plus the constructor's wall time.
/// </summary>
public static class MemoryPerVcpu
{
    private const int Cpus = 4096;

    public static int Run()
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine("memory per vCPU, VM of 4096 vCPUs (GC.GetTotalAllocatedBytes around new VirtualMachine)");
        Console.WriteLine("accel    bytes/vCPU  minus-4KiB-page  construct-ms");
        foreach (var accel in new[] { AccelKind.None, AccelKind.Apicv, AccelKind.Avic, AccelKind.X2Avic })
        {
            // Warm up type loading and JIT with a small VM first.
            new VirtualMachine(new VmOptions { Cpus = 2, Accel = accel }).Dispose();
            GC.Collect();
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var sw = Stopwatch.StartNew();
            var vm = new VirtualMachine(new VmOptions { Cpus = Cpus, Accel = accel });
            sw.Stop();
            long after = GC.GetTotalAllocatedBytes(precise: true);
            double perVcpu = (after - before) / (double)Cpus;
            Console.WriteLine(string.Format(inv, "{0,-8} {1,10:F0}  {2,15:F0}  {3,12:F1}", accel.ToString().ToLowerInvariant(), perVcpu, perVcpu - ApicPage.Size, sw.Elapsed.TotalMilliseconds));
            GC.KeepAlive(vm);
            vm.Dispose();
        }

        // Not memory, but found while building W4/W6: every guest APIC_BASE or SVR write is a map
        // change, and each one rescans the IOAPIC-handled vectors of every vCPU (O(pins x vCPUs)), so
        // bringing all vCPUs up is quadratic in their number.
        foreach (int cpus in new[] { 256, 1024, 4096 })
        {
            using var vm = new VirtualMachine(new VmOptions { Cpus = cpus });
            var sw = Stopwatch.StartNew();
            foreach (var v in vm.Vcpus)
            {
                Guest.EnterX2Apic(v);
            }

            sw.Stop();
            Console.WriteLine(string.Format(inv, "bring-up of {0} vCPUs to x2APIC + SVR 0x1FF: {1:F1} ms ({2:F1} us per vCPU)", cpus, sw.Elapsed.TotalMilliseconds, sw.Elapsed.TotalMilliseconds * 1000 / cpus));
        }

        return 0;
    }
}
