// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// AVIC_INCOMPLETE_IPI with TARGET_NOT_RUNNING: the handler kicks the IPI's targets (KVM
/// <c>avic_kick_target_vcpus</c>), looking up only the table slots a physical or x2APIC logical
/// destination or an xAPIC logical destination's table entries name (<c>avic_kick_target_vcpus_fast</c>),
/// every vCPU otherwise, and kicks the same vCPUs either way.
/// </summary>
public class AvicKickTargetsTests
{
    private const uint IcrMsr = 0x830;

    public static TheoryData<ulong, int, int[]> Destinations() => new()
    {
        { (40ul << 32) | 0x51, 1, [40] },                                     // physical: slot 40
        { ((2ul << 16 | 0b101) << 32) | 0x800 | 0x51, 2, [32, 34] },          // x2APIC logical: cluster 2, bits 0 and 2
        { (0xFFFF_FFFFul << 32) | 0x51, 64, [.. Enumerable.Range(0, 64)] },   // the physical broadcast, the sender included
        { 0x000C_0000ul | 0x51, 64, [.. Enumerable.Range(1, 63)] },           // all excluding self
    };

    [Theory]
    [MemberData(nameof(Destinations))]
    public void Waking_halted_targets_looks_up_only_the_slots_the_destination_names(ulong icr, int lookups, int[] kicked)
    {
        using var vm = HaltedX2Avic(64, halted: i => i != 0, out var tracer);
        var sender = vm.Vcpus[0];
        var peers = new CountingPeers(vm);
        sender.Dispatcher.Peers = peers;
        long[] kicks = [.. vm.Vcpus.Select(v => v.Kicks)];

        Assert.True(sender.TryWriteMsr(IcrMsr, icr));

        Assert.Equal([(0, ExitReason.AvicIncompleteIpi, (int)AvicIpiFailure.TargetNotRunning, true)], tracer.Exits.Where(e => e.Vcpu == 0));
        Assert.Equal(lookups, peers.ApicLookups);
        Assert.Equal(kicked, Enumerable.Range(0, 64).Where(i => vm.Vcpus[i].Kicks > kicks[i]));
    }

    [Fact]
    public void The_kicked_vcpus_are_every_vcpu_the_ipi_reaches()
    {
        // KVM's slow path, from first principles: every enabled vCPU the destination matches.
        var destination = Gen.Frequency(
            (4, Gen.ULong[0, 40].Select(id => id << 32)),
            (3, Gen.Select(Gen.ULong[0, 2], Gen.Frequency((3, Gen.ULong[1, 0xFF]), (1, Gen.ULong[0, 0xFFFF])), (cluster, bits) => (((cluster << 16) | bits) << 32) | 0x800)),
            (1, Gen.Const(0xFFFF_FFFFul << 32)),
            (1, Gen.ULong[1, 3].Select(shorthand => shorthand << 18)));
        Gen.Select(Gen.Int[2, 40], Gen.ULong, destination, Gen.Int[0, 39]).Sample((cpus, haltedBits, icr, from) =>
        {
            int source = from % cpus;
            using var vm = HaltedX2Avic(cpus, halted: i => i != source && ((haltedBits >> (i & 63)) & 1) != 0, out var tracer);
            var sender = vm.Vcpus[source];
            long[] kicks = [.. vm.Vcpus.Select(v => v.Kicks)];

            Assert.True(sender.TryWriteMsr(IcrMsr, icr | 0x51));

            if (!tracer.Exits.Contains((source, ExitReason.AvicIncompleteIpi, (int)AvicIpiFailure.TargetNotRunning, true)))
            {
                return; // every target ran (a doorbell each), or the IPI was emulated (an invalid target)
            }

            var message = InterruptMessage.FromIcr(new Icr(icr | 0x51), sender.Apic);
            IVcpuPeers peers = vm;
            var reached = Enumerable.Range(0, cpus).Where(i => peers.MatchesDestination(vm.Vcpus[i].Apic, message, sender.Apic));
            Assert.Equal(reached, Enumerable.Range(0, cpus).Where(i => vm.Vcpus[i].Kicks > kicks[i]));
        });
    }

    public static TheoryData<bool, uint, int, int[]> XApicLogicalDestinations() => new()
    {
        { true, 0b1001_0010, 3, [1, 4, 7] },          // flat: bits 1, 4 and 7 name slots 1, 4 and 7
        { false, 0x25, 2, [8, 10] },                  // cluster 2, bits 0 and 2: entries 8 and 10
        { true, 0xFE, 7, [.. Enumerable.Range(1, 7)] }, // flat, every bit but the sender's: seven entries
    };

    [Theory]
    [MemberData(nameof(XApicLogicalDestinations))]
    public void Waking_halted_xapic_logical_targets_looks_up_only_the_slots_the_logical_table_names(bool flat, uint logical, int lookups, int[] kicked)
    {
        using var vm = HaltedXAvic(64, flat, halted: i => i != 0, out var tracer);
        var sender = vm.Vcpus[0];
        var peers = new CountingPeers(vm);
        sender.Dispatcher.Peers = peers;
        long[] kicks = [.. vm.Vcpus.Select(v => v.Kicks)];

        SendXApicIpi(sender, Icr.Create(0x51, destinationMode: DestinationMode.Logical, destinationHigh: logical << 24));

        Assert.Equal([(0, ExitReason.AvicIncompleteIpi, (int)AvicIpiFailure.TargetNotRunning, true)], tracer.Exits.Where(e => e.Vcpu == 0));
        Assert.Equal(lookups, peers.ApicLookups);
        Assert.Equal(kicked, Enumerable.Range(0, 64).Where(i => vm.Vcpus[i].Kicks > kicks[i]));
    }

    [Fact]
    public void An_xapic_logical_ipi_reaches_and_wakes_every_vcpu_the_bus_reaches()
    {
        // Each vCPU's logical ID: the canonical one-bit ID of its slot (flat: bit i below 8; cluster:
        // bit i % 4 of cluster i / 4), zero (reached by the broadcast alone), or any byte (two bits or
        // a claimed bit alias, which inhibits AVIC). The vCPUs holding the vector afterwards must be the
        // ones the bus reaches, and the exit must kick exactly those (some halted).
        var idKind = Gen.Frequency((12, Gen.Const(0)), (2, Gen.Const(1)), (1, Gen.Const(2)));
        var destination = Gen.Frequency((3, Gen.UInt[0, 0xFF]), (1, Gen.Const(0xFFu)));
        Gen.Select(Gen.Int[2, 40], Gen.Bool, Gen.ULong, Gen.Select(idKind, Gen.UInt[0, 0xFF]).Array[40], destination, Gen.Int[0, 39])
            .Sample((cpus, flat, haltedBits, ids, mda, from) =>
            {
                int source = from % cpus;
                uint LogicalId(int i) => ids[i].Item1 switch
                {
                    0 => CanonicalLogicalId(i, flat),
                    1 => 0,
                    _ => ids[i].Item2,
                };
                using var vm = HaltedXAvic(cpus, flat, LogicalId, halted: i => i != source && ((haltedBits >> i) & 1) != 0, out var tracer);
                var sender = vm.Vcpus[source];
                long[] kicks = [.. vm.Vcpus.Select(v => v.Kicks)];
                var icr = Icr.Create(0x51, destinationMode: DestinationMode.Logical, destinationHigh: mda << 24);

                SendXApicIpi(sender, icr);

                var message = InterruptMessage.FromIcr(icr, sender.Apic);
                IVcpuPeers peers = vm;
                int[] reached = [.. Enumerable.Range(0, cpus).Where(i => peers.MatchesDestination(vm.Vcpus[i].Apic, message, sender.Apic))];
                Assert.Equal(reached, Enumerable.Range(0, cpus).Where(i => vm.Vcpus[i].Apic.PendingVector() == 0x51));
                if (tracer.Exits.Contains((source, ExitReason.AvicIncompleteIpi, (int)AvicIpiFailure.TargetNotRunning, true)))
                {
                    Assert.Equal(reached, Enumerable.Range(0, cpus).Where(i => vm.Vcpus[i].Kicks > kicks[i]));
                }
            }, iter: 400);
    }

    // An AVIC VM in xAPIC mode, flat or cluster, each vCPU with its slot's canonical logical ID, the
    // chosen vCPUs halted.
    private static VirtualMachine HaltedXAvic(int cpus, bool flat, Func<int, bool> halted, out RecordingTracer tracer) =>
        HaltedXAvic(cpus, flat, i => CanonicalLogicalId(i, flat), halted, out tracer);

    // The same with the logical ID of each vCPU given; a halted vCPU has IF set, as an idle one has.
    private static VirtualMachine HaltedXAvic(int cpus, bool flat, Func<int, uint> logicalId, Func<int, bool> halted, out RecordingTracer tracer)
    {
        var vm = EnabledVm(AccelKind.Avic, cpus);
        for (int i = 0; i < cpus; i++)
        {
            if (!flat)
            {
                Write(vm.Vcpus[i], ApicOffset.Dfr, 0x0FFF_FFFF);
            }

            Write(vm.Vcpus[i], ApicOffset.Ldr, logicalId(i) << 24);
            if (halted(i))
            {
                vm.Vcpus[i].Sti();
                vm.Vcpus[i].Hlt();
            }
        }

        tracer = new RecordingTracer();
        vm.Tracer = tracer;
        return vm;
    }

    // The one-bit logical ID of slot i: flat, bit i (below 8); cluster, bit i % 4 of cluster i / 4
    // (below 60); zero beyond.
    private static uint CanonicalLogicalId(int i, bool flat) =>
        flat ? (i < 8 ? 1u << i : 0) : (i < 60 ? ((uint)(i / 4) << 4) | (1u << (i % 4)) : 0);

    // An x2AVIC VM with every vCPU in x2APIC mode and the chosen ones halted (AVIC IsRunning clear).
    private static VirtualMachine HaltedX2Avic(int cpus, Func<int, bool> halted, out RecordingTracer tracer)
    {
        var vm = EnabledVm(AccelKind.X2Avic, cpus);
        EnterX2Apic(vm);
        for (int i = 0; i < cpus; i++)
        {
            if (halted(i))
            {
                vm.Vcpus[i].Hlt();
            }
        }

        tracer = new RecordingTracer();
        vm.Tracer = tracer;
        return vm;
    }

    // The VM's peers, counting how many vCPUs' APICs the exit handler looks up.
    private sealed class CountingPeers(IVcpuPeers inner) : IVcpuPeers
    {
        public int ApicLookups { get; private set; }

        public int Count => inner.Count;

        public LocalApic Apic(int index)
        {
            ApicLookups++;
            return inner.Apic(index);
        }

        public bool IsInGuestMode(int index) => inner.IsInGuestMode(index);

        public bool IsBlocked(int index) => inner.IsBlocked(index);

        public bool MatchesDestination(LocalApic target, in InterruptMessage message, LocalApic? sender) =>
            inner.MatchesDestination(target, message, sender);
    }
}
