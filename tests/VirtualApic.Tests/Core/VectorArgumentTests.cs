// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>Public methods that take a vector reject one outside 0-255 instead of writing into the next register's words.</summary>
public class VectorArgumentTests
{
    [Theory]
    [InlineData(256)]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void Out_of_range_vectors_are_argument_errors_and_change_nothing(int vector)
    {
        foreach (bool concurrent in new[] { true, false })
        {
            OutOfRangeVectorIsRejected(vector, concurrent);
        }
    }

    // Without concurrent delivery SetIrr and OrIrrWord write the page with plain, unchecked stores:
    // their own range checks are all that keeps a bad vector out of the next register's words.
    private static void OutOfRangeVectorIsRejected(int vector, bool concurrentDelivery)
    {
        var apic = TestApic.Create(ApicMode.XApic, new ApicConfig { ConcurrentDelivery = concurrentDelivery });
        byte[] before = new byte[ApicPage.Size];
        apic.Page.CopyTo(before);

        Assert.Throws<ArgumentOutOfRangeException>(() => apic.SetIrr(vector));
        Assert.Throws<ArgumentOutOfRangeException>(() => apic.SetIrrAndKick(vector));
        Assert.Throws<ArgumentOutOfRangeException>(() => apic.SetIoApicHandled(vector, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => apic.IsIoApicHandled(vector));
        Assert.Throws<ArgumentOutOfRangeException>(() => apic.Page.SetVector(ApicOffset.Irr, vector));
        Assert.Throws<ArgumentOutOfRangeException>(() => apic.Page.TestAndSetVectorAtomic(ApicOffset.Isr, vector));
        Assert.Throws<ArgumentOutOfRangeException>(() => apic.OrIrrWord(8, 1));

        byte[] after = new byte[ApicPage.Size];
        apic.Page.CopyTo(after);
        Assert.Equal(before, after);
    }
}
