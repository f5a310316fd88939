// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W8 timer: one vCPU, architectural profile (no 200 us minimum period), bus 1000 MHz, LVT timer
/// periodic vector 0xEC, TDCR 0xB (divide by 1), TMICT 1000: a 1 us period, 1 MHz. One invocation
/// advances the virtual clock by 1 s (1 000 000 expiries); one operation = one tick. The guest does
/// not take or EOI: the vector stays in IRR and later expiries coalesce into it, so this measures the
/// expiry path (clock queue, re-arm, LVT delivery into IRR, kick), not interrupt handling.
/// </summary>
[MemoryDiagnoser]
public class W8Timer
{
    private const int Ticks = 1_000_000;

    private VirtualMachine _vm = null!;
    private Vcpu _vcpu = null!;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = 1, Profile = ApicProfile.Architectural, BusMhz = 1000 });
        _vcpu = _vm.Vcpus[0];
        Guest.EnableXApic(_vcpu);
        var apic = _vcpu.Apic;
        apic.WriteRegister(ApicOffset.LvtTimer, (1u << 17) | 0xEC);
        apic.WriteRegister(ApicOffset.Tdcr, 0xB);
        apic.WriteRegister(ApicOffset.Tmict, 1000);
        long kicks = _vcpu.Kicks;
        _vm.Clock.Advance(1_000_000); // 1 ms
        Guest.Check(_vcpu.Kicks - kicks == 1000, "1000 expiries in 1 ms (got " + (_vcpu.Kicks - kicks) + ")");
        JitWarmup.UntilQuiet(() => OneSecond());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    [Benchmark(OperationsPerInvoke = Ticks)]
    public long OneSecond()
    {
        _vm.Clock.Advance(1_000_000_000);
        return _vm.Clock.NowNs;
    }
}
