// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtualApic.Fabric;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// A VM's per-vCPU objects are allocated by kind, side by side; a cache line of filler follows each
/// vCPU's objects of a kind, so no line holds objects of two vCPUs, whose threads would both write it.
/// Addresses are read inside a no-GC region, and again after a full compacting collection.
/// </summary>
/// <remarks>
/// The property is checked as it matters (no 64-byte line spans objects of two vCPUs), not as
/// address order: allocation is sequential only within a thread's allocation context, and a new
/// context may lie below the last one, so a vCPU's objects need not all come after the previous
/// vCPU's filler (a CI run saw a timer allocated below it) while no line is shared.
/// </remarks>
public class VcpuObjectLayoutTests
{
    [Fact]
    public void No_cache_line_holds_objects_of_two_vcpus()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 16 });
        AssertNoSharedLine(vm);

        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        AssertNoSharedLine(vm);
    }

    [Fact]
    public void A_filler_is_a_whole_cache_line()
    {
        // 64-bit object layout: header, method table and length, 8 bytes each, then the data.
        Assert.Equal(8, IntPtr.Size);
        Assert.Equal(64, 24 + VirtualMachine.CacheLineFillerLength);
    }

    [Fact]
    public void Object_sizes_are_read_from_the_runtime()
    {
        // The base size the checks below take from the method table: an object with no fields is
        // 24 bytes (header, method table, minimum payload), one with three longs 40.
        Assert.Equal(24, SizeOf(new object()));
        Assert.Equal(40, SizeOf(new ThreeLongs(1, 2, 3)));
    }

    private static void AssertNoSharedLine(VirtualMachine vm)
    {
        Assert.True(GC.TryStartNoGCRegion(16 << 20), "no-GC region");
        try
        {
            var owners = new Dictionary<nint, (int Vcpu, string Type)>();
            for (int i = 0; i < vm.Vcpus.Count; i++)
            {
                foreach (object o in ApicObjects(vm, i).Concat(VcpuObjects(vm, i)))
                {
                    // An object spans its header (8 bytes before its reference) to its base size.
                    nint first = (AddressOf(o) - 8) >> 6, last = (AddressOf(o) - 8 + SizeOf(o) - 1) >> 6;
                    for (nint line = first; line <= last; line++)
                    {
                        if (owners.TryGetValue(line, out var other) && other.Vcpu != i)
                        {
                            Assert.Fail($"vCPU {i}'s {o.GetType().Name} shares a cache line with vCPU {other.Vcpu}'s {other.Type}");
                        }

                        owners[line] = (i, o.GetType().Name);
                    }
                }
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

    private static nint AddressOf(object o) => Unsafe.As<object, nint>(ref o);

    // CoreCLR's method table begins with a 4-byte flags word and the 4-byte base size: the whole
    // size of an object that is not an array or a string (these types are neither).
    private static int SizeOf(object o) => Marshal.ReadInt32(Marshal.ReadIntPtr(AddressOf(o)) + 4);

    private sealed record ThreeLongs(long A, long B, long C);
}
