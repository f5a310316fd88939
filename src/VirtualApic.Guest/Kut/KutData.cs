// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Kut;

/// <summary>
/// Where the kvm-unit-tests binaries live: <c>$VAPIC_KUT_DIR</c>, else
/// <c>../shared/testdata/kvm-unit-tests/1da1819e</c> beside the repository root (the folder holding
/// VirtualApic.slnx, found by walking up from a start folder).
/// </summary>
public static class KutData
{
    /// <summary>The environment variable that overrides the location.</summary>
    public const string EnvironmentVariable = "VAPIC_KUT_DIR";

    /// <summary>The location relative to the repository root.</summary>
    public const string RelativeToRepository = "../shared/testdata/kvm-unit-tests/1da1819e";

    /// <summary>The folder, or <see langword="null"/> with <paramref name="looked"/> saying where it looked.</summary>
    /// <param name="start">Where to start walking up (default: the current directory).</param>
    /// <param name="looked">The places tried, for a message.</param>
    public static string? Locate(string? start, out string looked)
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env)
        {
            looked = $"${EnvironmentVariable}={env}";
            return Directory.Exists(env) ? Path.GetFullPath(env) : null;
        }

        for (var dir = new DirectoryInfo(start ?? Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VirtualApic.slnx")))
            {
                string candidate = Path.GetFullPath(Path.Combine(dir.FullName, RelativeToRepository));
                looked = candidate + $" (set ${EnvironmentVariable} to use another folder)";
                return Directory.Exists(candidate) ? candidate : null;
            }
        }

        looked = $"no VirtualApic.slnx above {start ?? Directory.GetCurrentDirectory()} and ${EnvironmentVariable} is not set";
        return null;
    }
}
