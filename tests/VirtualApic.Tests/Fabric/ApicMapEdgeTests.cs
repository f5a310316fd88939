// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>The APIC map at the end of its physical table: an ID one past the last slot names nobody (KVM <c>kvm_recalculate_apic_map</c> sizes the table by the largest ID).</summary>
public class ApicMapEdgeTests
{
    private static LocalApic[] Apics(int count, ApicMode mode) =>
        [.. Enumerable.Range(0, count).Select(i => TestApic.Create(mode, id: i, bsp: i == 0))];

    [Theory]
    [InlineData(ApicMode.XApic)]
    [InlineData(ApicMode.X2Apic)]
    public void The_id_one_past_the_table_names_nobody(ApicMode mode)
    {
        var apics = Apics(3, mode);
        var map = ApicMap.Build(apics);
        uint last = (uint)map.MaxId;

        Assert.Same(apics[2], map.Physical(2));
        Assert.Equal(1, map.PhysicalCount(2));
        Assert.Null(map.Physical(last + 1));
        Assert.Equal(0, map.PhysicalCount(last + 1));
    }

    [Fact]
    public void An_x2apic_logical_member_one_past_the_table_is_nobody()
    {
        var apics = Apics(3, ApicMode.X2Apic);
        var map = ApicMap.Build(apics);
        int slots = map.MaxId + 1;

        Assert.True(map.TryGetLogical(LocalApic.X2ApicLdr(2), out int cluster, out ushort mask));
        Assert.Equal(0, cluster);
        Assert.Equal(1 << 2, mask);
        Assert.Same(apics[2], map.LogicalMember(0, 2));
        Assert.Null(map.LogicalMember(slots >> 4, slots & 0xF));
    }

    [Fact]
    public void An_x2apic_logical_member_whose_slot_two_apics_claim_is_nobody()
    {
        LocalApic[] apics = [.. Apics(2, ApicMode.X2Apic), TestApic.Create(ApicMode.X2Apic, id: 1)];
        var map = ApicMap.Build(apics);

        Assert.True(map.PhysicalIdAliased);
        Assert.Equal(2, map.PhysicalCount(1));
        Assert.False(map.TryGetLogical(LocalApic.X2ApicLdr(1), out _, out _));
        Assert.Null(map.LogicalMember(0, 1));
        Assert.Same(apics[0], map.LogicalMember(0, 0));
    }
}
