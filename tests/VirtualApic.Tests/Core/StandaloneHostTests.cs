// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>
/// The host of a lone APIC: an IPI comes back exactly when it addresses the sender (shorthands,
/// its physical ID, the physical broadcast; kvm-reference.md 4.1; SDM 11.6.2.1, 11.12.9).
/// </summary>
public class StandaloneHostTests
{
    private static LocalApic Create(bool x2, int id = 5)
    {
        var apic = new LocalApic(id, false, new ApicConfig(), new VirtualClock());
        Assert.True(apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled));
        if (x2)
        {
            Assert.True(apic.SetApicBase(TestApic.X2ApicBase, false));
        }

        return apic;
    }

    private static void SendXApic(LocalApic apic, uint icr, uint destination)
    {
        apic.MmioWrite(ApicOffset.Icr2, destination << 24, 4);
        apic.MmioWrite(ApicOffset.Icr, icr, 4);
    }

    [Theory]
    [InlineData(DestinationShorthand.Self, 0u, true)]
    [InlineData(DestinationShorthand.AllIncludingSelf, 0u, true)]
    [InlineData(DestinationShorthand.AllExcludingSelf, 5u, false)]
    [InlineData(DestinationShorthand.None, 5u, true)]
    [InlineData(DestinationShorthand.None, 4u, false)]
    [InlineData(DestinationShorthand.None, 0xFFu, true)]
    public void Xapic_ipis_come_back_when_they_address_the_sender(DestinationShorthand shorthand, uint destination, bool back)
    {
        var apic = Create(x2: false);
        SendXApic(apic, (uint)Icr.Create(0x44, shorthand: shorthand).Raw, destination);
        Assert.Equal(back, apic.IrrHas(0x44));
    }

    [Theory]
    [InlineData(5u, true)]
    [InlineData(0xFFu, false)] // an ordinary x2APIC ID
    [InlineData(0xFFFF_FFFFu, true)]
    [InlineData(0x105u, false)]
    public void X2apic_ipis_come_back_for_the_own_id_and_the_32_bit_broadcast(uint destination, bool back)
    {
        var apic = Create(x2: true);
        Assert.True(apic.TryWriteX2ApicMsr(0x830, Icr.Create(0x44, destinationHigh: destination).Raw));
        Assert.Equal(back, apic.IrrHas(0x44));
    }
}
