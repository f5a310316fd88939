// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text.Json;
using VirtualApic.Assist;
using VirtualApic.Cpu;

namespace VirtualApic.Scenarios.Running;

/// <summary>
/// Writes runs as Chrome trace event JSON (<c>{"traceEvents":[...]}</c>) laid out for Perfetto
/// (ui.perfetto.dev) and <c>chrome://tracing</c>:
/// <list type="bullet">
/// <item>one process per run (scenario and backend), named <c>FILE [backend]</c> and sorted in run
/// order; in it one named track per vCPU (<c>tid</c> = vCPU index) and one for the IOAPIC and the
/// other device statements (<c>tid</c> <see cref="DeviceTid"/>);</item>
/// <item>each statement as a slice on its track, holding the VM exits it caused (1 ns slices named
/// by exit reason) and the deliveries it made;</item>
/// <item>an interrupt handler as a slice from the <c>take</c> that acknowledged the vector to the
/// EOI that ended it, and a halt as a slice from <c>hlt</c> to the take that woke the vCPU;</item>
/// <item>a flow arrow from the statement that delivered a vector (an IPI, an MSI, an IOAPIC pin, a
/// timer) to the take that consumed it; a vector never taken (the run ended, or a restore replaced
/// the state) ends its arrow at a <c>not taken</c> mark on the target's track;</item>
/// <item>counters per process: each vCPU's IRR depth and the exits so far per reason.</item>
/// </list>
/// Timestamps are virtual time in microseconds, offset per run so that they never go backwards
/// across a suite (a restore that moves virtual time back continues the timeline instead), and
/// spaced by at least 1 ns between events so that statements, which take no virtual time, still
/// have a visible order and length.
/// </summary>
public sealed class ChromeTraceWriter : IScenarioTracer, IDisposable
{
    /// <summary>The track of device statements (IOAPIC, MSI, PIC, time, snapshots, probes).</summary>
    public const int DeviceTid = 1000;

    private const long GapBetweenRunsNs = 1000;

    private readonly Utf8JsonWriter _json;
    private readonly Dictionary<int, Stack<string>> _open = [];
    private readonly Dictionary<(int Cpu, int Vector), Queue<long>> _flows = [];
    private readonly List<Action> _afterStatement = [];
    private readonly Dictionary<string, long> _exitCounts = new(StringComparer.Ordinal);
    private Func<long> _now = static () => 0;
    private Func<int, int>? _irrDepth;
    private int _pid;
    private int _cpus;
    private long _baseNs;
    private long _lastNs = -GapBetweenRunsNs;
    private long _nextFlow = 1;
    private int? _statementTid;
    private bool _closed;

    /// <summary>Starts a trace on <paramref name="stream"/> (left open).</summary>
    public ChromeTraceWriter(Stream stream)
    {
        _json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        _json.WriteStartObject();
        _json.WritePropertyName("traceEvents");
        _json.WriteStartArray();
    }

    /// <inheritdoc/>
    public void OnRunStart(string fileName, string backend, int cpus, Func<long> nowNs)
    {
        ArgumentNullException.ThrowIfNull(nowNs);
        if (_closed)
        {
            return;
        }

        CloseRun();
        _pid++;
        _cpus = cpus;
        _now = nowNs;
        _irrDepth = null;
        _exitCounts.Clear();
        _baseNs = _lastNs + GapBetweenRunsNs - nowNs();
        Metadata("process_name", null, w => w.WriteString("name", $"{fileName} [{backend}]"));
        Metadata("process_sort_index", null, w => w.WriteNumber("sort_index", _pid));
        for (int i = 0; i < cpus; i++)
        {
            int cpu = i;
            Metadata("thread_name", cpu, w => w.WriteString("name", string.Create(CultureInfo.InvariantCulture, $"cpu{cpu}")));
            Metadata("thread_sort_index", cpu, w => w.WriteNumber("sort_index", cpu));
        }

        Metadata("thread_name", DeviceTid, w => w.WriteString("name", "ioapic"));
        Metadata("thread_sort_index", DeviceTid, w => w.WriteNumber("sort_index", DeviceTid));
        Event("i", DeviceTid, $"run {fileName} [{backend}]", "run", Stamp(), extra: w => w.WriteString("s", "p"));
    }

    /// <inheritdoc/>
    public void OnIrrProbe(Func<int, int> irrDepth) => _irrDepth = irrDepth;

    /// <inheritdoc/>
    public void OnStatementStart(int? cpu, int line, string text)
    {
        if (_closed || _pid == 0)
        {
            return;
        }

        int tid = cpu ?? DeviceTid;
        Begin(tid, text, "statement", w => w.WriteNumber("line", line));
        _statementTid = tid;
    }

    /// <inheritdoc/>
    public void OnStatement(int? cpu, int line, string text, string? result)
    {
        if (_closed || _pid == 0)
        {
            return;
        }

        int tid = cpu ?? DeviceTid;
        if (_statementTid == tid && Top(tid) == text)
        {
            End(tid, result is null ? null : w => w.WriteString("result", result));
        }
        else
        {
            // A statement reported without its start: an instant keeps it on the track.
            Event("i", tid, text, "statement", Stamp(), args: w =>
            {
                w.WriteNumber("line", line);
                if (result is not null)
                {
                    w.WriteString("result", result);
                }
            }, extra: w => w.WriteString("s", "t"));
        }

        _statementTid = null;
        foreach (var action in _afterStatement)
        {
            action();
        }

        _afterStatement.Clear();
    }

    /// <inheritdoc/>
    public void OnExit(int vcpu, ExitReason reason, int offsetOrMsr, bool trapLike)
    {
        if (_closed || _pid == 0)
        {
            return;
        }

        string name = ExitStatistics.NameOf(reason);
        long ts = Stamp();
        Event("X", vcpu, "exit " + name, "exit", ts, args: w =>
        {
            w.WriteString("offset_or_msr", "0x" + offsetOrMsr.ToString("x", CultureInfo.InvariantCulture));
            w.WriteBoolean("trap_like", trapLike);
        }, extra: w => w.WriteNumber("dur", 0.001));
        _lastNs = ts + 1; // the slice's end
        _exitCounts[name] = _exitCounts.GetValueOrDefault(name) + 1;
        Counter("exits", ts, w =>
        {
            foreach (var (reason2, count) in _exitCounts.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                w.WriteNumber(reason2, count);
            }
        });
    }

    /// <inheritdoc/>
    public void OnDelivery(int vcpu, int vector, bool posted)
    {
        if (_closed || _pid == 0)
        {
            return;
        }

        long ts = Stamp();
        int source = _statementTid ?? vcpu;
        Event("i", vcpu, $"deliver 0x{vector:x2}", "delivery", ts, args: w => w.WriteBoolean("posted", posted), extra: w => w.WriteString("s", "t"));
        long id = _nextFlow++;
        Event("s", source, $"0x{vector:x2} to cpu{vcpu}", "flow", ts, extra: w => w.WriteNumber("id", id));
        if (!_flows.TryGetValue((vcpu, vector), out var queue))
        {
            _flows[(vcpu, vector)] = queue = new Queue<long>();
        }

        queue.Enqueue(id);
        IrrCounter(vcpu, ts);
    }

    /// <inheritdoc/>
    public void OnTake(int cpu, GuestEvent taken)
    {
        if (_closed || _pid == 0 || taken.Kind == GuestEventKind.None)
        {
            return;
        }

        After(cpu, () =>
        {
            if (Top(cpu) == "halted")
            {
                End(cpu, null);
            }

            if (taken.Kind != GuestEventKind.Vector)
            {
                Event("i", cpu, "take " + taken, "take", Stamp(), extra: w => w.WriteString("s", "t"));
                return;
            }

            string name = $"handler 0x{taken.Vector:x2}";
            long ts = Begin(cpu, name, "handler", null);
            if (_flows.Remove((cpu, taken.Vector), out var queue))
            {
                foreach (long id in queue)
                {
                    Event("f", cpu, $"0x{taken.Vector:x2} to cpu{cpu}", "flow", ts, extra: w =>
                    {
                        w.WriteNumber("id", id);
                        w.WriteString("bp", "e");
                    });
                }
            }

            IrrCounter(cpu, ts);
        });
    }

    /// <inheritdoc/>
    public void OnHalt(int cpu)
    {
        if (!_closed && _pid != 0)
        {
            After(cpu, () => Begin(cpu, "halted", "halt", null));
        }
    }

    /// <inheritdoc/>
    public void OnEoi(int vcpu, int vector)
    {
        if (_closed || _pid == 0)
        {
            return;
        }

        After(vcpu, () =>
        {
            string name = $"handler 0x{vector:x2}";
            var open = Stack(vcpu);
            if (!open.Contains(name))
            {
                // The vector was taken before a restore (or by the host): nothing to close.
                Event("i", vcpu, $"eoi 0x{vector:x2}", "eoi", Stamp(), extra: w => w.WriteString("s", "t"));
                return;
            }

            while (open.Count > 0)
            {
                string top = open.Peek();
                End(vcpu, null);
                if (top == name)
                {
                    break;
                }
            }

            IrrCounter(vcpu, _lastNs);
        });
    }

    /// <inheritdoc/>
    public void OnStateReplaced()
    {
        if (!_closed && _pid != 0)
        {
            _afterStatement.Add(() =>
            {
                for (int cpu = 0; cpu < _cpus; cpu++)
                {
                    CloseTrack(cpu);
                }

                EndFlows("state replaced");
            });
        }
    }

    /// <inheritdoc/>
    public void OnRunEnd() => CloseRun();

    /// <summary>Closes the JSON document and flushes it.</summary>
    public void Complete()
    {
        if (_closed)
        {
            return;
        }

        CloseRun();
        _closed = true;
        _json.WriteEndArray();
        _json.WriteEndObject();
        _json.Flush();
    }

    /// <summary>Completes the document and releases the writer.</summary>
    public void Dispose()
    {
        Complete();
        _json.Dispose();
    }

    // ---- events --------------------------------------------------------------------------------

    /// <summary>The next timestamp in ns: virtual time on this run's timeline, at least 1 ns after the last event.</summary>
    private long Stamp()
    {
        long virtualNs = _baseNs + _now();
        if (virtualNs < _lastNs)
        {
            _baseNs += _lastNs - virtualNs; // time went back (restore): continue the timeline
            virtualNs = _lastNs;
        }

        _lastNs = Math.Max(virtualNs, _lastNs + 1);
        return _lastNs;
    }

    private void After(int cpu, Action action)
    {
        if (_statementTid is not null)
        {
            _afterStatement.Add(action);
        }
        else
        {
            action();
        }

        _ = cpu;
    }

    private Stack<string> Stack(int tid)
    {
        if (!_open.TryGetValue(tid, out var stack))
        {
            _open[tid] = stack = new Stack<string>();
        }

        return stack;
    }

    private string? Top(int tid) => _open.TryGetValue(tid, out var s) && s.Count > 0 ? s.Peek() : null;

    private long Begin(int tid, string name, string category, Action<Utf8JsonWriter>? args)
    {
        long ts = Stamp();
        Event("B", tid, name, category, ts, args);
        Stack(tid).Push(name);
        return ts;
    }

    private void End(int tid, Action<Utf8JsonWriter>? args)
    {
        var stack = Stack(tid);
        if (stack.Count == 0)
        {
            return;
        }

        string name = stack.Pop();
        Event("E", tid, name, null, Stamp(), args);
    }

    private void CloseTrack(int tid)
    {
        while (Top(tid) is not null)
        {
            End(tid, null);
        }
    }

    /// <summary>Ends every open arrow at a mark on its target's track.</summary>
    private void EndFlows(string why)
    {
        foreach (var ((cpu, vector), ids) in _flows.OrderBy(f => f.Key))
        {
            long ts = Stamp();
            Event("i", cpu, $"0x{vector:x2} not taken ({why})", "flow", ts, extra: w => w.WriteString("s", "t"));
            foreach (long id in ids)
            {
                Event("f", cpu, $"0x{vector:x2} to cpu{cpu}", "flow", ts, extra: w =>
                {
                    w.WriteNumber("id", id);
                    w.WriteString("bp", "e");
                });
            }
        }

        _flows.Clear();
    }

    private void CloseRun()
    {
        if (_pid == 0 || _closed)
        {
            return;
        }

        foreach (var action in _afterStatement)
        {
            action();
        }

        _afterStatement.Clear();
        _statementTid = null;
        foreach (int tid in _open.Keys.Order().ToArray())
        {
            CloseTrack(tid);
        }

        EndFlows("run ended");
        _open.Clear();
    }

    private void IrrCounter(int cpu, long ts)
    {
        if (_irrDepth is { } depth && cpu < _cpus)
        {
            int n = depth(cpu);
            Counter(string.Create(CultureInfo.InvariantCulture, $"IRR depth cpu{cpu}"), ts, w => w.WriteNumber("vectors", n));
        }
    }

    private void Counter(string name, long ts, Action<Utf8JsonWriter> values) =>
        Event("C", 0, name, null, ts, args: values);

    private void Metadata(string name, int? tid, Action<Utf8JsonWriter> args)
    {
        _json.WriteStartObject();
        _json.WriteString("name", name);
        _json.WriteString("ph", "M");
        _json.WriteNumber("pid", _pid);
        if (tid is { } t)
        {
            _json.WriteNumber("tid", t);
        }

        _json.WriteStartObject("args");
        args(_json);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    private void Event(string phase, int tid, string name, string? category, long tsNs, Action<Utf8JsonWriter>? args = null, Action<Utf8JsonWriter>? extra = null)
    {
        _json.WriteStartObject();
        _json.WriteString("name", name);
        if (category is not null)
        {
            _json.WriteString("cat", category);
        }

        _json.WriteString("ph", phase);
        _json.WriteNumber("pid", _pid);
        _json.WriteNumber("tid", tid);
        _json.WriteNumber("ts", tsNs / 1000.0);
        extra?.Invoke(_json);
        if (args is not null)
        {
            _json.WriteStartObject("args");
            args(_json);
            _json.WriteEndObject();
        }

        _json.WriteEndObject();
    }
}
