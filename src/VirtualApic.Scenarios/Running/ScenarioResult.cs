// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Running;

/// <summary>One line of the observation log: <c>LINE cpuN STATEMENT -&gt; RESULT</c>.</summary>
/// <param name="Line">The 1-based scenario line of the statement.</param>
/// <param name="Text">The whole log line as printed.</param>
public sealed record Observation(int Line, string Text)
{
    /// <summary>The log line as printed.</summary>
    public override string ToString() => Text;
}

/// <summary>A failed expectation, probe or run error at one scenario line.</summary>
/// <param name="Line">The 1-based scenario line.</param>
/// <param name="Message">What went wrong, for example <c>expected 0x10, observed 0x0</c>.</param>
public sealed record ScenarioFailure(int Line, string Message);

/// <summary>The exit count of one vCPU for one reason under one backend.</summary>
/// <param name="Backend">The backend name (<c>none</c>, <c>apicv</c>, <c>avic</c>, <c>x2avic</c>).</param>
/// <param name="Cpu">The vCPU index.</param>
/// <param name="Reason">The exit reason name (<c>avic-noaccel</c>...).</param>
/// <param name="Count">How many exits.</param>
public sealed record ExitCount(string Backend, int Cpu, string Reason, long Count);

/// <summary>The outcome of running one scenario under one backend.</summary>
public sealed class ScenarioResult
{
    internal ScenarioResult(string fileName, string backend, IReadOnlyList<Observation> log, IReadOnlyList<ScenarioFailure> failures, bool dead, IReadOnlyList<ExitCount> exits)
    {
        FileName = fileName;
        Backend = backend;
        Log = log;
        Failures = failures;
        Dead = dead;
        Exits = exits;
    }

    /// <summary>The scenario's file name.</summary>
    public string FileName { get; }

    /// <summary>The backend the run started under (<c>none</c>, <c>apicv</c>, <c>avic</c>, <c>x2avic</c>).</summary>
    public string Backend { get; }

    /// <summary>The observation log in statement order.</summary>
    public IReadOnlyList<Observation> Log { get; }

    /// <summary>Every failed expectation or probe, and any run error, in line order.</summary>
    public IReadOnlyList<ScenarioFailure> Failures { get; }

    /// <summary>True when an unexpected exception escaped the library and the VM was marked dead.</summary>
    public bool Dead { get; }

    /// <summary>True when the VM ended running.</summary>
    public bool Running => !Dead;

    /// <summary>Non-zero exit counts per backend (migration switches backend), vCPU and reason.</summary>
    public IReadOnlyList<ExitCount> Exits { get; }

    /// <summary>The text each <c>dump</c> statement printed, in order, each headed by its file, line and backend.</summary>
    public IReadOnlyList<string> Dumps { get; init; } = [];

    /// <summary>True when nothing failed.</summary>
    public bool Passed => Failures.Count == 0;
}
