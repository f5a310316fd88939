// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>The backend names are spelled once (<see cref="AccelNames"/>) and every layer agrees with that spelling.</summary>
public class AccelNamesTests
{
    [Fact]
    public void Every_backend_formats_and_parses_back_ignoring_case()
    {
        Assert.Equal(["none", "apicv", "avic", "x2avic"], AccelNames.Names);
        Assert.Equal(Enum.GetValues<AccelKind>(), AccelNames.All);
        foreach (var kind in AccelNames.All)
        {
            string name = AccelNames.Format(kind);
            Assert.True(AccelNames.TryParse(name, out var parsed));
            Assert.Equal(kind, parsed);
            Assert.True(AccelNames.TryParse(name.ToUpperInvariant(), out parsed));
            Assert.Equal(kind, parsed);
        }

        Assert.False(AccelNames.TryParse("all", out _));
        Assert.False(AccelNames.TryParse("", out _));
        Assert.False(AccelNames.TryParse(null, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => AccelNames.Format((AccelKind)7));
    }

    [Fact]
    public void Each_hardware_model_and_the_scenario_language_use_the_same_name()
    {
        foreach (var kind in AccelNames.All)
        {
            using var vm = new VirtualMachine(new VmOptions { Accel = kind });
            Assert.Equal(AccelNames.Format(kind), vm.Accelerator.Name);
            var scenario = ScenarioAssert.Parses($"vm accel={AccelNames.Format(kind)}\n");
            Assert.Equal(kind, scenario.Vm.Accel);
        }
    }

    [Fact]
    public void No_other_source_file_spells_a_backend_name()
    {
        // Allowed: the table itself; the AVIC model's Name (Assist sits below Fabric and cannot use
        // AccelNames; the test above ties it to the table).
        string[] allowed = ["src/VirtualApic/Fabric/AccelNames.cs", "src/VirtualApic/Assist/Avic.cs"];
        string root = Repo.Root;
        var offenders = Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Where(f => !allowed.Contains(f))
            .Where(f => File.ReadAllText(Path.Combine(root, f)).Contains("\"x2avic\"", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(offenders);
    }
}
