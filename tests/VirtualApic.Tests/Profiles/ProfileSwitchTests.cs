// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Profiles;

/// <summary>Every documented difference between the kvm and architectural profiles, shown both ways.</summary>
public class ProfileSwitchTests
{
    private static LocalApic Apic(ApicProfile profile, ApicMode mode = ApicMode.XApic, VirtualClock? clock = null) =>
        TestApic.Create(mode, new ApicConfig { Profile = profile }, clock: clock);

    private static string Hex(uint value) => value.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>
    /// One probe per switch: the same guest-visible experiment run under a profile, reduced to a
    /// string. Each row gives the outcome under kvm and under architectural.
    /// </summary>
    private static readonly Dictionary<string, (Func<ApicProfile, string> Probe, string Kvm, string Architectural)> Probes = new()
    {
        [nameof(ApicProfile.X2ApicEoiNonZeroFaults)] = (p =>
        {
            var apic = Apic(p, ApicMode.X2Apic);
            apic.PutInService(0x51);
            bool ok = apic.TryWriteX2ApicMsr(0x80B, 1);
            bool zeroOk = apic.TryWriteX2ApicMsr(0x80B, 0);
            return $"nonzero {ok} zero {zeroOk} in-service {apic.IsrHas(0x51)}";
        }, "nonzero True zero True in-service False", "nonzero False zero True in-service False"),

        [nameof(ApicProfile.EsrRecordsErrors)] = (p =>
        {
            var apic = Apic(p);
            apic.MmioWrite(ApicOffset.LvtError, 0xE3, 4);
            _ = apic.MmioRead(0x10, 4); // a reserved slot: illegal register address
            apic.MmioWrite(ApicOffset.Esr, 0, 4);
            return $"esr {Hex(apic.Read(ApicOffset.Esr))} lvt-error {apic.IrrHas(0xE3)}";
        }, "esr 0 lvt-error False", "esr 80 lvt-error True"),

        [nameof(ApicProfile.RejectsIllegalVectors)] = (p =>
        {
            var apic = Apic(p);
            bool received = apic.Raise(5);
            apic.MmioWrite(ApicOffset.Icr, (uint)Icr.Create(3, shorthand: DestinationShorthand.Self).Raw, 4);
            apic.MmioWrite(ApicOffset.Esr, 0, 4);
            return $"received {received} irr5 {apic.IrrHas(5)} sent {apic.Host().Ipis.Count} irr3 {apic.IrrHas(3)} esr {Hex(apic.Read(ApicOffset.Esr))}";
        }, "received True irr5 True sent 1 irr3 True esr 0", "received False irr5 False sent 0 irr3 False esr 60"),

        // Arbitration happens in the interrupt fabric, which this branch does not contain; the core
        // only carries the setting. These two rows pin the documented values.
        [nameof(ApicProfile.LowestPriority)] = (p => p.LowestPriority.ToString(), "VectorHashing", "ProcessorPriority"),
        [nameof(ApicProfile.DeviceBroadcastQuirk)] = (p => p.DeviceBroadcastQuirk.ToString(), "True", "False"),

        [nameof(ApicProfile.LvtStatusBitsWritable)] = (p =>
        {
            var apic = Apic(p);
            apic.MmioWrite(ApicOffset.LvtLint0, Lvt.DeliveryStatusBit | Lvt.RemoteIrrBit | 0x31, 4);
            apic.MmioWrite(ApicOffset.LvtTimer, Lvt.DeliveryStatusBit | 0x32, 4);
            return $"lint0 {Hex(apic.Read(ApicOffset.LvtLint0))} timer {Hex(apic.Read(ApicOffset.LvtTimer))}";
        }, "lint0 5031 timer 1032", "lint0 31 timer 32"),

        [nameof(ApicProfile.ArbitrationPriorityReadsZero)] = (p =>
        {
            var apic = Apic(p);
            apic.SetTpr(0x20);
            apic.Raise(0x45);
            uint withIrr = apic.Read(ApicOffset.Apr);
            apic.SetTpr(0x5A);
            return $"{Hex(withIrr)} {Hex(apic.Read(ApicOffset.Apr))}";
        }, "0 0", "40 5a"),

        [nameof(ApicProfile.PeriodicTimerMinimumNs)] = (p =>
        {
            var clock = new VirtualClock();
            var apic = Apic(p, clock: clock);
            apic.MmioWrite(ApicOffset.LvtTimer, 0x2_0040, 4);
            apic.MmioWrite(ApicOffset.Tdcr, 0xB, 4);
            apic.MmioWrite(ApicOffset.Tmict, 1000, 4);
            clock.Advance(400_000);
            return $"period {apic.Timer.PeriodNs} expiries {apic.Timer.Expirations}";
        }, "period 200000 expiries 2", "period 1000 expiries 400"),

        [nameof(ApicProfile.HardwareDisableResetsApic)] = (p =>
        {
            var apic = Apic(p);
            apic.MmioWrite(ApicOffset.Tpr, 0x30, 4);
            apic.MmioWrite(ApicOffset.LvtLint1, 0x42, 4);
            apic.PutInService(0x61);
            apic.SetApicBase(TestApic.DisabledBase | ApicBase.BspBit, false);
            apic.SetApicBase(TestApic.XApicBase | ApicBase.BspBit, false);
            return $"tpr {Hex(apic.Read(ApicOffset.Tpr))} lint1 {Hex(apic.Read(ApicOffset.LvtLint1))} svr {Hex(apic.Read(ApicOffset.Svr))} isr {apic.IsrHas(0x61)}";
        }, "tpr 30 lint1 42 svr 1ff isr True", "tpr 0 lint1 10000 svr ff isr False"),

        [nameof(ApicProfile.Lint0ExtIntAtReset)] = (p =>
        {
            var bsp = new LocalApic(0, true, new ApicConfig { Profile = p }, new VirtualClock());
            var ap = new LocalApic(1, false, new ApicConfig { Profile = p }, new VirtualClock());
            return $"bsp {Hex(bsp.Page.Read(ApicOffset.LvtLint0))} ap {Hex(ap.Page.Read(ApicOffset.LvtLint0))}";
        }, "bsp 700 ap 10000", "bsp 10000 ap 10000"),
        [nameof(ApicProfile.LogicalEventsReachDisabledApics)] = (p =>
        {
            // A logical NMI to a software-disabled xAPIC-mode APIC (SDM 11.4.7.2).
            using var vm = new VirtualApic.Fabric.VirtualMachine(new VirtualApic.Fabric.VmOptions { Cpus = 2, Profile = p });
            vm.Vcpus[0].MmioWrite(0xFEE0_00F0, 0x1FF, 4);
            vm.Vcpus[1].MmioWrite(0xFEE0_00D0, 0x0200_0000, 4);
            vm.Vcpus[0].MmioWrite(0xFEE0_0310, 0x0200_0000, 4);
            vm.Vcpus[0].MmioWrite(0xFEE0_0300, 0x4C00, 4);
            return vm.Vcpus[1].NmiQueued == 1 ? "nmi" : "none";
        }, "none", "nmi"),

        [nameof(ApicProfile.LogicalMapShortcuts)] = (p =>
        {
            // x2APIC logical cluster 0 bit 0 names physical slot 0, held by xAPIC-mode vCPU 0 (LDR 0).
            using var mixed = new VirtualApic.Fabric.VirtualMachine(new VirtualApic.Fabric.VmOptions { Cpus = 2, Profile = p });
            mixed.Vcpus[0].MmioWrite(0xFEE0_00F0, 0x1FF, 4);
            Assert.True(mixed.Vcpus[1].TryWriteMsr(0x1B, 0xFEE0_0C00));
            Assert.True(mixed.Vcpus[1].TryWriteMsr(0x80F, 0x1FF));
            Assert.True(mixed.Vcpus[1].TryWriteMsr(0x830, (1ul << 32) | 0x851));
            bool slot = mixed.Vcpus[0].Apic.Page.TestVector(ApicOffset.Irr, 0x51);

            // vCPU 1's DFR model 0101b is reserved; vCPU 0 is in cluster mode.
            using var dfr = new VirtualApic.Fabric.VirtualMachine(new VirtualApic.Fabric.VmOptions { Cpus = 2, Profile = p });
            dfr.Vcpus[0].MmioWrite(0xFEE0_00F0, 0x1FF, 4);
            dfr.Vcpus[1].MmioWrite(0xFEE0_00F0, 0x1FF, 4);
            dfr.Vcpus[0].MmioWrite(0xFEE0_00E0, 0x0FFF_FFFF, 4);
            dfr.Vcpus[1].MmioWrite(0xFEE0_00E0, 0x5FFF_FFFF, 4);
            dfr.Vcpus[0].MmioWrite(0xFEE0_00D0, 0x1100_0000, 4);
            dfr.Vcpus[1].MmioWrite(0xFEE0_00D0, 0x2100_0000, 4);
            dfr.Vcpus[0].MmioWrite(0xFEE0_0310, 0x2100_0000, 4);
            dfr.Vcpus[0].MmioWrite(0xFEE0_0300, 0x852, 4);
            bool reserved = dfr.Vcpus[1].Apic.Page.TestVector(ApicOffset.Irr, 0x52);
            return $"x2-slot {slot} dfr-reserved {reserved}";
        }, "x2-slot True dfr-reserved True", "x2-slot False dfr-reserved False"),

        [nameof(ApicProfile.X2ApicReservedBitsFault)] = (p =>
        {
            var apic = Apic(p, ApicMode.X2Apic);
            bool tpr = apic.TryWriteX2ApicMsr(0x808, 0x120);
            bool tdcr = apic.TryWriteX2ApicMsr(0x83E, 0xF);
            bool lint0 = apic.TryWriteX2ApicMsr(0x835, 0x1_0000 | (1u << 20));
            return $"tpr {tpr} {Hex(apic.Read(ApicOffset.Tpr))} tdcr {tdcr} {Hex(apic.Read(ApicOffset.Tdcr))} lint0 {lint0}";
        }, "tpr True 20 tdcr True b lint0 True", "tpr False 0 tdcr False 0 lint0 False"),

        [nameof(ApicProfile.RemoteReadUnhalts)] = (p =>
        {
            // KVM_HC_KICK_CPU from vCPU 0 to halted vCPU 1, then vCPU 1 looks for work.
            using var vm = new VirtualApic.Fabric.VirtualMachine(new VirtualApic.Fabric.VmOptions { Cpus = 2, Profile = p });
            vm.Vcpus[1].Hlt();
            long result = vm.Vcpus[0].Hypercall(Vcpu.KvmHcKickCpu, 0, 1);
            var e = vm.Vcpus[1].Take();
            return $"{result} {e.Kind} {vm.Vcpus[1].State}";
        }, "0 None Running", "0 None Halted"),
    };

    public static TheoryData<string> Switches()
    {
        var data = new TheoryData<string>();
        foreach (var s in ProfileSwitches.All)
        {
            data.Add(s.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Switches))]
    public void Each_documented_switch_behaves_one_way_under_kvm_and_the_other_under_architectural(string name)
    {
        Assert.True(Probes.TryGetValue(name, out var row), $"no behaviour test for switch {name}");
        Assert.Equal(row.Kvm, row.Probe(ApicProfile.Kvm));
        Assert.Equal(row.Architectural, row.Probe(ApicProfile.Architectural));
        Assert.NotEqual(row.Kvm, row.Architectural);
    }

    [Fact]
    public void The_switch_table_lists_exactly_the_profile_properties_that_differ()
    {
        var differing = typeof(ApicProfile).GetProperties()
            .Where(p => p.Name != nameof(ApicProfile.Name))
            .Where(p => !Equals(p.GetValue(ApicProfile.Kvm), p.GetValue(ApicProfile.Architectural)))
            .Select(p => p.Name)
            .Order(StringComparer.Ordinal);
        Assert.Equal(differing, ProfileSwitches.All.Select(s => s.Name).Order(StringComparer.Ordinal));
        Assert.Equal(ProfileSwitches.All.Count, Probes.Count);
    }

    [Fact]
    public void Every_switch_row_is_documented_with_both_behaviours_and_sources()
    {
        Assert.All(ProfileSwitches.All, s =>
        {
            Assert.False(string.IsNullOrWhiteSpace(s.Kvm));
            Assert.False(string.IsNullOrWhiteSpace(s.Architectural));
            Assert.Contains("SDM", s.Sources, StringComparison.Ordinal);
        });
    }

    [Theory]
    [InlineData("kvm", true, "kvm")]
    [InlineData("KVM", true, "kvm")]
    [InlineData("Architectural", true, "architectural")]
    [InlineData("hyper-v", false, "kvm")]
    [InlineData("", false, "kvm")]
    public void Profiles_parse_by_name(string text, bool ok, string name)
    {
        Assert.Equal(ok, ApicProfile.TryParse(text, out var profile));
        Assert.Equal(name, profile.Name);
    }

    [Fact]
    public void Architectural_sets_remote_irr_on_a_level_lint_delivery_until_the_eoi()
    {
        var vcpu = new Vcpu(1, new ApicConfig { Profile = ApicProfile.Architectural }, new VirtualClock());
        var apic = vcpu.Apic;
        apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled);
        apic.MmioWrite(ApicOffset.LvtLint0, Lvt.LevelBit | 0x31, 4);

        vcpu.SetLint(0, true);
        Assert.Equal(Lvt.LevelBit | Lvt.RemoteIrrBit | 0x31u, apic.Read(ApicOffset.LvtLint0));
        Assert.Equal(0x31, apic.Acknowledge());
        vcpu.SetLint(0, true); // still asserted: remote IRR holds it off
        Assert.False(apic.IrrHas(0x31));

        Assert.Equal(0x31, apic.EndOfInterrupt().Vector);
        Assert.Equal(Lvt.LevelBit | 0x31u, apic.Read(ApicOffset.LvtLint0));
        vcpu.SetLint(0, true);
        Assert.True(apic.IrrHas(0x31));
    }

    [Fact]
    public void Kvm_never_sets_remote_irr_itself()
    {
        var vcpu = new Vcpu(1, new ApicConfig { Profile = ApicProfile.Kvm }, new VirtualClock());
        var apic = vcpu.Apic;
        apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled);
        apic.MmioWrite(ApicOffset.LvtLint0, Lvt.LevelBit | 0x31, 4);
        vcpu.SetLint(0, true);
        Assert.True(apic.IrrHas(0x31));
        Assert.Equal(Lvt.LevelBit | 0x31u, apic.Read(ApicOffset.LvtLint0));
    }
}
