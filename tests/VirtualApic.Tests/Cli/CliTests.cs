// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.Json;
using VirtualApic.Cli;
using VirtualApic.Fabric;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.CliRunner;

namespace VirtualApic.Tests.Cli;

public sealed class CliTests : IDisposable
{
    private const string Passing = "vm cpus=2\ncpu0 write SVR 0x1ff\ncpu1 write SVR 0x1ff\ncpu0 ipi 0x51 dest=1\nexpect cpu1 irr has 0x51\ncpu1 sti\ncpu1 take == vector 0x51\ncpu1 eoi\nexpect vm running\n";
    private const string Failing = "vm\ncpu0 rdmsr APIC_BASE == 0x1\n";

    private readonly ScratchDirectory _scratch = new("vapic-cli-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void The_tool_tiers_up_without_the_runtime_call_counting_delay()
    {
        // A process held to one CPU waits ten times the default 100 ms of Tier0 quiet before it
        // counts calls; a pinned guest run kept running Tier0 code for seconds (docs/performance.md).
        string path = Path.Combine(AppContext.BaseDirectory, "vapic.runtimeconfig.json");
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(properties.TryGetProperty("System.Runtime.TieredCompilation.CallCountingDelayMs", out var delay), path);
        Assert.Equal(0, delay.GetInt32());
    }

    [Fact]
    public void Passing_scenario_exits_0()
    {
        string path = _scratch.Write("ok.vapic", Passing);
        var (code, output, err) = Vapic("run", path);
        Assert.True(code == 0, output + err);
        Assert.Contains($"PASS {path} [none]", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Failing_scenario_exits_1_and_lists_file_and_line()
    {
        string path = _scratch.Write("bad.vapic", Failing);
        var (code, output, _) = Vapic("run", path);
        Assert.Equal(1, code);
        Assert.Contains($"FAIL {path} [none]", output, StringComparison.Ordinal);
        Assert.Contains($"{path}:2: expected 0x1, observed 0xfee00900", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_error_exits_2_with_file_line_col_and_runs_nothing()
    {
        string good = _scratch.Write("a.vapic", Passing);
        string bad = _scratch.Write("b.vapic", "vm\ncpu0 bogus\n");
        var (code, output, err) = Vapic("run", good, bad);
        Assert.Equal(2, code);
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(bad)}:2:6: ", err);
        Assert.DoesNotContain("PASS", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_bytes_file_exits_2()
    {
        string path = Path.Combine(_scratch.FullName, "noise.vapic");
        byte[] bytes = new byte[4096];
        new Random(42).NextBytes(bytes);
        bytes[10] = 0;
        File.WriteAllBytes(path, bytes);
        var (code, _, err) = Vapic("run", path);
        Assert.Equal(2, code);
        Assert.Contains("not a text file", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_file_exits_2()
    {
        string path = Path.Combine(_scratch.FullName, "latin.vapic");
        File.WriteAllBytes(path, [(byte)'v', (byte)'m', 0xff, 0xfe, (byte)'\n']);
        var (code, _, err) = Vapic("run", path);
        Assert.Equal(2, code);
        Assert.Contains("not a text file", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Huge_file_exits_2()
    {
        string path = Path.Combine(_scratch.FullName, "huge.vapic");
        using (var f = File.Create(path))
        {
            f.SetLength(Program.MaxFileBytes + 1);
        }

        var (code, _, err) = Vapic("run", path);
        Assert.Equal(2, code);
        Assert.Contains("too large", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_file_and_usage_errors_exit_2()
    {
        Assert.Equal(2, Vapic("run", Path.Combine(_scratch.FullName, "nope.vapic")).Code);
        Assert.Equal(2, Vapic().Code);
        Assert.Equal(2, Vapic("run").Code);
        Assert.Equal(2, Vapic("frobnicate").Code);
        string path = _scratch.Write("ok.vapic", Passing);
        var (code, _, err) = Vapic("run", path, "--accel", "bogus");
        Assert.Equal(2, code);
        Assert.Contains("bogus", err, StringComparison.Ordinal);
        Assert.Equal(2, Vapic("run", path, "--profile", "linux").Code);
    }

    [Fact]
    public void Directories_are_searched_recursively_in_sorted_order()
    {
        _scratch.Write("z/b.vapic", Passing);
        _scratch.Write("a.vapic", Passing);
        _scratch.Write("z/ignored.txt", "not a scenario");
        var (code, output, err) = Vapic("run", _scratch.FullName);
        Assert.True(code == 0, output + err);
        var lines = output.Split('\n').Where(l => l.StartsWith("PASS", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains("a.vapic", lines[0], StringComparison.Ordinal);
        Assert.Contains("b.vapic", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Accel_all_runs_every_backend_and_log_prints_observations()
    {
        string path = _scratch.Write("ok.vapic", Passing);
        var (code, output, err) = Vapic("run", path, "--accel", "all", "--log", "--profile", "architectural");
        Assert.True(code == 0, output + err);
        foreach (string backend in AccelNames.Names)
        {
            Assert.Contains($"PASS {path} [{backend}]", output, StringComparison.Ordinal);
        }

        Assert.Contains("7 cpu1 take == vector 0x51 -> vector 0x51", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Accel_all_reports_known_kvm_divergence_without_failing()
    {
        string path = _scratch.Write("low.vapic", "vm cpus=2\ncpu0 write SVR 0x1ff\ncpu1 write SVR 0x1ff\ncpu0 ipi 0x5 dest=1\ncpu1 read IRR0\n");
        var (code, output, err) = Vapic("run", path, "--accel", "all");
        Assert.True(code == 0, output + err);
        Assert.Contains("known KVM divergence", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Stats_prints_a_table_per_backend()
    {
        string path = _scratch.Write("ok.vapic", Passing);
        var (code, output, _) = Vapic("run", path, "--accel", "avic", "--stats");
        Assert.Equal(0, code);
        Assert.Contains("avic-noaccel", output, StringComparison.Ordinal);
        Assert.Contains("Analyze events for all VMs, all VCPUs (backend avic):", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Trace_writes_chrome_json_with_one_track_per_vcpu_and_the_ioapic()
    {
        string path = _scratch.Write("t.vapic", Passing + "irq 2 pulse\nadvance 5us\ncpu0 rdtsc\n");
        string trace = Path.Combine(_scratch.FullName, "trace.json");
        var (code, output, err) = Vapic("run", path, "--accel", "apicv", "--trace", trace);
        Assert.True(code == 0, output + err);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(trace));
        var events = doc.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        var tracks = events.Where(e => e.GetProperty("ph").GetString() == "M" && e.GetProperty("name").GetString() == "thread_name")
            .Select(e => (e.GetProperty("tid").GetInt32(), e.GetProperty("args").GetProperty("name").GetString())).ToList();
        Assert.Equal([(0, "cpu0"), (1, "cpu1"), (1000, "ioapic")], tracks);
        Assert.All(events, e => Assert.Equal(1, e.GetProperty("pid").GetInt32()));
        // Statements are slices on virtual time (microseconds), spaced by a nanosecond or more.
        Assert.Contains(events, e => e.GetProperty("ph").GetString() == "B" && e.GetProperty("name").GetString() == "cpu0 rdtsc" && e.GetProperty("ts").GetDouble() is >= 5.0 and < 5.1);
        Assert.Contains(events, e => e.TryGetProperty("cat", out var cat) && cat.GetString() == "delivery");
    }

    [Fact]
    public void Trace_to_an_unwritable_path_exits_2()
    {
        string path = _scratch.Write("ok.vapic", Passing);
        Assert.Equal(2, Vapic("run", path, "--trace", Path.Combine(_scratch.FullName, "no", "such", "dir", "t.json")).Code);
    }

    [Fact]
    public void Decode_prints_the_fields()
    {
        var (code, output, _) = Vapic("decode", "icr", "0x4051");
        Assert.Equal(0, code);
        Assert.Contains("vector 0x51", output, StringComparison.Ordinal);
        Assert.Equal(0, Vapic("decode", "rte", "0x0000_0000_0001_a051").Code);
    }

    [Fact]
    public void Decode_with_unknown_kind_or_bad_number_exits_2_and_lists_kinds()
    {
        var (code, _, err) = Vapic("decode", "nonsense", "1");
        Assert.Equal(2, code);
        Assert.Contains("icr, lvt", err, StringComparison.Ordinal);
        var bad = Vapic("decode", "icr", "0xzz");
        Assert.Equal(2, bad.Code);
        Assert.Contains("icr, lvt", bad.Err, StringComparison.Ordinal);
        Assert.Equal(2, Vapic("decode", "icr", "0x1_0000_0000_0000_0000").Code);
    }

    [Fact]
    public void Explain_profiles_prints_every_switch()
    {
        var (code, output, _) = Vapic("explain-profiles");
        Assert.Equal(0, code);
        foreach (var s in VirtualApic.Profiles.ProfileSwitches.All)
        {
            Assert.Contains(s.Name, output, StringComparison.Ordinal);
            Assert.Contains(s.Sources, output, StringComparison.Ordinal);
        }

        Assert.Contains("architectural", output, StringComparison.Ordinal);
    }
}
