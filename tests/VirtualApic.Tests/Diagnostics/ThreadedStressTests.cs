using VirtualApic.Diagnostics;
using VirtualApic.Fabric;

namespace VirtualApic.Tests.Diagnostics;

/// <summary>
/// vCPUs on real threads sending IPIs to each other, devices sending MSIs, and an inhibit toggling
/// underneath: every interrupt sent is taken exactly once, under every backend.
/// </summary>
public class ThreadedStressTests
{
    [Theory]
    [InlineData(AccelKind.None, false)]
    [InlineData(AccelKind.Apicv, false)]
    [InlineData(AccelKind.Avic, false)]
    [InlineData(AccelKind.X2Avic, false)]
    [InlineData(AccelKind.None, true)]
    [InlineData(AccelKind.Apicv, true)]
    [InlineData(AccelKind.Avic, true)]
    [InlineData(AccelKind.X2Avic, true)]
    public void Every_interrupt_is_taken_exactly_once_while_inhibits_toggle(AccelKind accel, bool bound)
    {
        var result = ThreadedStress.Run(new StressOptions
        {
            Cpus = 4,
            Accel = accel,
            Duration = TimeSpan.FromMilliseconds(400),
            DeviceThreads = 1,
            ToggleInhibits = true,
            BindVcpuThreads = bound,
        });

        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        Assert.True(result.Sent > 100, $"only {result.Sent} interrupts sent");
        Assert.Equal(0, result.Lost);
        Assert.Equal(0, result.Duplicated);
        Assert.Equal(result.Sent, result.Received);
        if (accel != AccelKind.None)
        {
            Assert.True(result.InhibitToggles >= 2, $"the assist toggled {result.InhibitToggles} times");
        }
    }
}
