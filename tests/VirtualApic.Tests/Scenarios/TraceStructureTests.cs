// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.Json;
using VirtualApic.Cli;
using VirtualApic.Fabric;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>
/// A suite's trace reads well in Perfetto: one named process per scenario and backend, named tracks,
/// timestamps that never go backwards, balanced duration slices, flows with both ends, counters.
/// </summary>
public sealed class TraceStructureTests : IDisposable
{
    private static readonly string[] Suite =
    [
        "scenarios/examples/04-ipis.vapic",
        "scenarios/examples/05-ioapic-level.vapic",
        "scenarios/examples/09-snapshot-migrate.vapic",
    ];

    private readonly ScratchDirectory _scratch = new("vapic-trace-");

    public void Dispose() => _scratch.Dispose();

    private List<JsonElement> TraceOfSuite(out JsonDocument doc)
    {
        string trace = Path.Combine(_scratch.FullName, "suite.json");
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = Program.Run(["run", .. Suite.Select(Repo.PathOf), "--accel", "all", "--trace", trace], stdout, stderr);
        Assert.True(code == 0, stdout.ToString() + stderr);
        doc = JsonDocument.Parse(File.ReadAllBytes(trace));
        return doc.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
    }

    private static string Ph(JsonElement e) => e.GetProperty("ph").GetString()!;

    [Fact]
    public void Three_scenarios_under_every_backend_make_twelve_named_processes_with_named_tracks()
    {
        var events = TraceOfSuite(out var doc);
        using (doc)
        {
            var processes = events.Where(e => Ph(e) == "M" && e.GetProperty("name").GetString() == "process_name")
                .Select(e => (Pid: e.GetProperty("pid").GetInt32(), Name: e.GetProperty("args").GetProperty("name").GetString()!)).ToList();
            Assert.Equal(12, processes.Count);
            Assert.Equal(12, processes.Select(p => p.Pid).Distinct().Count());
            foreach (string file in Suite)
            {
                foreach (string backend in AccelNames.Names)
                {
                    Assert.Single(processes, p => p.Name == $"{Repo.PathOf(file)} [{backend}]");
                }
            }

            var threads = events.Where(e => Ph(e) == "M" && e.GetProperty("name").GetString() == "thread_name").ToList();
            foreach (var (pid, _) in processes)
            {
                var mine = threads.Where(t => t.GetProperty("pid").GetInt32() == pid).Select(t => t.GetProperty("args").GetProperty("name").GetString()).ToList();
                Assert.Contains("cpu0", mine);
                Assert.Contains("ioapic", mine);
            }

            // Every event sits in a named process on a named track (counters are per process).
            var named = threads.Select(t => (t.GetProperty("pid").GetInt32(), t.GetProperty("tid").GetInt32())).ToHashSet();
            Assert.All(events.Where(e => Ph(e) is not ("M" or "C")), e => Assert.Contains((e.GetProperty("pid").GetInt32(), e.GetProperty("tid").GetInt32()), named));
        }
    }

    [Fact]
    public void Timestamps_never_go_backwards_slices_balance_and_flows_have_both_ends()
    {
        var events = TraceOfSuite(out var doc);
        using (doc)
        {
            double last = double.MinValue;
            var open = new Dictionary<(int, int), Stack<string>>();
            var starts = new Dictionary<long, int>();
            var ends = new Dictionary<long, int>();
            foreach (var e in events.Where(e => Ph(e) != "M"))
            {
                double ts = e.GetProperty("ts").GetDouble();
                Assert.True(ts >= last, $"timestamp {ts} after {last}: {e}");
                last = ts;
                var track = (e.GetProperty("pid").GetInt32(), e.GetProperty("tid").GetInt32());
                string name = e.GetProperty("name").GetString()!;
                switch (Ph(e))
                {
                    case "B":
                        if (!open.TryGetValue(track, out var stack))
                        {
                            open[track] = stack = new Stack<string>();
                        }

                        stack.Push(name);
                        break;
                    case "E":
                        Assert.True(open.TryGetValue(track, out var s) && s.Count > 0, $"E without B: {e}");
                        Assert.Equal(s.Pop(), name);
                        break;
                    case "s":
                        starts[e.GetProperty("id").GetInt64()] = starts.GetValueOrDefault(e.GetProperty("id").GetInt64()) + 1;
                        break;
                    case "f":
                        ends[e.GetProperty("id").GetInt64()] = ends.GetValueOrDefault(e.GetProperty("id").GetInt64()) + 1;
                        break;
                }
            }

            Assert.All(open, t => Assert.Empty(t.Value));
            Assert.NotEmpty(starts);
            Assert.Equal(starts.Keys.Order(), ends.Keys.Order());
            Assert.All(starts.Values.Concat(ends.Values), n => Assert.Equal(1, n));

            // Durations, exits and counters are all there.
            Assert.Contains(events, e => Ph(e) == "B" && e.GetProperty("name").GetString()!.StartsWith("handler 0x", StringComparison.Ordinal));
            Assert.Contains(events, e => Ph(e) == "X" && e.GetProperty("cat").GetString() == "exit");
            Assert.Contains(events, e => Ph(e) == "C" && e.GetProperty("name").GetString()!.StartsWith("IRR depth cpu", StringComparison.Ordinal));
            Assert.Contains(events, e => Ph(e) == "C" && e.GetProperty("name").GetString() == "exits");
            // A flow ends at the take that consumed its vector: same timestamp as a handler slice's start.
            var handlerStarts = events.Where(e => Ph(e) == "B" && e.GetProperty("cat").GetString() == "handler")
                .Select(e => (e.GetProperty("pid").GetInt32(), e.GetProperty("tid").GetInt32(), e.GetProperty("ts").GetDouble())).ToHashSet();
            Assert.Contains(events, e => Ph(e) == "f" && handlerStarts.Contains((e.GetProperty("pid").GetInt32(), e.GetProperty("tid").GetInt32(), e.GetProperty("ts").GetDouble())));
        }
    }
}
