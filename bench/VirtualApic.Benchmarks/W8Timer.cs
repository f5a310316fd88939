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
/// advances the virtual clock 1000 times by one period each; one operation = one advance crossing
/// one expiry. (One long advance would not do: the expiries of a single advance cannot be told apart
/// and are counted and delivered once, in O(1).) The guest does not take or EOI: the vector stays in
/// IRR and later expiries coalesce into it, so this measures the expiry path (clock queue, re-arm,
/// LVT delivery into IRR), not interrupt handling.
/// </summary>
[MemoryDiagnoser]
public class W8Timer
{
    private const int Ticks = 1000;
    private const long PeriodNs = 1000;

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
        // Counted by the timer: expiries that find an injection still pending coalesce into it and
        // raise no new kick (KVM's pending_timer), so the vCPU's kick count is not the tick count.
        long expirations = apic.Timer.Expirations;
        OneMillisecond();
        long ticks = apic.Timer.Expirations - expirations;
        Guest.Check(ticks == Ticks, "1000 expiries in 1000 one-period advances (got " + ticks + ")");
        JitWarmup.UntilQuiet(() => OneMillisecond());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    [Benchmark(OperationsPerInvoke = Ticks)]
    public long OneMillisecond()
    {
        var clock = _vm.Clock;
        for (int i = 0; i < Ticks; i++)
        {
            clock.Advance(PeriodNs);
        }

        return clock.NowNs;
    }
}
