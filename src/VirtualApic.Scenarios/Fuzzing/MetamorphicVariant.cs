// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>Where and how a program's extra metamorphic run is perturbed.</summary>
/// <param name="Kind">The perturbation.</param>
/// <param name="Step">After which statement (modulo the program's length).</param>
/// <param name="Backend">Under which backend (index into none, apicv, avic, x2avic, modulo 4).</param>
public readonly record struct MetamorphicVariant(MetamorphicKind Kind, int Step, int Backend);
