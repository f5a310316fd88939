// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Scenarios.Running;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// Lowest-priority delivery. kvm: vector hashing, the (vector mod N)-th candidate, TPR ignored;
/// the slow path counts only software-enabled APICs (KVM aefd18f01ee8); the logical fast path
/// hashes over the mask bits and drops on an empty or disabled slot (kvm-reference 4.2).
/// architectural: the lowest processor priority wins, a focus processor first, software-disabled
/// APICs excluded (SDM vol. 3A 11.6.2.4).
/// </summary>
public class LowestPriorityTests
{
    private static uint Lowest(byte vector, bool logical = false, DestinationShorthand shorthand = DestinationShorthand.None) =>
        TestGuest.IcrLow(vector, DeliveryMode.LowestPriority, logical, shorthand);

    private static VirtualMachine ArchVm(int cpus, bool x2Apic) => TestGuest.Vm(cpus, x2Apic, ApicProfile.Architectural);

    // ------------------------------------------------------------------ kvm: vector hashing

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Kvm_slow_path_picks_the_vector_mod_n_th_enabled_candidate_ignoring_tpr(bool x2)
    {
        using var vm = TestGuest.Vm(5, x2);
        vm.Vcpus[1].SetTpr(0x30); // the highest TPR: architecturally the last choice
        int[] candidates = [1, 2, 3, 4];
        for (byte vector = 0x40; vector < 0x60; vector++)
        {
            vm.Vcpus[0].SendIpi(Lowest(vector, shorthand: DestinationShorthand.AllExcludingSelf), 0);
            Assert.Equal([candidates[vector % candidates.Length]], TestGuest.Receivers(vm, vector));
        }

        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Kvm_slow_path_counts_only_software_enabled_apics(bool x2)
    {
        using var vm = TestGuest.Vm(5, x2);
        vm.Vcpus[2].SoftwareDisable();
        int[] candidates = [1, 3, 4];
        for (byte vector = 0x40; vector < 0x50; vector++)
        {
            vm.Vcpus[0].SendIpi(Lowest(vector, shorthand: DestinationShorthand.AllExcludingSelf), 0);
            Assert.Equal([candidates[vector % candidates.Length]], TestGuest.Receivers(vm, vector));
        }

        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Kvm_xapic_logical_fast_path_hashes_over_the_mask_and_a_disabled_slot_drops_it()
    {
        using var vm = TestGuest.Vm(4, x2Apic: false);
        foreach (var v in vm.Vcpus)
        {
            v.SetLogicalId((byte)(1 << v.Index));
        }

        vm.Vcpus[2].SoftwareDisable(); // keeps its LDR, leaves the logical map
        Assert.Equal(LogicalMapMode.XApicFlat, vm.Router.Map.LogicalMode);
        long slow = vm.Router.SlowPathDeliveries;
        for (byte vector = 0x40; vector < 0x50; vector++)
        {
            vm.Vcpus[0].SendIpi(Lowest(vector, logical: true), 0x0F);
            int slot = vector % 4;
            Assert.Equal(slot == 2 ? [] : [slot], TestGuest.Receivers(vm, vector));
        }

        // Bit 4 has no APIC at all: hashing onto it drops too.
        for (byte vector = 0x50; vector < 0x54; vector++)
        {
            vm.Vcpus[0].SendIpi(Lowest(vector, logical: true), 0x12);
            Assert.Equal(vector % 2 == 0 ? [1] : [], TestGuest.Receivers(vm, vector));
        }

        Assert.Equal(slow, vm.Router.SlowPathDeliveries);
        TestGuest.AssertQuiet(vm);
    }

    [Fact]
    public void Kvm_x2apic_cluster_fast_path_hashes_over_the_mask_bits()
    {
        using var vm = TestGuest.Vm(20, x2Apic: true); // cluster 1 holds IDs 16..19; 28..31 do not exist
        vm.Vcpus[17].SoftwareDisable();
        for (byte vector = 0x40; vector < 0x60; vector++)
        {
            vm.Vcpus[0].SendIpi(Lowest(vector, logical: true), (1u << 16) | 0xF00F);
            int slot = vector % 8; // 8 mask bits: 0-3 -> IDs 16-19, 4-7 -> IDs 28-31
            int[] expected = slot < 4 && slot != 1 ? [16 + slot] : [];
            Assert.Equal(expected, TestGuest.Receivers(vm, vector));
        }

        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("architectural")]
    public void Physical_lowest_priority_unicast_goes_to_its_target(string profile)
    {
        Assert.True(ApicProfile.TryParse(profile, out var p));
        using var vm = TestGuest.Vm(3, x2Apic: false, p);
        vm.Vcpus[2].SetTpr(0x40);
        vm.Vcpus[0].SendIpi(Lowest(0x71), 2);
        Assert.Equal([2], TestGuest.Receivers(vm, 0x71));

        // A disabled target drops it (KVM __apic_accept_irq; SDM 11.4.7.2).
        vm.Vcpus[2].SoftwareDisable();
        vm.Vcpus[0].SendIpi(Lowest(0x72), 2);
        Assert.Empty(TestGuest.Receivers(vm, 0x72));
    }

    [Fact]
    public void Kvm_msi_redirection_hint_is_lowest_priority_among_the_logical_destinations()
    {
        using var vm = TestGuest.Vm(4, x2Apic: false);
        foreach (var v in vm.Vcpus)
        {
            v.SetLogicalId((byte)(1 << v.Index));
        }

        for (byte vector = 0x80; vector < 0x88; vector++)
        {
            vm.DeliverMsi(Msi.EncodeAddress(0x0E, logical: true, redirectionHint: true), vector); // fixed + RH
            Assert.Equal([1 + (vector % 3)], TestGuest.Receivers(vm, vector));
        }

        // Without the hint a fixed logical MSI is a multicast.
        vm.DeliverMsi(Msi.EncodeAddress(0x0E, logical: true), 0x90);
        Assert.Equal([1, 2, 3], TestGuest.Receivers(vm, 0x90));
    }

    // ------------------------------------------------------------------ architectural: SDM 11.6.2.4

    public static TheoryData<bool, bool> Paths() => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    // Sends lowest priority from vCPU 0 to vCPUs 0..3, by logical mask (fast path) or by the
    // all-including-self shorthand (slow path).
    private static void SendToAll(VirtualMachine vm, byte vector, bool shorthand)
    {
        if (shorthand)
        {
            vm.Vcpus[0].SendIpi(Lowest(vector, shorthand: DestinationShorthand.AllIncludingSelf), 0);
        }
        else
        {
            vm.Vcpus[0].SendIpi(Lowest(vector, logical: true), 0x0F);
        }
    }

    private static VirtualMachine ArchVmWithTprs(bool x2)
    {
        var vm = ArchVm(4, x2);
        uint[] tprs = [0x20, 0x10, 0x30, 0x40];
        foreach (var v in vm.Vcpus)
        {
            if (!x2)
            {
                v.SetLogicalId((byte)(1 << v.Index));
            }

            v.SetTpr(tprs[v.Index]);
        }

        return vm;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Architectural_lowest_processor_priority_wins(bool x2, bool shorthand)
    {
        using var vm = ArchVmWithTprs(x2);
        SendToAll(vm, 0xA1, shorthand);
        Assert.Equal([1], TestGuest.Receivers(vm, 0xA1));

        vm.Vcpus[1].SetTpr(0x50);
        SendToAll(vm, 0xA2, shorthand);
        Assert.Equal([0], TestGuest.Receivers(vm, 0xA2));
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Architectural_an_in_service_vector_raises_the_processor_priority(bool x2, bool shorthand)
    {
        using var vm = ArchVmWithTprs(x2);
        vm.Vcpus[0].SendFixed(0x91, 1);
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x91), vm.Vcpus[1].StiTake()); // in service, PPR 0x90
        vm.Vcpus[1].Iret();

        SendToAll(vm, 0xA3, shorthand);
        Assert.Equal([0], TestGuest.Receivers(vm, 0xA3));

        vm.Vcpus[1].WriteEoi(); // PPR back to TPR 0x10
        SendToAll(vm, 0xA4, shorthand);
        Assert.Equal([1], TestGuest.Receivers(vm, 0xA4));
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Architectural_focus_processor_wins_while_focus_checking_is_on(bool x2, bool shorthand)
    {
        using var vm = ArchVmWithTprs(x2);

        // vCPU 3 (the highest priority) already has 0xA5 pending: it is the focus processor.
        vm.Vcpus[0].SendFixed(0xA5, 3);
        SendToAll(vm, 0xA5, shorthand);
        Assert.Equal([3], TestGuest.Receivers(vm, 0xA5));
        TestGuest.AssertQuiet(vm);

        // The same with focus checking disabled (SVR bit 9): priority decides.
        foreach (var v in vm.Vcpus)
        {
            v.Write(ApicOffset.Svr, 0x3FF);
        }

        vm.Vcpus[0].SendFixed(0xA6, 3);
        SendToAll(vm, 0xA6, shorthand);
        Assert.Equal([1, 3], TestGuest.Receivers(vm, 0xA6));
        TestGuest.AssertQuiet(vm);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Architectural_software_disabled_apics_are_not_candidates(bool x2, bool shorthand)
    {
        using var vm = ArchVmWithTprs(x2);
        vm.Vcpus[1].SoftwareDisable();
        for (byte vector = 0xB0; vector < 0xB4; vector++)
        {
            SendToAll(vm, vector, shorthand);
            Assert.Equal([0], TestGuest.Receivers(vm, vector));
        }

        TestGuest.AssertQuiet(vm);
    }

    /// <summary>
    /// A vector the guest ended by PV EOI (none only: an assist never arms the flag) is no longer in
    /// service for a sender's focus check, as the guest sees it (found/27 is the PPR half).
    /// </summary>
    [Fact]
    public void Architectural_focus_ignores_a_vector_the_guest_ended_by_pv_eoi_under_every_backend()
    {
        const string program = """
            vm cpus=3 profile=architectural
            cpu1 write SVR 0x1ff
            cpu2 write SVR 0x1ff
            cpu2 pv-eoi enable 0x1080 == ok
            cpu2 write TPR 0x20
            cpu1 ipi 0x72 dest=2 mode=fixed
            cpu2 sti
            cpu2 take == vector 0x72
            expect accel=none cpu2 pv-eoi == 1
            cpu2 pv-eoi eoi == ok
            cpu0 ipi 0x72 dest=0 mode=lowest shorthand=others
            expect cpu1 irr has 0x72
            expect cpu2 irr lacks 0x72
            """;
        var parsed = ScenarioParser.Parse(program, "focus.vapic");
        Assert.True(parsed.Succeeded, string.Join("\n", parsed.Diagnostics));

        var all = ScenarioRunner.RunAll(parsed.Scenario, profileOverride: null);

        Assert.All(all.Results, r => Assert.True(r.Passed, $"{r.Backend}: " + string.Join("; ", r.Failures.Select(f => $"line {f.Line}: {f.Message}"))));
    }
}
