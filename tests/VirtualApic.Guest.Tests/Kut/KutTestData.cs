// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Kut;

namespace VirtualApic.Guest.Tests.Kut;

/// <summary>
/// The kvm-unit-tests binaries for the tests: <c>$VAPIC_KUT_DIR</c> or ../shared/testdata beside the
/// repository. Missing data fails the test when <c>CI=true</c> and skips it visibly otherwise.
/// </summary>
internal static class KutTestData
{
    public static string Require()
    {
        string? dir = KutData.Locate(AppContext.BaseDirectory, out string looked);
        if (dir is not null && File.Exists(Path.Combine(dir, "apic.flat")) && File.Exists(Path.Combine(dir, "ioapic.flat")))
        {
            return dir;
        }

        string reason = $"kvm-unit-tests binaries (apic.flat, ioapic.flat) not found: looked at {looked}";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(reason + " (CI=true: the test data must be present)");
        }

        Assert.Skip(reason);
        return "";
    }
}
