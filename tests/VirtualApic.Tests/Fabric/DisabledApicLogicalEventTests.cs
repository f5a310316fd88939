// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// <see cref="ApicProfile.LogicalEventsReachDisabledApics"/>: a logical NMI/INIT to a
/// software-disabled xAPIC-mode APIC (SDM 11.4.7.2 says it still accepts them; KVM's logical map
/// leaves it out).
/// </summary>
public class DisabledApicLogicalEventTests
{
    [Theory]
    [InlineData("kvm", 4u, false)]          // NMI
    [InlineData("architectural", 4u, true)]
    [InlineData("kvm", 5u, false)]          // INIT
    [InlineData("architectural", 5u, true)]
    public void A_logical_event_to_a_software_disabled_apic(string profileName, uint deliveryMode, bool delivered)
    {
        Assert.True(ApicProfile.TryParse(profileName, out var profile));
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2, Profile = profile });
        var sender = vm.Vcpus[0];
        var target = vm.Vcpus[1];
        sender.MmioWrite(0xFEE0_00F0, 0x1FF, 4);
        target.MmioWrite(0xFEE0_00D0, 0x0200_0000, 4); // LDR: flat logical ID bit 1; SVR stays 0xFF (disabled)

        sender.MmioWrite(0xFEE0_0310, 0x0200_0000, 4);
        sender.MmioWrite(0xFEE0_0300, (deliveryMode << 8) | (1u << 11) | (1u << 14), 4); // logical, assert

        var expected = deliveryMode == 4 ? PendingEvents.Nmi : PendingEvents.Init;
        Assert.Equal(delivered, (target.PendingEvents & expected) != 0);
    }

    [Fact]
    public void A_fixed_logical_interrupt_to_a_software_disabled_apic_is_dropped_under_both_profiles()
    {
        foreach (var profile in new[] { ApicProfile.Kvm, ApicProfile.Architectural })
        {
            using var vm = new VirtualMachine(new VmOptions { Cpus = 2, Profile = profile });
            vm.Vcpus[0].MmioWrite(0xFEE0_00F0, 0x1FF, 4);
            vm.Vcpus[1].MmioWrite(0xFEE0_00D0, 0x0200_0000, 4);
            vm.Vcpus[0].MmioWrite(0xFEE0_0310, 0x0200_0000, 4);
            vm.Vcpus[0].MmioWrite(0xFEE0_0300, (1u << 11) | 0x55, 4);
            Assert.Equal(-1, vm.Vcpus[1].Apic.HighestIrr);
        }
    }
}
