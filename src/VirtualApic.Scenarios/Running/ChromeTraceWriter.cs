using System.Text.Json;
using VirtualApic.Assist;

namespace VirtualApic.Scenarios.Running;

/// <summary>
/// Writes a run's events as Chrome trace event JSON (<c>{"traceEvents":[...]}</c>, viewable in
/// Perfetto or <c>chrome://tracing</c>): instant events (<c>"ph":"i"</c>) on one track per vCPU
/// (<c>tid</c> = vCPU index) and one for the IOAPIC and other devices (<c>tid</c>
/// <see cref="DeviceTid"/>), stamped with virtual time in microseconds, plus one
/// <c>thread_name</c> metadata event per track.
/// </summary>
public sealed class ChromeTraceWriter : IScenarioTracer, IDisposable
{
    /// <summary>The track of device statements (IOAPIC, MSI, PIC, time, snapshots, probes).</summary>
    public const int DeviceTid = 1000;

    private readonly Utf8JsonWriter _json;
    private readonly HashSet<int> _named = [];
    private Func<long> _now = static () => 0;
    private string _run = "";
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
        _now = nowNs;
        _run = $"{fileName} [{backend}]";
        for (int i = 0; i < cpus; i++)
        {
            Name(i, $"cpu{i}");
        }

        Name(DeviceTid, "ioapic");
        Instant(DeviceTid, "run " + _run, "run", null);
    }

    /// <inheritdoc/>
    public void OnStatement(int? cpu, int line, string text, string? result) =>
        Instant(cpu ?? DeviceTid, text, "statement", w =>
        {
            w.WriteNumber("line", line);
            if (result is not null)
            {
                w.WriteString("result", result);
            }
        });

    /// <inheritdoc/>
    public void OnExit(int vcpu, ExitReason reason, int offsetOrMsr, bool trapLike) =>
        Instant(vcpu, "exit " + ExitStatistics.NameOf(reason), "exit", w =>
        {
            w.WriteString("offset_or_msr", "0x" + offsetOrMsr.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteBoolean("trap_like", trapLike);
        });

    /// <inheritdoc/>
    public void OnDelivery(int vcpu, int vector, bool posted) =>
        Instant(vcpu, $"deliver 0x{vector:x2}", "delivery", w => w.WriteBoolean("posted", posted));

    /// <inheritdoc/>
    public void OnEoi(int vcpu, int vector) =>
        Instant(vcpu, $"eoi 0x{vector:x2}", "eoi", null);

    /// <summary>Closes the JSON document and flushes it.</summary>
    public void Complete()
    {
        if (_closed)
        {
            return;
        }

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

    private void Name(int tid, string name)
    {
        if (!_named.Add(tid))
        {
            return;
        }

        _json.WriteStartObject();
        _json.WriteString("name", "thread_name");
        _json.WriteString("ph", "M");
        _json.WriteNumber("pid", 1);
        _json.WriteNumber("tid", tid);
        _json.WriteStartObject("args");
        _json.WriteString("name", name);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    private void Instant(int tid, string name, string category, Action<Utf8JsonWriter>? args)
    {
        if (_closed)
        {
            return;
        }

        Name(tid, tid == DeviceTid ? "ioapic" : $"cpu{tid}");
        _json.WriteStartObject();
        _json.WriteString("name", name);
        _json.WriteString("cat", category);
        _json.WriteString("ph", "i");
        _json.WriteString("s", "t");
        _json.WriteNumber("pid", 1);
        _json.WriteNumber("tid", tid);
        _json.WriteNumber("ts", _now() / 1000.0);
        _json.WriteStartObject("args");
        _json.WriteString("run", _run);
        args?.Invoke(_json);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }
}
