// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Runtime;

namespace VirtualApic.Benchmarks;

/// <summary>
/// Runs a benchmark's body until the tiered JIT has finished with it, before BenchmarkDotNet measures.
/// </summary>
/// <remarks>
/// The hot path starts as Tier0 code (200-300 ns per W1 cycle instead of 12-30) and is promoted to
/// Tier1 by a background thread after a call-counting delay. On this 2-core machine that took 2 to
/// more than 7 seconds of running the body, longer than the whole warm-up of <c>--job short</c>
/// (3 iterations), so some launches measured Tier0 or half-promoted code: the 5-15x launch-to-launch
/// flips of docs/performance.md. Each [GlobalSetup] therefore ends here: the bodies run until no
/// method has been compiled for <see cref="QuietFor"/> (at least <see cref="AtLeast"/>, at most
/// <see cref="AtMost"/>). <c>VAPIC_BENCH_NO_JIT_WARMUP=1</c> skips it, to show the flips.
/// <para>Tier1 code is not one shape either. The body is compiled with whatever profile its callees'
/// instrumented code has gathered by then, and pinned to one CPU the background thread that installs
/// the instrumented code runs only when the benchmark thread lets it: how far it got was chance, so
/// W3 under x2avic was compiled with 5 to 13 inlinees lacking a profile (4.3 to 5.2 KB of code) and
/// measured 51 or 54-67 ns per launch, and W2's body got 32 to 41 inlinees. The warm-up therefore
/// starts with <see cref="PacedRounds"/> rounds (at most <see cref="PacedAtMost"/>), each followed by
/// a 1 ms sleep that hands the CPU to the tiering thread, as the other cores of a real host would: every
/// launch then compiles the same shape (docs/performance.md, "Seventeenth session").</para>
/// </remarks>
internal static class JitWarmup
{
    /// <summary>How long the JIT must stay idle.</summary>
    public static readonly TimeSpan QuietFor = TimeSpan.FromSeconds(1);

    /// <summary>The shortest warm-up (the call-counting delay and 30 calls per method fit well inside).</summary>
    public static readonly TimeSpan AtLeast = TimeSpan.FromSeconds(1.5);

    /// <summary>The longest warm-up, if the JIT never goes quiet (then BenchmarkDotNet's own warm-up follows).</summary>
    public static readonly TimeSpan AtMost = TimeSpan.FromSeconds(60);

    /// <summary>Rounds at the start, each followed by a pause that leaves the CPU to the tiering thread.</summary>
    public const int PacedRounds = 1000;

    /// <summary>The longest paced start (a body that takes milliseconds needs fewer rounds).</summary>
    public static readonly TimeSpan PacedAtMost = TimeSpan.FromSeconds(2);

    /// <summary>Runs <paramref name="bodies"/> in turn until the JIT is quiet; returns the time it took.</summary>
    public static TimeSpan UntilQuiet(params Action[] bodies)
    {
        if (Environment.GetEnvironmentVariable("VAPIC_BENCH_NO_JIT_WARMUP") == "1")
        {
            return TimeSpan.Zero;
        }

        var clock = Stopwatch.StartNew();
        for (int round = 0; round < PacedRounds && clock.Elapsed < PacedAtMost; round++)
        {
            RunAll(bodies);
            Thread.Sleep(1);
        }

        long compiled = JitInfo.GetCompiledMethodCount();
        var lastChange = TimeSpan.Zero;
        while (clock.Elapsed < AtMost)
        {
            RunAll(bodies);
            long now = JitInfo.GetCompiledMethodCount();
            var elapsed = clock.Elapsed;
            if (now != compiled)
            {
                compiled = now;
                lastChange = elapsed;
            }
            else if (elapsed - lastChange >= QuietFor && elapsed >= AtLeast)
            {
                break;
            }
        }

        return clock.Elapsed;
    }

    private static void RunAll(Action[] bodies)
    {
        foreach (var body in bodies)
        {
            body();
        }
    }
}
