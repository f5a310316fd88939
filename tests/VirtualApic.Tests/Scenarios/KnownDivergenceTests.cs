// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Scenarios.Running;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

public sealed class KnownDivergenceTests
{
    [Theory]
    [InlineData("cpu0 ipi 5 dest=1", true)]
    [InlineData("cpu0 ipi 0 dest=1 mode=init", false)]
    [InlineData("cpu0 ipi 0 dest=1 mode=nmi", false)]
    [InlineData("cpu0 ipi 5 dest=1 mode=lowest", false)]
    [InlineData("cpu0 ipi 5 dest=1 trigger=level", false)]
    [InlineData("cpu0 ipi 0x20 dest=1", false)]
    public void Avic_low_vector_divergence_covers_only_fixed_edge_ipis(string ipi, bool known)
    {
        var scenario = ScenarioAssert.Parses($"vm cpus=2\n{ipi}\ncpu1 read IRR0\n");
        Assert.Equal(known, KnownDivergences.Explain(scenario, ApicProfile.Kvm, AccelKind.Avic, 3) is not null);
        Assert.Null(KnownDivergences.Explain(scenario, ApicProfile.Kvm, AccelKind.Apicv, 3));
    }
}
