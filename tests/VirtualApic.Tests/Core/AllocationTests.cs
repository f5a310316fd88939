// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>Accept, acknowledge and EOI are bit operations on the page: they allocate nothing (design.md, "Hot paths").</summary>
public class AllocationTests
{
    private const int Rounds = 2_000;

    private static LocalApic Create(ApicProfile profile, CountingHost host, bool x2 = false)
    {
        var apic = new LocalApic(0, true, new ApicConfig { Profile = profile }, new VirtualClock()) { Host = host };
        Assert.True(apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled));
        if (x2)
        {
            Assert.True(apic.SetApicBase(TestApic.X2ApicBase | ApicBase.BspBit, hostInitiated: false));
        }

        apic.SetIoApicHandled(0x61, true);
        return apic;
    }

    /// <summary>Runs <paramref name="round"/> once to warm up, then measures <see cref="Rounds"/> more.</summary>
    private static long AllocatedBy(Action<int> round)
    {
        for (int i = 0; i < Rounds; i++)
        {
            round(i);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Rounds; i++)
        {
            round(i);
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static byte VectorFor(int i) => (byte)(0x20 + (i % 0xD0));

    [Theory]
    [InlineData("kvm")]
    [InlineData("architectural")]
    public void Accept_acknowledge_and_end_of_interrupt_allocate_nothing(string profile)
    {
        var host = new CountingHost();
        var apic = Create(TestApic.Profile(profile), host);
        int wrongOrder = 0; // counted, not asserted, inside the measured loop: Assert itself allocates

        long bytes = AllocatedBy(i =>
        {
            byte v = VectorFor(i);
            apic.AcceptInterrupt(InterruptMessage.Fixed(v, trigger: (i & 1) == 0 ? TriggerMode.Edge : TriggerMode.Level));
            apic.AcceptInterrupt(InterruptMessage.Fixed(0x61, trigger: TriggerMode.Level));
            if (apic.Acknowledge() != Math.Max(v, (byte)0x61))
            {
                wrongOrder++;
            }

            apic.EndOfInterrupt();
            apic.Acknowledge();
            apic.EndOfInterrupt();
        });

        Assert.Equal(0, bytes);
        Assert.Equal(0, wrongOrder);
        Assert.Equal(2 * Rounds, host.Eois); // one IOAPIC EOI (0x61) per round, warm-up rounds included
        Assert.Equal(-1, apic.HighestIsr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_register_write_eoi_path_allocates_nothing(bool x2)
    {
        var host = new CountingHost();
        var apic = Create(ApicProfile.Kvm, host, x2);

        long bytes = AllocatedBy(i =>
        {
            byte v = VectorFor(i);
            apic.AcceptInterrupt(InterruptMessage.Fixed(v));
            apic.Acknowledge();
            if (x2)
            {
                apic.TryWriteX2ApicMsr(0x80B, 0);
            }
            else
            {
                apic.MmioWrite(ApicOffset.Eoi, 0, 4);
            }

            apic.WriteRegister(ApicOffset.Eoi, 0); // nothing in service: a no-op
        });

        Assert.Equal(0, bytes);
        Assert.Equal(-1, apic.HighestIsr);
        Assert.Equal(-1, apic.HighestIrr);
    }

    [Fact]
    public void Nested_in_service_vectors_retire_without_allocating()
    {
        var host = new CountingHost();
        var apic = Create(ApicProfile.Kvm, host);

        long bytes = AllocatedBy(i =>
        {
            for (int v = 0x30; v < 0xF0; v += 0x10)
            {
                apic.AcceptInterrupt(InterruptMessage.Fixed((byte)(v + (i & 0xF))));
                apic.Acknowledge();
            }

            while (!apic.EndOfInterrupt().IsNone)
            {
            }
        });

        Assert.Equal(0, bytes);
    }
}
