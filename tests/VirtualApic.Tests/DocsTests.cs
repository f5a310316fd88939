// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Profiles;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests;

public class DocsTests
{
    [Fact]
    public void Every_profile_switch_is_in_docs_profiles_md_with_both_behaviours()
    {
        string doc = Repo.Read("docs/profiles.md");
        foreach (var row in ProfileSwitches.All)
        {
            Assert.Contains($"`{row.Name}`", doc, StringComparison.Ordinal);
            Assert.Contains(row.Kvm, doc, StringComparison.Ordinal);
            Assert.Contains(row.Architectural, doc, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_exit_reason_is_documented_in_docs_exits_md()
    {
        string doc = Repo.Read("docs/exits.md");
        foreach (var reason in VirtualApic.Assist.ExitStatistics.Reasons)
        {
            Assert.Contains($"| `{VirtualApic.Assist.ExitStatistics.NameOf(reason)}` |", doc, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_profile_property_has_a_documented_switch()
    {
        var documented = ProfileSwitches.All.Select(r => r.Name).ToHashSet();
        foreach (var p in typeof(ApicProfile).GetProperties().Where(p => p.Name != nameof(ApicProfile.Name) && p.Name != "EqualityContract"))
        {
            Assert.Contains(p.Name, documented);
        }
    }
}
