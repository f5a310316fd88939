// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="LocalApic.Acknowledge(int)"/>, the acknowledge of a vector the caller already found
/// with <see cref="LocalApic.PendingVector"/> (the W1 benchmark's path): the same rule as the
/// INTA cycle (SDM 11.8.3), refusing and changing nothing when the vector is not deliverable.
/// </summary>
public class AcknowledgeVectorTests
{
    [Fact]
    public void A_pending_vector_moves_to_the_isr_and_becomes_ppr()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Raise(0x53));
        Assert.True(apic.Raise(0x31));

        Assert.True(apic.Acknowledge(0x53));

        Assert.False(apic.IrrHas(0x53));
        Assert.True(apic.IsrHas(0x53));
        Assert.Equal(1, apic.IsrCount);
        Assert.Equal(0x53, apic.HighestIsr);
        Assert.Equal(0x50u, apic.Page.Read(ApicOffset.Ppr));
        Assert.True(apic.IrrHas(0x31));
    }

    [Theory]
    [InlineData(0x40u, 0x4F)] // class equal to PPR's: not above it
    [InlineData(0x41u, 0x4F)] // the whole PPR counts: class 0x40 is not above 0x41
    [InlineData(0xF0u, 0xFF)]
    public void A_vector_whose_class_is_not_above_ppr_is_refused(uint tpr, int vector)
    {
        var apic = TestApic.Create();
        Assert.True(apic.Write(ApicOffset.Tpr, tpr));
        Assert.True(apic.Raise((byte)vector));

        Assert.False(apic.Acknowledge(vector));

        Assert.True(apic.IrrHas(vector));
        Assert.Equal(0, apic.IsrCount);
        Assert.Equal(tpr, apic.Page.Read(ApicOffset.Ppr));
    }

    [Fact]
    public void A_vector_one_class_above_ppr_is_taken()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Write(ApicOffset.Tpr, 0x4F));
        Assert.True(apic.Raise(0x50));

        Assert.True(apic.Acknowledge(0x50));
        Assert.True(apic.IsrHas(0x50));
    }

    [Fact]
    public void A_vector_not_in_the_irr_is_refused_and_nothing_changes()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Raise(0x31));

        Assert.False(apic.Acknowledge(0x32));

        Assert.Equal(0, apic.IsrCount);
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Ppr));
        Assert.True(apic.IrrHas(0x31));
    }

    [Theory]
    [InlineData(256)]
    [InlineData(0x1F0)]
    [InlineData(-1)]
    public void A_vector_outside_0_to_255_is_refused(int vector)
    {
        var apic = TestApic.Create();
        Assert.True(apic.Raise(0xF0));

        Assert.False(apic.Acknowledge(vector));

        Assert.Equal(0, apic.IsrCount);
        Assert.True(apic.IrrHas(0xF0));
    }

    [Fact]
    public void A_bound_irr_is_acknowledged_with_the_plain_clear()
    {
        var apic = TestApic.Create();
        apic.BindOwnerToCurrentThread();
        Assert.True(apic.Raise(0x66));

        Assert.True(apic.Acknowledge(0x66));

        Assert.False(apic.IrrHas(0x66));
        Assert.True(apic.IsrHas(0x66));
        Assert.False(apic.Acknowledge(0x66));
    }
}
