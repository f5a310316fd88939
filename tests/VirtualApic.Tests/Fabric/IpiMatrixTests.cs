// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>The IPI kinds of the matrix: the ICR delivery modes, INIT split by its level bit.</summary>
public enum IpiKind
{
    Fixed,
    Lowest,
    Smi,
    Nmi,
    InitAssert,
    InitDeassert,
    Sipi,
}

/// <summary>
/// Every delivery mode x destination mode x shorthand, in xAPIC and x2APIC, under both profiles:
/// exactly which vCPUs take what. The expectation comes from a small independent model of the
/// rules (KVM lapic.c __apic_accept_irq, kvm_apic_match_dest, kvm_irq_delivery_to_apic; SDM vol. 3A
/// 11.6.1, 11.6.2, 11.6.2.4), not from the code under test.
/// </summary>
public class IpiMatrixTests
{
    private const int Cpus = 4;
    private const int Sender = 1;
    private const byte Vector = 0xE2; // 226: 226 % 2 = 0, 226 % 3 = 1, 226 % 4 = 2

    // Distinct TPRs so that "lowest priority" has one answer; all below the vector's class.
    private static readonly uint[] Tprs = [0x30, 0x40, 0x10, 0x20];

    // Physical destination: vCPU 3. Logical destination: vCPUs 0 and 3 (LDR bit i for vCPU i, in
    // xAPIC flat mode and in x2APIC cluster 0 alike). Under a shorthand the field must be ignored.
    private const int PhysicalTarget = 3;
    private static readonly int[] LogicalTargets = [0, 3];

    public static TheoryData<string, bool, IpiKind, bool, DestinationShorthand> Cases()
    {
        var data = new TheoryData<string, bool, IpiKind, bool, DestinationShorthand>();
        foreach (string? profile in new[] { "kvm", "architectural" })
        {
            foreach (bool x2 in new[] { false, true })
            {
                foreach (var kind in Enum.GetValues<IpiKind>())
                {
                    foreach (bool logical in new[] { false, true })
                    {
                        foreach (var shorthand in Enum.GetValues<DestinationShorthand>())
                        {
                            if (profile == "architectural" && !SdmDefined(kind, shorthand))
                            {
                                continue;
                            }

                            data.Add(profile, x2, kind, logical, shorthand);
                        }
                    }
                }
            }
        }

        return data;
    }

    // SDM vol. 3A 11.6.1, "Valid Combinations for the Pentium 4 and Intel Xeon Processors' Local
    // xAPIC ICR": Self and All Including Self are valid with Fixed only; All Excluding Self with
    // Fixed, NMI, INIT, SMI, Start-Up (its lowest priority "can be redirected back to the issuing
    // APIC", so it has no single answer). The rest is undefined and not asserted for this profile.
    private static bool SdmDefined(IpiKind kind, DestinationShorthand shorthand) => shorthand switch
    {
        DestinationShorthand.None => true,
        DestinationShorthand.Self or DestinationShorthand.AllIncludingSelf => kind == IpiKind.Fixed,
        _ => kind is IpiKind.Fixed or IpiKind.Nmi or IpiKind.Smi or IpiKind.InitAssert or IpiKind.Sipi,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_vcpu_takes_exactly_what_the_rules_say(string profileName, bool x2, IpiKind kind, bool logical, DestinationShorthand shorthand)
    {
        Assert.True(ApicProfile.TryParse(profileName, out var profile));
        using var vm = TestGuest.Vm(Cpus, x2, profile);
        for (int i = 0; i < Cpus; i++)
        {
            var v = vm.Vcpus[i];
            v.SetTpr(Tprs[i]);
            if (!x2)
            {
                v.SetDfr(cluster: false);
                v.SetLogicalId((byte)(1 << i));
            }
        }

        if (kind == IpiKind.Sipi)
        {
            // Host-side (KVM_SET_MP_STATE): every other vCPU waits for SIPI; the sender runs.
            foreach (var v in vm.Vcpus)
            {
                if (v.Index != Sender)
                {
                    v.SetRunState(VcpuRunState.WaitForSipi);
                }
            }
        }

        uint destination = logical ? Mask(LogicalTargets) : PhysicalTarget;
        vm.Vcpus[Sender].SendIpi(IcrOf(kind, logical, shorthand), destination);

        var expected = Expected(profile, kind, logical, shorthand);
        for (int i = 0; i < Cpus; i++)
        {
            var v = vm.Vcpus[i];
            var taken = v.StiTake();
            Assert.True(expected[i] == taken, $"vCPU {i}: expected {expected[i]}, took {taken}");
        }

        TestGuest.AssertQuiet(vm);
    }

    private static uint Mask(int[] cpus)
    {
        uint m = 0;
        foreach (int c in cpus)
        {
            m |= 1u << c;
        }

        return m;
    }

    private static uint IcrOf(IpiKind kind, bool logical, DestinationShorthand shorthand) => kind switch
    {
        IpiKind.Fixed => TestGuest.IcrLow(Vector, DeliveryMode.Fixed, logical, shorthand),
        IpiKind.Lowest => TestGuest.IcrLow(Vector, DeliveryMode.LowestPriority, logical, shorthand),
        IpiKind.Smi => TestGuest.IcrLow(0, DeliveryMode.Smi, logical, shorthand),
        IpiKind.Nmi => TestGuest.IcrLow(0, DeliveryMode.Nmi, logical, shorthand),
        IpiKind.InitAssert => TestGuest.IcrLow(0, DeliveryMode.Init, logical, shorthand),
        IpiKind.InitDeassert => TestGuest.IcrLow(0, DeliveryMode.Init, logical, shorthand, levelAssert: false, levelTriggered: true),
        IpiKind.Sipi => TestGuest.IcrLow(Vector, DeliveryMode.StartUp, logical, shorthand),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static GuestEvent[] Expected(ApicProfile profile, IpiKind kind, bool logical, DestinationShorthand shorthand)
    {
        // Which vCPUs the message addresses.
        bool[] matched = new bool[Cpus];
        for (int i = 0; i < Cpus; i++)
        {
            matched[i] = shorthand switch
            {
                DestinationShorthand.Self => i == Sender,
                DestinationShorthand.AllIncludingSelf => true,
                DestinationShorthand.AllExcludingSelf => i != Sender,
                _ => logical ? Array.IndexOf(LogicalTargets, i) >= 0 : i == PhysicalTarget,
            };
        }

        // Lowest priority: one of the matched (all are software-enabled).
        if (kind == IpiKind.Lowest)
        {
            int[] candidates = Enumerable.Range(0, Cpus).Where(i => matched[i]).ToArray();
            int chosen = profile.LowestPriority == LowestPriorityArbitration.VectorHashing
                ? candidates[Vector % candidates.Length]
                : candidates.OrderBy(i => Tprs[i]).First();
            Array.Clear(matched);
            matched[chosen] = true;
        }

        var expected = new GuestEvent[Cpus];
        for (int i = 0; i < Cpus; i++)
        {
            expected[i] = !matched[i] ? GuestEvent.None : kind switch
            {
                IpiKind.Fixed or IpiKind.Lowest => new GuestEvent(GuestEventKind.Vector, Vector),
                IpiKind.Smi => new GuestEvent(GuestEventKind.Smi),
                IpiKind.Nmi => new GuestEvent(GuestEventKind.Nmi),
                IpiKind.InitAssert => new GuestEvent(GuestEventKind.Init),
                IpiKind.InitDeassert => GuestEvent.None,

                // A SIPI counts only for a vCPU waiting for one; the (running) sender drops its own.
                IpiKind.Sipi => i == Sender ? GuestEvent.None : new GuestEvent(GuestEventKind.Sipi, Vector),
                _ => throw new ArgumentOutOfRangeException(nameof(kind)),
            };
        }

        return expected;
    }
}
