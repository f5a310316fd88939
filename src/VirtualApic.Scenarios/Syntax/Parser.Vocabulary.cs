// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>Every keyword the parser knows, by where it may appear: docs/scenario-format.md is checked against it.</summary>
internal sealed partial class Parser
{
    /// <summary>
    /// The keyword sets, each named by its place in the grammar (for example <c>vm option</c>,
    /// <c>cpu statement</c>). A test requires every word to appear in an example of
    /// docs/scenario-format.md that parses.
    /// </summary>
    /// <remarks>Built on each call: static fields of a partial class initialise in an unspecified file order.</remarks>
    internal static IReadOnlyDictionary<string, IReadOnlyList<string>> Vocabulary => new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
    {
        ["statement"] = Statements.Words,
        ["vm option"] = VmOptionNames.Words,
        ["accel"] = Accels.Words,
        ["profile"] = Profiles.Words,
        ["on/off"] = OnOff.Words,
        ["ap-state"] = ApStates.Words,
        ["cpu statement"] = CpuOps.Words,
        ["ipi option"] = IpiOptions.Words,
        ["ipi mode"] = IpiModes.Words,
        ["ipi shorthand"] = Shorthands.Words,
        ["ipi level"] = Levels.Words,
        ["trigger"] = Triggers.Words,
        ["route option"] = RouteOptions.Words,
        ["route mode"] = RouteModes.Words,
        ["polarity"] = Polarities.Words,
        ["line action"] = LineActions.Words,
        ["cpuid register"] = CpuidRegisters.Words,
        ["mmio size"] = MmioSizes.Words,
        ["cpu probe"] = CpuProbes.Words,
        ["pin probe"] = PinProbes.Words,
        ["vector check"] = VectorChecks.Words,
        ["pending event"] = PendingEvents.Words,
        ["apic mode"] = Modes.Words,
        ["vcpu state"] = RunStates.Words,
        ["vm state"] = VmStates.Words,
        ["expected word"] = ExpectedWords.Words,
        ["pending test"] = HasLacks.Words,
    };
}
