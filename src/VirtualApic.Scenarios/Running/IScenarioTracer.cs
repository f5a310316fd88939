using VirtualApic.Assist;

namespace VirtualApic.Scenarios.Running;

/// <summary>
/// A <see cref="IVmTracer"/> that also sees the scenario: the start of each run (with a clock to
/// timestamp library events) and every statement with its result.
/// </summary>
public interface IScenarioTracer : IVmTracer
{
    /// <summary>A run starts.</summary>
    /// <param name="fileName">The scenario file.</param>
    /// <param name="backend">The backend name.</param>
    /// <param name="cpus">The number of vCPUs.</param>
    /// <param name="nowNs">Reads the current virtual time in nanoseconds (follows migrations).</param>
    void OnRunStart(string fileName, string backend, int cpus, Func<long> nowNs);

    /// <summary>A statement ran.</summary>
    /// <param name="cpu">The vCPU for a <c>cpuN</c> statement, or <c>null</c> for device, probe and VM statements.</param>
    /// <param name="line">The scenario line.</param>
    /// <param name="text">The statement text.</param>
    /// <param name="result">What it observed, or <c>null</c>.</param>
    void OnStatement(int? cpu, int line, string text, string? result);
}
