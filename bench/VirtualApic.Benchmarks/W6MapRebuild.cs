// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Core;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W6 map rebuild, 4096 vCPUs (xAPIC mode, as after RESET). <c>Build</c>: ApicMap.Build over all
/// APICs. <c>LdrChange</c>: the whole cost of one guest LDR write on vCPU 1 (software-enabled,
/// flat logical) until the router has its new map: LocalApic.WriteRegister(LDR), whose
/// Host.ApicMapChanged invalidates the router, rescans the IOAPIC-handled vectors of every vCPU
/// and tells the backend, then router.Map rebuilds.
/// </summary>
[MemoryDiagnoser]
public class W6MapRebuild
{
    private VirtualMachine _vm = null!;
    private LocalApic[] _apics = null!;
    private LocalApic _apic1 = null!;
    private uint _ldr = 0x0100_0000;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = 4096 });
        _apics = [.. _vm.Vcpus.Select(v => v.Apic)];
        _apic1 = _apics[1];
        Guest.EnableXApic(_vm.Vcpus[1]);
        long before = _vm.Router.MapRebuilds;
        LdrChange();
        Guest.Check(_vm.Router.MapRebuilds == before + 1, "one rebuild per LDR change");
        Guest.Check(_vm.Router.Map.LogicalMode == LogicalMapMode.XApicFlat, "flat logical map");
        JitWarmup.UntilQuiet(() => Build(), () => LdrChange(), () => InvalidateAndMap());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    [Benchmark]
    public ApicMap Build() => ApicMap.Build(_apics);

    [Benchmark]
    public ApicMap LdrChange()
    {
        _ldr = _ldr == 0x0100_0000 ? 0x0200_0000u : 0x0100_0000u;
        _apic1.WriteRegister(ApicOffset.Ldr, _ldr);
        return _vm.Router.Map;
    }

    /// <summary>Only the router's part: Invalidate, then Map rebuilds.</summary>
    [Benchmark]
    public ApicMap InvalidateAndMap()
    {
        _vm.Router.Invalidate();
        return _vm.Router.Map;
    }
}
