// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Core;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The physical table against first principles: for any set of APICs (xAPIC IDs rewritten, x2APIC
/// IDs shared, some hardware-disabled), an ID's count is how many enabled APICs claim it in their
/// mode, and the single answer is the claimer when there is exactly one (KVM
/// <c>kvm_recalculate_apic_map</c>). The router's unicast and the inhibit policy both go by these
/// answers, and the examples elsewhere cover only hand-picked layouts.
/// </summary>
public class ApicMapPhysicalPropertyTests
{
    private static readonly Gen<(ApicMode Mode, int Index, int XApicId)> Member = Gen.Select(
        Gen.Int[0, 9].Select(m => m < 6 ? ApicMode.XApic : m < 9 ? ApicMode.X2Apic : ApicMode.Disabled),
        Gen.Int[0, 11],
        Gen.Int[0, 11]);

    [Fact]
    public void Every_id_answers_its_claimers()
    {
        Member.Array[1, 8].Sample(members =>
        {
            var apics = new LocalApic[members.Length];
            for (int i = 0; i < members.Length; i++)
            {
                var (mode, index, xapicId) = members[i];
                apics[i] = TestApic.Create(mode, id: index, bsp: i == 0);
                if (mode == ApicMode.XApic)
                {
                    Assert.True(apics[i].WriteRegister(ApicOffset.Id, (uint)xapicId << 24));
                }
            }

            // From an array (read in place) and from any other list (copied first): the same answers.
            foreach (var map in new[] { ApicMap.Build(apics), ApicMap.Build(apics.ToList()) })
            {
                bool aliased = false;
                for (uint id = 0; id <= (uint)map.MaxId + 1; id++)
                {
                    var claimers = apics.Where(a => a.IsHardwareEnabled && (a.IsX2Apic ? a.X2ApicId : a.XApicId) == id).ToArray();
                    Assert.Equal(claimers.Length, map.PhysicalCount(id));
                    Assert.Same(claimers.Length == 1 ? claimers[0] : null, map.Physical(id));
                    aliased |= claimers.Length > 1;
                }

                Assert.Equal(aliased, map.PhysicalIdAliased);
            }
        });
    }
}
