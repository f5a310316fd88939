// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics.Tracing;
using System.Globalization;

namespace VirtualApic.Benchmarks;

/// <summary>
/// The JIT's inlining decisions for the methods a probe names (<c>PROBE_INLINES=Unicast,TakeEoi256</c>):
/// the runtime's own JIT-tracing events (<c>MethodJitInliningSucceeded</c> / <c>Failed</c>, keyword
/// 0x1000 of Microsoft-Windows-DotNETRuntime), which a release runtime raises, where the inline tree
/// of <c>DOTNET_JitPrintInlinedMethods</c> needs a checked JIT. Every decision is printed as it comes,
/// one line each (<c>inline ok|FAIL root: inliner -> inlinee: reason</c>) after a <c>compile root</c>
/// line for each compile of the root (OSR, instrumented, Tier1: the last one is the code that runs), to
/// stderr, so a launch whose figure differs can be read against the code the JIT made for it
/// (docs/performance.md, "Thirty-ninth session").
/// </summary>
internal sealed class InliningLog : EventListener
{
    private const EventKeywords Jit = (EventKeywords)0x10;
    private const EventKeywords JitTracing = (EventKeywords)0x1000;
    private readonly string[] _roots;

    private InliningLog(string[] roots) => _roots = roots;

    /// <summary>Starts a log when the environment names methods; null when it names none.</summary>
    public static InliningLog? FromEnvironment() =>
        Environment.GetEnvironmentVariable("PROBE_INLINES") is { Length: > 0 } names
            ? new InliningLog(names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            : null;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, Jit | JitTracing);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        // Events can arrive while EventListener's constructor runs, before _roots is set.
        if (_roots is null || eventData.EventName is not { } name || eventData.Payload is not { } payload
            || eventData.PayloadNames is not { } names)
        {
            return;
        }

        string Field(string field) => names.IndexOf(field) is >= 0 and var i ? payload[i]?.ToString() ?? "" : "";

        // Each compile of a named method (Tier1, OSR, instrumented) starts its own list.
        if (name.StartsWith("MethodJittingStarted", StringComparison.Ordinal) && _roots.Contains(Field("MethodName")))
        {
            Console.Error.WriteLine($"compile {Field("MethodName")} (IL {Field("MethodILSize")} bytes)");
            return;
        }

        if (!name.StartsWith("MethodJitInlining", StringComparison.Ordinal))
        {
            return;
        }

        string root = Field("MethodBeingCompiledName");
        if (!_roots.Contains(root))
        {
            return;
        }

        bool ok = name.StartsWith("MethodJitInliningSucceeded", StringComparison.Ordinal);
        string inliner = Short(Field("InlinerNamespace"), Field("InlinerName"));
        string inlinee = Short(Field("InlineeNamespace"), Field("InlineeName"));
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"inline {(ok ? "ok  " : "FAIL")} {root}: {inliner} -> {inlinee}{(ok ? "" : ": " + Field("FailReason"))}"));
    }

    // Type.Method without the namespace.
    private static string Short(string type, string method) =>
        (type.LastIndexOf('.') is >= 0 and var dot ? type[(dot + 1)..] : type) + "." + method;
}
