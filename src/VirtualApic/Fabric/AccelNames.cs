// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Fabric;

/// <summary>
/// The one spelling of the backend names (<c>none</c>, <c>apicv</c>, <c>avic</c>, <c>x2avic</c>): the
/// scenario language's <c>accel=</c>, the command line's <c>--accel</c>, traces, statistics and reports.
/// </summary>
public static class AccelNames
{
    private static readonly string[] NameArray = ["none", "apicv", "avic", "x2avic"];

    /// <summary>Every backend, in the order the tools run and report them.</summary>
    public static IReadOnlyList<AccelKind> All { get; } = [AccelKind.None, AccelKind.Apicv, AccelKind.Avic, AccelKind.X2Avic];

    /// <summary>Every backend name, in the order of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Names => NameArray;

    /// <summary>The name of <paramref name="kind"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a backend.</exception>
    public static string Format(AccelKind kind) =>
        (uint)kind < (uint)NameArray.Length
            ? NameArray[(int)kind]
            : throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a backend");

    /// <summary>Looks up a backend name, ignoring case.</summary>
    public static bool TryParse(string? name, out AccelKind kind)
    {
        for (int i = 0; i < NameArray.Length; i++)
        {
            if (string.Equals(name, NameArray[i], StringComparison.OrdinalIgnoreCase))
            {
                kind = (AccelKind)i;
                return true;
            }
        }

        kind = AccelKind.None;
        return false;
    }

    /// <summary>Whether <paramref name="kind"/> models AMD SVM hardware (AVIC, x2AVIC) rather than Intel VMX or none.</summary>
    public static bool IsSvm(AccelKind kind) => kind is AccelKind.Avic or AccelKind.X2Avic;
}
