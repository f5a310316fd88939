// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>The <c>vm</c> line: defaults and every option.</summary>
public class VmLineTests
{
    [Fact]
    public void A_bare_vm_line_has_the_contract_defaults()
    {
        var vm = ScenarioAssert.Parses("vm\n").Vm;
        Assert.Equal(1, vm.Cpus);
        Assert.Equal(AccelKind.None, vm.Accel);
        Assert.Equal(ApicProfile.Kvm, vm.Profile);
        Assert.Equal(2_000_000, vm.TscKhz);
        Assert.Equal(1000, vm.BusMhz);
        Assert.True(vm.X2Apic);
        Assert.True(vm.TscDeadline);
        Assert.False(vm.Cmci);
        Assert.Equal(46, vm.MaxPhysAddr);
        Assert.Equal(0x11, vm.IoApicVersion);
        Assert.False(vm.ExtendedDestinationId);
        Assert.Equal(X2ApicApiFlags.None, vm.X2ApicApi);
        Assert.False(vm.SplitIrqchip);
        Assert.False(vm.ApsWaitForSipi);
        Assert.Equal(new VmOptions(), vm);
    }

    [Fact]
    public void The_vm_line_is_not_a_statement_but_keeps_its_source()
    {
        var scenario = ScenarioAssert.Parses("# x\nvm cpus=2 # two\ncpu0 sti\n");
        Assert.Equal(new SourceLine(2, "vm cpus=2"), scenario.VmSource);
        Assert.IsType<StiStatement>(Assert.Single(scenario.Statements));
    }

    public static TheoryData<string, VmOptions> OptionRows => new()
    {
        { "cpus=4", new VmOptions { Cpus = 4 } },
        { "cpus=1", new VmOptions { Cpus = 1 } },
        { "cpus=4096", new VmOptions { Cpus = 4096 } },
        { "cpus=0x1000", new VmOptions { Cpus = 4096 } },
        { "accel=none", new VmOptions { Accel = AccelKind.None } },
        { "accel=apicv", new VmOptions { Accel = AccelKind.Apicv } },
        { "accel=avic", new VmOptions { Accel = AccelKind.Avic } },
        { "accel=x2avic", new VmOptions { Accel = AccelKind.X2Avic } },
        { "profile=kvm", new VmOptions { Profile = ApicProfile.Kvm } },
        { "profile=architectural", new VmOptions { Profile = ApicProfile.Architectural } },
        { "tsc-khz=1", new VmOptions { TscKhz = 1 } },
        { "tsc-khz=4294967295", new VmOptions { TscKhz = uint.MaxValue } },
        { "bus-mhz=100", new VmOptions { BusMhz = 100 } },
        { "x2apic=off", new VmOptions { X2Apic = false } },
        { "x2apic=on", new VmOptions { X2Apic = true } },
        { "tsc-deadline=off", new VmOptions { TscDeadline = false } },
        { "cmci=on", new VmOptions { Cmci = true } },
        { "maxphyaddr=32", new VmOptions { MaxPhysAddr = 32 } },
        { "maxphyaddr=52", new VmOptions { MaxPhysAddr = 52 } },
        { "ioapic-version=0x20", new VmOptions { IoApicVersion = 0x20 } },
        { "ioapic-version=17", new VmOptions { IoApicVersion = 0x11 } },
        { "ext-dest-id=on", new VmOptions { ExtendedDestinationId = true } },
        { "ap-state=wait-for-sipi", new VmOptions { ApsWaitForSipi = true } },
        { "ap-state=running", new VmOptions { ApsWaitForSipi = false } },
        { "x2apic-32bit-ids=on", new VmOptions { X2ApicApi = X2ApicApiFlags.Use32BitIds } },
        { "x2apic-broadcast-quirk=off", new VmOptions { X2ApicApi = X2ApicApiFlags.DisableBroadcastQuirk } },
        { "x2apic-broadcast-quirk=on x2apic-32bit-ids=off", new VmOptions() },
        { "x2apic-32bit-ids=on x2apic-broadcast-quirk=off", new VmOptions { X2ApicApi = X2ApicApiFlags.Use32BitIds | X2ApicApiFlags.DisableBroadcastQuirk } },
        { "split-irqchip=on", new VmOptions { SplitIrqchip = true } },
        { "CPUS=2 ACCEL=X2AVIC Profile=Architectural", new VmOptions { Cpus = 2, Accel = AccelKind.X2Avic, Profile = ApicProfile.Architectural } },
        {
            "ap-state=wait-for-sipi ext-dest-id=on ioapic-version=0x20 maxphyaddr=39 cmci=on tsc-deadline=off x2apic=off bus-mhz=25 tsc-khz=3_000_000 profile=architectural accel=apicv cpus=300",
            new VmOptions
            {
                Cpus = 300, Accel = AccelKind.Apicv, Profile = ApicProfile.Architectural, TscKhz = 3_000_000, BusMhz = 25,
                X2Apic = false, TscDeadline = false, Cmci = true, MaxPhysAddr = 39, IoApicVersion = 0x20, ExtendedDestinationId = true,
                ApsWaitForSipi = true,
            }
        },
    };

    [Theory]
    [MemberData(nameof(OptionRows))]
    public void Each_option_sets_its_field_and_leaves_the_others_at_default(string options, VmOptions expected) =>
        Assert.Equal(expected, ScenarioAssert.Parses($"vm {options}\n").Vm);

    [Theory]
    [InlineData(1, "cpu0")]
    [InlineData(2, "cpu1")]
    [InlineData(4096, "cpu4095")]
    public void The_last_vcpu_of_the_vm_is_addressable(int cpus, string cpu)
    {
        var statement = Assert.Single(ScenarioAssert.Parses($"vm cpus={cpus}\n{cpu} sti\n").Statements);
        Assert.Equal(cpus - 1, Assert.IsType<StiStatement>(statement).Cpu);
    }
}
