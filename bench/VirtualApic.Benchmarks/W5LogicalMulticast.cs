// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Cpu;
using VirtualApic.Fabric;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W5 x2APIC logical cluster multicast: 32 vCPUs in x2APIC mode, no backend; vCPU 16 (cluster 1)
/// writes the ICR (fixed, logical, vector 0x70, destination cluster 0 mask 0xFFFF), then the 16
/// members of cluster 0 take, EOI and IRET. One operation = one delivered interrupt (16 per invocation).
/// <see cref="Members"/> = 4 multicasts to the first 4 members only (4 rounds per invocation), to
/// show whether the cost per target is constant.
/// </summary>
[MemoryDiagnoser]
public class W5LogicalMulticast
{
    private const byte Vector = 0x70;

    private VirtualMachine _vm = null!;
    private Vcpu[] _vcpus = null!;
    private ulong _icr;

    /// <summary>Cluster members addressed (mask of the low <c>Members</c> bits).</summary>
    [Params(16, 4)]
    public int Members { get; set; } = 16;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = 32 });
        _vcpus = [.. _vm.Vcpus];
        _icr = ((ulong)((1u << Members) - 1) << 32) | Guest.IcrLogical | Vector;
        foreach (var v in _vcpus)
        {
            Guest.EnterX2Apic(v);
        }

        long slow = _vm.Router.SlowPathDeliveries;
        Guest.Check(Multicast() == 16 * Vector, "all 16 cluster members take the multicast");
        Guest.Check(_vm.Router.SlowPathDeliveries == slow, "multicast resolved by the map (fast path)");
        JitWarmup.UntilQuiet(() => Multicast());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    [Benchmark(OperationsPerInvoke = 16)]
    public int Multicast()
    {
        var vcpus = _vcpus;
        int members = Members;
        int acc = 0;
        for (int round = 0; round < 16 / members; round++)
        {
            vcpus[16].TryWriteMsr(Guest.MsrIcr, _icr);
            for (int i = 0; i < members; i++)
            {
                acc += Guest.TakeAndEoiX2(vcpus[i]);
            }
        }

        return acc;
    }
}
