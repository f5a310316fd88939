// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Cpu;

namespace VirtualApic.Scenarios.Running;

/// <summary>
/// A <see cref="IVmTracer"/> that also sees the scenario: the start of each run (with a clock to
/// timestamp library events), every statement with its result, and the guest-side moments a trace
/// draws as durations (an event taken, a halt, a restore) and the run's end.
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

    /// <summary>A statement is about to run: the exits and deliveries until <see cref="OnStatement"/> are its doing.</summary>
    /// <param name="cpu">The vCPU for a <c>cpuN</c> statement, or <c>null</c>.</param>
    /// <param name="line">The scenario line.</param>
    /// <param name="text">The statement text.</param>
    void OnStatementStart(int? cpu, int line, string text)
    {
    }

    /// <summary>The run can report each vCPU's IRR depth (vectors set in its IRR) from now on.</summary>
    /// <param name="irrDepth">Reads the IRR depth of a vCPU (follows migrations).</param>
    void OnIrrProbe(Func<int, int> irrDepth)
    {
    }

    /// <summary><paramref name="cpu"/> took <paramref name="taken"/> (a halted vCPU wakes by taking an event).</summary>
    void OnTake(int cpu, GuestEvent taken)
    {
    }

    /// <summary><paramref name="cpu"/> halted.</summary>
    void OnHalt(int cpu)
    {
    }

    /// <summary>The whole VM state was replaced (restore): in-service and pending vectors start over.</summary>
    void OnStateReplaced()
    {
    }

    /// <summary>The run ended.</summary>
    void OnRunEnd()
    {
    }
}
