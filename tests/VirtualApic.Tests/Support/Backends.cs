// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;

namespace VirtualApic.Tests.Support;

/// <summary>
/// The backends a test runs under, taken from the one spelling (<see cref="AccelNames"/>), as lists and
/// as theory data (<c>[MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]</c>).
/// </summary>
internal static class Backends
{
    /// <summary>Every backend, <c>none</c> first: none, apicv, avic, x2avic.</summary>
    public static IReadOnlyList<AccelKind> All => AccelNames.All;

    /// <summary>The hardware assists only (apicv, avic, x2avic): every backend but <c>none</c>.</summary>
    public static IReadOnlyList<AccelKind> Assisted { get; } = [.. AccelNames.All.Where(kind => kind != AccelKind.None)];

    /// <summary>Every backend, one theory case each.</summary>
    public static TheoryData<AccelKind> Each() => [.. All];

    /// <summary>Every hardware assist, one theory case each.</summary>
    public static TheoryData<AccelKind> EachAssisted() => [.. Assisted];
}
