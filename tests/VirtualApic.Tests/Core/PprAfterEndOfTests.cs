// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="LocalApic.PprAfterEndOf"/>, the PPR another processor's arbitration reads for an APIC
/// whose guest ended its highest in-service vector by PV EOI, is the PPR the APIC has once that
/// vector really leaves the ISR (SDM 11.8.3.1).
/// </summary>
public class PprAfterEndOfTests
{
    [Fact]
    public void The_ppr_after_ending_the_highest_in_service_vector_is_the_ppr_once_it_has_left()
    {
        var gen = Gen.Select(Gen.UInt[0, 0xFF], Gen.Int[16, 255].Array[1, 8]);
        gen.Sample((tpr, vectors) =>
        {
            var apic = TestApic.Create();
            Assert.True(apic.Write(ApicOffset.Tpr, tpr));
            foreach (int v in vectors)
            {
                apic.Page.SetVector(ApicOffset.Isr, v);
            }

            apic.RefreshIsrCache();
            int highest = apic.Page.HighestVector(ApicOffset.Isr);

            uint predicted = apic.PprAfterEndOf(highest);
            apic.Page.ClearVector(ApicOffset.Isr, highest);
            apic.RefreshIsrCache();

            Assert.Equal(apic.Ppr, predicted);
        });
    }
}
