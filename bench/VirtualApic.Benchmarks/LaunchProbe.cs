// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace VirtualApic.Benchmarks;

/// <summary>
/// <c>--probe CLASS[.METHOD] [NAME=VALUE...]</c>: one benchmark case in this process, without
/// BenchmarkDotNet, to see how a fresh launch's JIT state changes a case's speed. It runs the case's
/// [GlobalSetup], a warm-up, then 250 ms iterations, and prints one line: the median and minimum in
/// ns per operation. bench/probe-launches.sh launches it many times and prints the spread across
/// launches (docs/performance.md, "Launch-to-launch flips").
/// </summary>
internal static class LaunchProbe
{
    public static int Run(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: --probe CLASS[.METHOD] [NAME=VALUE...] [warmup=MS] [iterations=N]");
            return 2;
        }

        string[] target = args[0].Split('.');
        var type = typeof(Program).Assembly.GetType("VirtualApic.Benchmarks." + target[0])
            ?? throw new ArgumentException($"--probe: no benchmark class '{target[0]}'");
        object instance = Activator.CreateInstance(type)!;
        int warmupMs = 500;
        int iterations = 10;
        foreach (string arg in args.AsSpan(1))
        {
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ArgumentException($"--probe: '{arg}' is not NAME=VALUE");
            }

            string name = arg[..eq];
            string value = arg[(eq + 1)..];
            if (name == "warmup")
            {
                warmupMs = int.Parse(value, CultureInfo.InvariantCulture);
                continue;
            }

            if (name == "iterations")
            {
                iterations = int.Parse(value, CultureInfo.InvariantCulture);
                continue;
            }

            var property = type.GetProperty(name) ?? throw new ArgumentException($"--probe: {type.Name} has no parameter '{name}'");
            object converted = property.PropertyType.IsEnum
                ? Enum.Parse(property.PropertyType, value, ignoreCase: true)
                : Convert.ChangeType(value, property.PropertyType, CultureInfo.InvariantCulture);
            property.SetValue(instance, converted);
        }

        using var inlining = InliningLog.FromEnvironment();
        var benchmarks = type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null).ToArray();
        var method = target.Length > 1
            ? benchmarks.Single(m => m.Name == target[1])
            : benchmarks.Length == 1 ? benchmarks[0] : throw new ArgumentException($"--probe: name one of {string.Join(", ", benchmarks.Select(m => m.Name))}");
        int opsPerInvoke = method.GetCustomAttribute<BenchmarkAttribute>()!.OperationsPerInvoke;

        // A class may have one [GlobalSetup] per group of benchmarks (Targets); the probe runs the one
        // that names this benchmark, or the one that names none.
        type.GetMethods()
            .SingleOrDefault(m => m.GetCustomAttribute<GlobalSetupAttribute>() is { } setup
                && (setup.Targets is not { Length: > 0 } targets || targets.Contains(method.Name)))
            ?.Invoke(instance, null);
        var measure = typeof(LaunchProbe).GetMethod(nameof(Measure), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(method.ReturnType == typeof(void) ? typeof(int) : method.ReturnType);
        var loop = method.ReturnType == typeof(void)
            ? (Func<int>)(() => { method.CreateDelegate<Action>(instance)(); return 0; })
            : method.CreateDelegate(typeof(Func<>).MakeGenericType(method.ReturnType), instance);
        double[] result = (double[])measure.Invoke(null, [loop, opsPerInvoke, warmupMs, iterations])!;
        if (Environment.GetEnvironmentVariable("PROBE_ALL") == "1")
        {
            Console.WriteLine(string.Join(' ', result.Select(r => r.ToString("F1", CultureInfo.InvariantCulture))));
        }

        Array.Sort(result);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median {result[result.Length / 2]:F2} min {result[0]:F2} ns/op"));
        type.GetMethods().SingleOrDefault(m => m.GetCustomAttribute<GlobalCleanupAttribute>() is not null)?.Invoke(instance, null);
        return 0;
    }

    // Calls the benchmark through a delegate, as BenchmarkDotNet's generated loop does: a warm-up of
    // warmupMs, then iterations of about 250 ms each, returning ns per operation per iteration.
    private static double[] Measure<T>(Func<T> body, int opsPerInvoke, int warmupMs, int iterations)
    {
        var clock = Stopwatch.StartNew();
        long calls = 0;
        while (clock.ElapsedMilliseconds < warmupMs)
        {
            body();
            calls++;
        }

        long perIteration = Math.Max(1, calls * 250 / Math.Max(1, warmupMs));
        double[] results = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            for (long c = 0; c < perIteration; c++)
            {
                body();
            }

            double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds;
            results[i] = ns / (perIteration * opsPerInvoke);
        }

        return results;
    }
}
