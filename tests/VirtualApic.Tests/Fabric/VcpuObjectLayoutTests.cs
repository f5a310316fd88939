// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using VirtualApic.Fabric;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// A VM's per-vCPU objects are allocated by kind, side by side; a cache line of filler follows each
/// vCPU's objects of a kind, so no line holds objects of two vCPUs, whose threads would both write it.
/// Addresses are read inside a no-GC region, and again after a full compacting collection.
/// </summary>
public class VcpuObjectLayoutTests
{
    [Fact]
    public void A_filler_line_lies_between_every_two_vcpus_objects_of_a_kind()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 16 });
        AssertSeparated(vm);

        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        AssertSeparated(vm);
    }

    [Fact]
    public void A_filler_is_a_whole_cache_line()
    {
        // 64-bit object layout: header, method table and length, 8 bytes each, then the data.
        Assert.Equal(8, IntPtr.Size);
        Assert.Equal(64, 24 + VirtualMachine.CacheLineFillerLength);
    }

    private static void AssertSeparated(VirtualMachine vm)
    {
        Assert.True(GC.TryStartNoGCRegion(16 << 20), "no-GC region");
        try
        {
            for (int i = 0; i + 1 < vm.Vcpus.Count; i++)
            {
                AssertBetween(ApicObjects(vm, i), vm.FillerAfter(i, vcpuObjects: false), ApicObjects(vm, i + 1));
                AssertBetween(VcpuObjects(vm, i), vm.FillerAfter(i, vcpuObjects: true), VcpuObjects(vm, i + 1));
            }
        }
        finally
        {
            GC.EndNoGCRegion();
        }
    }

    private static object[] ApicObjects(VirtualMachine vm, int i) => [vm.Vcpus[i].Apic, vm.Vcpus[i].Apic.Timer];

    private static object[] VcpuObjects(VirtualMachine vm, int i) =>
        [vm.Vcpus[i], vm.Vcpus[i].Exits, vm.Vcpus[i].Dispatcher, vm.Vcpus[i].PvEoi];

    // The filler spans 64 bytes from 8 before its reference: every object of one vCPU must end before
    // it starts (objects lie in allocation order), and every object of the next start after it ends.
    private static void AssertBetween(object[] before, byte[] filler, object[] after)
    {
        nint f = AddressOf(filler);
        foreach (object o in before)
        {
            Assert.True(AddressOf(o) < f, $"{o.GetType().Name} lies after its vCPU's filler");
        }

        foreach (object o in after)
        {
            Assert.True(AddressOf(o) > f + 56, $"{o.GetType().Name} lies before the previous vCPU's filler ends");
        }
    }

    private static nint AddressOf(object o) => Unsafe.As<object, nint>(ref o);
}
