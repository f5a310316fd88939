// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Core;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The x2APIC ICR fastpath (KVM <c>handle_fastpath_set_x2apic_icr_irqoff</c>): a fixed, physical,
/// no-shorthand x2APIC IPI is accepted straight into the APIC the host names for its destination
/// (<see cref="IApicHost.FindUnicastTarget"/>), and must reach exactly what the router reaches.
/// </summary>
public class X2ApicIcrFastpathTests
{
    private const uint IcrMsr = 0x830;

    // One vCPU's set-up: 0-2 x2APIC, 3-5 xAPIC with the ID rewritten to XApicId (aliases and IDs
    // shared with x2APIC vCPUs included), 6 software-disabled xAPIC, 7 software-disabled x2APIC,
    // 8 hardware-disabled.
    private static readonly Gen<(int Kind, int XApicId)> Member = Gen.Select(Gen.Int[0, 8], Gen.Int[0, 9]);

    // The ICR fields, biased towards the fastpath's shape so that most writes take it and the rest
    // cover every way out of it.
    private static readonly Gen<ulong> IcrValue = Gen.Select(
        Gen.Frequency((6, Gen.Int[16, 255]), (1, Gen.Int[0, 15])),
        Gen.Frequency((5, Gen.Const(0)), (1, Gen.Int[0, 7])),
        Gen.Frequency((5, Gen.Const(0)), (1, Gen.Const(1))),
        Gen.Frequency((5, Gen.Const(0)), (1, Gen.Int[1, 3])),
        Gen.Int[0, 3],
        Gen.Frequency((6, Gen.UInt[0, 11]), (1, Gen.Const(0xFFFF_FFFFu)), (1, Gen.Const(0xFFu)), (1, Gen.UInt[0x100, 0x10B]), (1, Gen.UInt)),
        (vector, mode, logical, shorthand, triggerLevel, destination) =>
            (uint)vector | ((uint)mode << 8) | ((uint)logical << 11) | ((uint)(triggerLevel & 1) << 14)
            | ((uint)(triggerLevel >> 1) << 15) | ((uint)shorthand << 18) | ((ulong)destination << 32));

    [Fact]
    public void Every_x2apic_icr_write_reaches_what_the_router_reaches()
    {
        Gen.Select(Member.Array[2, 8], IcrValue.Array[1, 4], Gen.Bool, Gen.Bool).Sample((members, icrs, avic, architectural) =>
        {
            // The architectural profile rejects vectors 0-15 (an ESR error at the sender), KVM's
            // delivers them: either way the fastpath must leave them to the general path's rule.
            // Twin VMs: one sends by WRMSR (the fastpath where it applies), the other through the
            // sender's general path (LocalApic.SendIpi: the ESR check, a message, the router).
            var profile = architectural ? ApicProfile.Architectural : ApicProfile.Kvm;
            using var byMsr = Build(members, avic, profile);
            using var byRouter = Build(members, avic, profile);
            foreach (ulong icr in icrs)
            {
                Assert.True(byMsr.Vcpus[0].TryWriteMsr(IcrMsr, icr));
                var sender = byRouter.Vcpus[0].Apic;
                sender.SendIpi(new Icr(icr));
                sender.StoreX2ApicIcr(icr);
            }

            for (int i = 0; i < members.Length; i++)
            {
                Assert.Equal(Observe(byRouter, i), Observe(byMsr, i));
            }
        });
    }

    [Fact]
    public void The_fastpath_is_taken_for_a_plain_unicast()
    {
        // The twin test cannot tell the paths apart: this one shows the write takes the fastpath,
        // with the router's own delivery counted only on its slow path, untouched either way.
        using var vm = TestGuest.Vm(4, x2Apic: true);
        var target = vm.Vcpus[2].Apic;
        Assert.Same(target, vm.FindUnicastTarget(2));
        Assert.True(vm.Vcpus[0].TryWriteMsr(IcrMsr, (2ul << 32) | 0x41));
        Assert.True(target.Words.TestKnownVector(ApicOffset.Irr, 0x41));
        Assert.Equal(1, vm.Vcpus[2].Kicks);
        Assert.Equal(0, vm.Router.SlowPathDeliveries);
        Assert.Equal((2ul << 32) | 0x41, vm.Vcpus[0].Apic.ReadX2ApicIcr());
    }

    [Fact]
    public void The_host_names_targets_only_for_ids_one_apic_claims()
    {
        using var vm = TestGuest.Vm(4, x2Apic: false);
        vm.Vcpus[0].EnterX2Apic();
        vm.Vcpus[2].SetXApicId(3); // vCPUs 2 and 3 both claim xAPIC ID 3
        Assert.Same(vm.Vcpus[0].Apic, vm.FindUnicastTarget(0));
        Assert.Same(vm.Vcpus[1].Apic, vm.FindUnicastTarget(1));
        Assert.Null(vm.FindUnicastTarget(2));
        Assert.Null(vm.FindUnicastTarget(3));
        Assert.Null(vm.FindUnicastTarget(0xFFFF_FFFF));
        Assert.Null(vm.FindUnicastTarget(4096));
    }

    [Fact]
    public void A_named_target_accepts_the_ipi_without_the_host_routing_it()
    {
        var sender = TestApic.Create(ApicMode.X2Apic);
        var target = TestApic.Create(ApicMode.X2Apic, id: 7, bsp: false);
        var host = sender.Host();
        host.UnicastTargets = id => id == 7 ? target : null;

        Assert.True(sender.WriteX2ApicIcr((7ul << 32) | (1ul << 15) | (1ul << 14) | 0x52)); // level, assert
        Assert.Equal([7u], host.UnicastLookups);
        Assert.Empty(host.Ipis);
        Assert.True(target.Words.TestKnownVector(ApicOffset.Irr, 0x52));
        Assert.True(target.Words.TestKnownVector(ApicOffset.Tmr, 0x52)); // the trigger mode came along
        Assert.Equal(1, target.Host().Kicks);
    }

    [Theory]
    [InlineData(0x0000_0400ul | 0x52, "NMI")]
    [InlineData(0x0000_0100ul | 0x52, "lowest priority")]
    [InlineData(0x0000_0800ul | 0x52, "logical")]
    [InlineData(0x0004_0000ul | 0x52, "self shorthand")]
    [InlineData(0x0008_0000ul | 0x52, "all including self")]
    [InlineData(0x0000_0000ul | 0x0F, "vector 15")]
    public void Other_shapes_go_through_the_router(ulong low, string shape)
    {
        var sender = TestApic.Create(ApicMode.X2Apic);
        var target = TestApic.Create(ApicMode.X2Apic, id: 7, bsp: false);
        var host = sender.Host();
        host.Loopback = false;
        host.UnicastTargets = _ => target;

        Assert.True(sender.WriteX2ApicIcr((7ul << 32) | low), shape);
        Assert.Empty(host.UnicastLookups);
        bool dropped = (byte)low < 16 && sender.Config.Profile.RejectsIllegalVectors; // the sender's ESR instead
        Assert.Equal(dropped ? 0 : 1, host.Ipis.Count);
        Assert.Equal(-1, target.Words.HighestVector(ApicOffset.Irr));
    }

    [Fact]
    public void A_destination_the_host_cannot_name_goes_through_the_router()
    {
        var sender = TestApic.Create(ApicMode.X2Apic);
        var host = sender.Host();
        host.Loopback = false;

        Assert.True(sender.WriteX2ApicIcr((9ul << 32) | 0x52));
        Assert.Equal([9u], host.UnicastLookups);
        var ipi = Assert.Single(host.Ipis);
        Assert.Equal((9u, (byte)0x52, DestinationMode.Physical), (ipi.Destination, ipi.Vector, ipi.DestinationMode));
    }

    private static VirtualMachine Build((int Kind, int XApicId)[] members, bool avic, ApicProfile profile)
    {
        var vm = new VirtualMachine(new VmOptions { Cpus = members.Length, Accel = avic ? AccelKind.Avic : AccelKind.None, Profile = profile });
        for (int i = 0; i < members.Length; i++)
        {
            var v = vm.Vcpus[i];
            int kind = i == 0 ? 0 : members[i].Kind; // the sender is an enabled x2APIC
            if (kind == 8)
            {
                v.HardwareDisable();
                continue;
            }

            if (kind is 3 or 4 or 5)
            {
                v.SetXApicId((byte)members[i].XApicId);
            }

            if (kind is not (6 or 7))
            {
                v.SoftwareEnable();
            }

            if (kind is 0 or 1 or 2 or 7)
            {
                v.EnterX2Apic();
            }
        }

        return vm;
    }

    // What a guest sees of vCPU i, the errors its ESR has latched included, and how often it was kicked.
    private static List<string> Observe(VirtualMachine vm, int i)
    {
        var v = vm.Vcpus[i];
        var seen = GuestView.Observe(v);
        seen.Add($"esr pending {v.Apic.EsrPending:x} kicks {v.Kicks}");
        return seen;
    }
}
