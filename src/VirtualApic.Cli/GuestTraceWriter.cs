// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.Json;
using VirtualApic.Guest.Kut;

namespace VirtualApic.Cli;

/// <summary>Writes guest runs as Chrome trace events (chrome://tracing, Perfetto): one process per
/// backend, the run as a complete event and every serial line as an instant event at its virtual time.</summary>
internal static class GuestTraceWriter
{
    public static void Write(string path, IReadOnlyList<KutRun> runs)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        json.WriteStartObject();
        json.WriteStartArray("traceEvents");
        for (int pid = 0; pid < runs.Count; pid++)
        {
            var run = runs[pid];
            json.WriteStartObject();
            json.WriteString("name", "process_name");
            json.WriteString("ph", "M");
            json.WriteNumber("pid", pid);
            json.WriteStartObject("args");
            json.WriteString("name", $"{run.Name} [{KutRunner.Name(run.Accel)}]");
            json.WriteEndObject();
            json.WriteEndObject();

            json.WriteStartObject();
            json.WriteString("name", run.Passed ? "PASS" : "FAIL");
            json.WriteString("ph", "X");
            json.WriteNumber("pid", pid);
            json.WriteNumber("tid", 0);
            json.WriteNumber("ts", 0);
            json.WriteNumber("dur", run.Result.VirtualNs / 1000.0);
            json.WriteEndObject();

            foreach (var (ns, line) in run.Result.SerialLines)
            {
                json.WriteStartObject();
                json.WriteString("name", line);
                json.WriteString("ph", "i");
                json.WriteString("s", "p");
                json.WriteNumber("pid", pid);
                json.WriteNumber("tid", 0);
                json.WriteNumber("ts", ns / 1000.0);
                json.WriteEndObject();
            }
        }

        json.WriteEndArray();
        json.WriteString("displayTimeUnit", "ns");
        json.WriteEndObject();
    }
}
