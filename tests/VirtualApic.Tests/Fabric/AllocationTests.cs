// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// Hot paths allocate nothing (design principle): a guest sending an IPI that the map resolves
/// (physical unicast, x2APIC cluster multicast), the target taking and EOIing it, and a device
/// MSI. Measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> around a warm loop.
/// </summary>
public class AllocationTests
{
    private const int Warmup = 5_000;
    private const int Iterations = 20_000;

    private static long Measure(int perRound, Func<int> round) => Measure(perRound, round, out _);

    // rounds: how many times round ran (the warm-up and every measured run, retries included).
    private static long Measure(int perRound, Func<int> round, out long rounds)
    {
        int sink = 0;
        for (int i = 0; i < Warmup; i++)
        {
            sink += round();
        }

        // The least of three measured runs: an allocation on the path shows in every run (20 000
        // rounds each), while a one-off allocation by the runtime (tiering under a loaded machine
        // was seen once in a full parallel test run) does not repeat.
        long allocated = long.MaxValue;
        int attempts = 0;
        for (; attempts < 3 && allocated != 0; attempts++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Iterations; i++)
            {
                sink += round();
            }

            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        rounds = Warmup + ((long)attempts * Iterations);
        Assert.Equal(rounds * perRound, sink); // every IPI was taken
        return allocated;
    }

    // A target takes the vector and EOIs it through its own interface. Returns 1 when taken.
    private static int TakeAndEoi(Vcpu target, byte vector, bool x2)
    {
        target.Sti();
        var e = target.Take();
        if (e.Kind != GuestEventKind.Vector || e.Vector != vector)
        {
            return 0;
        }

        if (x2)
        {
            target.TryWriteMsr(0x80B, 0);
        }
        else
        {
            target.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Eoi, 0, 4);
        }

        target.Iret();
        return 1;
    }

    [Fact]
    public void X2apic_physical_unicast_allocates_nothing()
    {
        using var vm = TestGuest.Vm(64, x2Apic: true);
        Vcpu sender = vm.Vcpus[3], target = vm.Vcpus[42];
        ulong icr = (42ul << 32) | 0x45;
        long slow = vm.Router.SlowPathDeliveries;
        long allocated = Measure(
            1,
            () =>
            {
                sender.TryWriteMsr(0x830, icr);
                return TakeAndEoi(target, 0x45, x2: true);
            },
            out long rounds);
        Assert.Equal(0, allocated);
        Assert.Equal(slow, vm.Router.SlowPathDeliveries); // every round took the map's fast path
    }

    [Fact]
    public void Xapic_physical_unicast_through_mmio_allocates_nothing()
    {
        using var vm = TestGuest.Vm(8, x2Apic: false);
        Vcpu sender = vm.Vcpus[0], target = vm.Vcpus[5];
        long allocated = Measure(1, () =>
        {
            sender.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Icr2, 5u << 24, 4);
            sender.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Icr, 0x46, 4);
            return TakeAndEoi(target, 0x46, x2: false);
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void X2apic_cluster_multicast_to_16_allocates_nothing()
    {
        using var vm = TestGuest.Vm(64, x2Apic: true);
        var sender = vm.Vcpus[0];
        ulong icr = ((2ul << 16 | 0xFFFF) << 32) | (1ul << 11) | 0x47; // logical, cluster 2 = IDs 32..47
        long slowBefore = vm.Router.SlowPathDeliveries;
        long allocated = Measure(16, () =>
        {
            sender.TryWriteMsr(0x830, icr);
            int taken = 0;
            for (int id = 32; id < 48; id++)
            {
                taken += TakeAndEoi(vm.Vcpus[id], 0x47, x2: true);
            }

            return taken;
        });
        Assert.Equal(0, allocated);
        Assert.Equal(slowBefore, vm.Router.SlowPathDeliveries);
    }

    [Fact]
    public void Unicast_in_a_4096_vcpu_vm_allocates_nothing()
    {
        using var vm = TestGuest.Vm(4096, x2Apic: true);
        Vcpu sender = vm.Vcpus[0], target = vm.Vcpus[4095];
        ulong icr = (4095ul << 32) | 0x48;
        long allocated = Measure(1, () =>
        {
            sender.TryWriteMsr(0x830, icr);
            return TakeAndEoi(target, 0x48, x2: true);
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Device_msi_allocates_nothing()
    {
        using var vm = TestGuest.Vm(8, x2Apic: true);
        var target = vm.Vcpus[6];
        ulong address = Msi.EncodeAddress(6);
        long allocated = Measure(1, () =>
        {
            vm.DeliverMsi(address, 0x49);
            return TakeAndEoi(target, 0x49, x2: true);
        });
        Assert.Equal(0, allocated);
    }
}
