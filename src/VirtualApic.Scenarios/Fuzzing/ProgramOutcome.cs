// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>The outcome of one fuzz program (<see cref="FuzzCampaign.Evaluate"/>).</summary>
/// <param name="Steps">Statements executed, over every run.</param>
/// <param name="Finding">The first finding, if any.</param>
/// <param name="Coverage">What the program reached.</param>
public sealed record ProgramOutcome(long Steps, (FindingKind Kind, string Description)? Finding, ProgramCoverage Coverage);
