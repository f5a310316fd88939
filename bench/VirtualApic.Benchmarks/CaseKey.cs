// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;

namespace VirtualApic.Benchmarks;

/// <summary>
/// A benchmark case's name as bench/compare.sh writes it: <c>CLASS;METHOD name=value ...</c>, the
/// parameters in the fixed order of its table (accel, irr, bound, cpus, members, senders), each value
/// as BenchmarkDotNet's CSV report prints it. The spell canary logs cases by it, and
/// <c>VAPIC_CASES</c> names the cases a run of the suite measures again.
/// </summary>
internal static class CaseKey
{
    private const string CasesVariable = "VAPIC_CASES";

    // compare.sh's extract() builds the same label from the CSV's columns, in this order.
    private static readonly string[] ParameterOrder = ["Accel", "Irr", "Bound", "Cpus", "Members", "Senders"];

    public static string Of(BenchmarkCase benchmarkCase)
    {
        var key = new StringBuilder()
            .Append(benchmarkCase.Descriptor.Type.Name).Append(';')
            .Append(benchmarkCase.Descriptor.WorkloadMethod.Name);
        foreach (string name in ParameterOrder)
        {
            foreach (var parameter in benchmarkCase.Parameters.Items)
            {
                if (parameter.Name == name)
                {
                    key.Append(' ').Append(name.ToLowerInvariant()).Append('=')
                        .Append(Convert.ToString(parameter.Value, CultureInfo.InvariantCulture));
                }
            }
        }

        return key.ToString();
    }

    /// <summary>
    /// The filter <c>VAPIC_CASES</c> asks for: when it names a file, only the cases listed in it
    /// (one key per line) run; otherwise null.
    /// </summary>
    public static SimpleFilter? FilterFromEnvironment()
    {
        string? path = Environment.GetEnvironmentVariable(CasesVariable);
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{CasesVariable} names '{path}', which does not exist", path);
        }

        var wanted = new HashSet<string>(File.ReadAllLines(path).Where(line => line.Length > 0), StringComparer.Ordinal);
        return new SimpleFilter(benchmarkCase => wanted.Contains(Of(benchmarkCase)));
    }
}
