using VirtualApic.Profiles;
using VirtualApic.Scenarios.Running;
using VirtualApic.Scenarios.Syntax;

namespace VirtualApic.Tests.Scenarios;

public sealed class RunnerTests
{
    private static ScenarioResult Run(string text, AccelKind? accel = null, ApicProfile? profile = null) =>
        ScenarioRunner.Run(ScenarioAssert.Parses(text), accel, profile);

    private static string LogOf(ScenarioResult result, int line) =>
        Assert.Single(result.Log, o => o.Line == line).Text;

    [Fact]
    public void Rdmsr_logs_the_value()
    {
        var r = Run("vm\ncpu0 rdmsr APIC_BASE == 0xfee00900\n");
        Assert.True(r.Passed, string.Join("\n", r.Failures));
        Assert.Equal("2 cpu0 rdmsr APIC_BASE == 0xfee00900 -> 0xfee00900", LogOf(r, 2));
    }

    [Fact]
    public void Failed_expectation_reports_expected_and_observed()
    {
        var r = Run("vm\ncpu0 rdmsr APIC_BASE == 0x1\n");
        var f = Assert.Single(r.Failures);
        Assert.Equal(2, f.Line);
        Assert.Equal("expected 0x1, observed 0xfee00900", f.Message);
    }
}
