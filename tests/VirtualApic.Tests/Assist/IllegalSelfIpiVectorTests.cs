// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// An x2APIC SELF_IPI write whose vector is below 16. Emulated, it is a send (KVM
/// <c>kvm_apic_send_ipi</c>; SDM 11.5.3 names SELF_IPI as a source of "send illegal vector"); the assists
/// must not turn it into a receive. APICv does not virtualize it (SDM vol. 3C 30.5: an APIC-write exit
/// follows), and x2AVIC leaves it to the hypervisor. Found by the cross-backend property test
/// (CsCheck seed 2v3LctD_2F02: apicv reported ESR 0x40 where emulation reported 0x20).
/// </summary>
public class IllegalSelfIpiVectorTests
{
    public static TheoryData<AccelKind, string> Cases()
    {
        var data = new TheoryData<AccelKind, string>();
        foreach (var accel in Backends.All)
        {
            data.Add(accel, "kvm");
            data.Add(accel, "architectural");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_illegal_self_ipi_vector_is_what_emulation_makes_of_it(AccelKind accel, string profileName)
    {
        Assert.True(ApicProfile.TryParse(profileName, out var profile));
        using var vm = EnabledVm(accel, profile: profile);
        EnterX2Apic(vm);
        var cpu = vm.Vcpus[0];

        Assert.True(cpu.TryWriteMsr(ApicOffset.ToMsr(ApicOffset.SelfIpi), 12));
        Assert.True(cpu.TryWriteMsr(ApicOffset.ToMsr(ApicOffset.Esr), 0)); // latch the errors seen so far
        Assert.True(cpu.TryReadMsr(ApicOffset.ToMsr(ApicOffset.Esr), out ulong esr));

        if (profile.RejectsIllegalVectors)
        {
            Assert.Equal(1ul << 5, esr); // send illegal vector, never receive illegal vector (bit 6)
            Assert.Equal(-1, cpu.Apic.HighestIrr);
        }
        else
        {
            Assert.Equal(0ul, esr); // KVM accepts vectors 0-15 (__apic_accept_irq has no check)
            Assert.Equal(12, cpu.Apic.HighestIrr);
        }
    }

    [Theory]
    [InlineData(AccelKind.Apicv, ExitReason.ApicWrite)]
    [InlineData(AccelKind.X2Avic, ExitReason.MsrWrite)]
    public void An_illegal_self_ipi_vector_exits_to_the_hypervisor(AccelKind accel, ExitReason reason)
    {
        using var vm = EnabledVm(accel, profile: ApicProfile.Architectural);
        EnterX2Apic(vm);
        var cpu = vm.Vcpus[0];

        Assert.True(cpu.TryWriteMsr(ApicOffset.ToMsr(ApicOffset.SelfIpi), 0x0F));
        Assert.Equal(1, cpu.Exits[reason]);

        // A legal vector stays accelerated: no exit at all.
        cpu.Exits.Clear();
        Assert.True(cpu.TryWriteMsr(ApicOffset.ToMsr(ApicOffset.SelfIpi), 0x10));
        Assert.Equal(0, cpu.Exits.Total);
    }
}
