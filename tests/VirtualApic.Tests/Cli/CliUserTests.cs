// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using VirtualApic.Cli;
using VirtualApic.Fabric;
using VirtualApic.Scenarios.Running;
using VirtualApic.Snapshot;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.CliRunner;

namespace VirtualApic.Tests.Cli;

/// <summary>What a user of peer tools expects of <c>vapic</c>: option suggestions, perf-style stats, monitor dumps, lapic images as text, a fuzz campaign that stops cleanly.</summary>
public sealed partial class CliUserTests : IDisposable
{
    private const string Pending = "vm cpus=2\ncpu0 write SVR 0x1ff\ncpu1 write SVR 0x1ff\ncpu0 ipi 0x51 dest=1\ncpu0 ipi 0x62 dest=1\ncpu1 sti\ncpu1 take == vector 0x62\n";

    private readonly ScratchDirectory _scratch = new("vapic-cli-user-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void A_mistyped_option_is_an_unknown_option_with_a_suggestion_and_exit_2()
    {
        string path = _scratch.Write("ok.vapic", Pending);
        var (code, output, err) = Vapic("run", "--acel", "all", path);
        Assert.Equal(2, code);
        Assert.Contains("'--acel'", err, StringComparison.Ordinal);
        Assert.Contains("unknown option", err, StringComparison.Ordinal);
        Assert.Contains("'--accel'", err, StringComparison.Ordinal);
        Assert.DoesNotContain("no such file", err, StringComparison.Ordinal);
        Assert.DoesNotContain("PASS", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mistyped_option_of_another_command_gets_the_nearest_option()
    {
        var (code, _, err) = Vapic("fuzz", "--iteration", "3");
        Assert.Equal(2, code);
        Assert.Contains("'--iteration' was not matched. Did you mean one of the following?\n--iterations\n", err.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"([\d.]+)% ran a KVM configuration")]
    private static partial Regex KvmConfigShare();

    [Fact]
    public void Fuzz_generates_kvm_configurations_only_when_asked()
    {
        double Share(params string[] extra)
        {
            var (code, output, err) = Vapic(["fuzz", "--iterations", "30", "--seed", "5", "--out", Path.Combine(_scratch.FullName, "findings"), .. extra]);
            Assert.True(code == 0, output + err);
            var m = KvmConfigShare().Match(output);
            Assert.True(m.Success, output);
            return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        Assert.Equal(0.0, Share());
        Assert.True(Share("--kvm-configs") > 0.0);
    }

    [GeneratedRegex(@"^\s+(\S.*?)\s+(\d+)\s+([\d.]+)%\s+(\S+)$", RegexOptions.Multiline)]
    private static partial Regex StatsRow();

    [Fact]
    public void Stats_are_laid_out_as_perf_kvm_stat_with_kvm_exit_names_and_shares()
    {
        string seed = Path.Combine(Support.Repo.Root, "scenarios/kvm-bugs/01-x2avic-level-eoi-nodecode.vapic");
        var (code, output, err) = Vapic("run", seed, "--accel", "x2avic", "--stats");
        Assert.True(code == 0, output + err);
        Assert.Contains("Analyze events for all VMs, all VCPUs (backend x2avic):", output, StringComparison.Ordinal);
        var rows = StatsRow().Matches(output).Select(m => (Name: m.Groups[1].Value, Count: long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), Share: double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), Reason: m.Groups[4].Value)).ToList();
        Assert.Contains(rows, r => r.Name == "avic_unaccelerated_access" && r.Reason == "avic-noaccel");
        long total = long.Parse(Regex.Match(output, @"Total Samples:(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.Equal(total, rows.Sum(r => r.Count));
        Assert.InRange(rows.Sum(r => r.Share), 99.9, 100.1);
        Assert.Equal(rows.OrderByDescending(r => r.Count).Select(r => r.Count), rows.Select(r => r.Count)); // most frequent first
    }

    [Fact]
    public void Stats_use_vmx_names_for_apicv()
    {
        string path = _scratch.Write("apicv.vapic", "vm cpus=1 accel=apicv\ncpu0 write SVR 0x1ff\ncpu0 wrmsr APIC_BASE 0xfee00d00\n");
        var (_, output, _) = Vapic("run", path, "--stats");
        Assert.Contains("MSR_WRITE", output, StringComparison.Ordinal);
        Assert.DoesNotContain("msr (write)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Dump_statement_prints_info_lapic_and_info_pic_the_same_under_every_backend()
    {
        var scenario = ScenarioAssert.Parses(Pending + "ioapic route 3 vector=0x40 dest=1 trigger=level\nirq 3 assert\ndump cpu1\ndump ioapic\n");
        var results = ScenarioRunner.RunAll(scenario, profileOverride: null).Results;
        foreach (var r in results)
        {
            Assert.True(r.Passed, string.Join("\n", r.Failures));
            Assert.Equal(2, r.Dumps.Count);
            Assert.Contains("dumping local APIC state for CPU 1", r.Dumps[0], StringComparison.Ordinal);
            Assert.Contains("ISR\t 0x62\n", r.Dumps[0], StringComparison.Ordinal);
            Assert.Contains("IRR\t 0x40(level) 0x51\n", r.Dumps[0], StringComparison.Ordinal);
            Assert.Contains("PPR 0x60", r.Dumps[0], StringComparison.Ordinal);
            Assert.Contains("ioapic0: ver=0x11", r.Dumps[1], StringComparison.Ordinal);
            Assert.Matches(@"pin 3 +0x010000000000c040 dest=1 +vec=64 +active-hi level +fixed +physical remote-irr", r.Dumps[1]);
            Assert.Contains("Remote IRR 3\n", r.Dumps[1], StringComparison.Ordinal);
        }

        static string Body(string dump) => dump[(dump.IndexOf('\n', StringComparison.Ordinal) + 1)..];
        Assert.All(results, r => Assert.Equal(Body(results[0].Dumps[0]), Body(r.Dumps[0])));
        Assert.All(results, r => Assert.Equal(Body(results[0].Dumps[1]), Body(r.Dumps[1])));
    }

    [Fact]
    public void Vapic_dump_prints_the_final_state_of_one_vcpu()
    {
        string path = _scratch.Write("dump.vapic", Pending);
        var (code, output, err) = Vapic("dump", path, "--cpu", "1", "--accel", "avic");
        Assert.True(code == 0, output + err);
        Assert.StartsWith("dumping local APIC state for CPU 1 (xapic", output, StringComparison.Ordinal);
        Assert.Contains("IRR\t 0x51\n", output, StringComparison.Ordinal);
        Assert.DoesNotContain("ioapic0", output, StringComparison.Ordinal);
        var bad = Vapic("dump", path, "--cpu", "2");
        Assert.Equal(2, bad.Code);
        Assert.Contains("cpu2", bad.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void State_export_and_import_round_trip_a_kvm_lapic_state_image_exactly()
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2 });
        var cpu = vm.Vcpus[1];
        cpu.MmioWrite(0xFEE000F0, 0x1FF, 4);
        cpu.MmioWrite(0xFEE00380, 12345, 4);
        vm.Vcpus[0].MmioWrite(0xFEE000F0, 0x1FF, 4);
        vm.Vcpus[0].MmioWrite(0xFEE00310, 1u << 24, 4);
        vm.Vcpus[0].MmioWrite(0xFEE00300, 0x4077, 4);
        cpu.TryWriteMsr(0x1B, 0xFEE00D00); // x2APIC: the image's ID and LDR change form
        byte[] image = KvmLapicState.Capture(cpu.Apic);
        image[0x304] = 0xA5; // a dword outside every slot's first one must survive too
        string imagePath = Path.Combine(_scratch.FullName, "lapic.bin");
        File.WriteAllBytes(imagePath, image);

        var (code, text, err) = Vapic("state", "export", imagePath);
        Assert.True(code == 0, err);
        Assert.Contains("0x0f0 SVR         0x000001ff", text, StringComparison.Ordinal);
        Assert.Contains("0x200 IRR0", text, StringComparison.Ordinal);
        Assert.Contains("0x304 -           0x000000a5", text, StringComparison.Ordinal);

        string textPath = _scratch.Write("lapic.txt", text);
        string back = Path.Combine(_scratch.FullName, "back.bin");
        var (code2, _, err2) = Vapic("state", "import", textPath, "-o", back);
        Assert.True(code2 == 0, err2);
        Assert.Equal(image, File.ReadAllBytes(back));
    }

    [Fact]
    public void State_import_names_the_line_of_a_bad_register()
    {
        string textPath = _scratch.Write("bad.txt", "0x0f0 SVR 0x1ff\n0x080 PPR 0x10\n");
        var (code, _, err) = Vapic("state", "import", textPath, "-o", Path.Combine(_scratch.FullName, "x.bin"));
        Assert.Equal(2, code);
        Assert.Contains($"{textPath}:2: offset 0x080 is TPR, not 'PPR'", err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_scratch.FullName, "x.bin")));
        var (code2, _, err2) = Vapic("state", "export", textPath);
        Assert.Equal(2, code2);
        Assert.Contains("exactly 1024 bytes", err2, StringComparison.Ordinal);
    }

    [Fact]
    public void Fuzz_stopped_by_the_token_prints_the_summary_and_says_it_was_interrupted()
    {
        using var stop = new CancellationTokenSource();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var terminal = new Terminal(stdout, stderr, Interactive: false);
        stop.CancelAfter(TimeSpan.FromSeconds(2));
        int code = Program.Run(["fuzz", "--duration", "60s", "--out", Path.Combine(_scratch.FullName, "findings")], terminal, stop.Token);
        string output = stdout.ToString();
        Assert.Equal(FuzzCommand.ExitInterrupted, code);
        Assert.Contains("fuzz: interrupted; every finding so far is written", output, StringComparison.Ordinal);
        var summary = Regex.Match(output, @"fuzz: (\d+) programs, \d+ steps, 0 findings");
        Assert.True(summary.Success, output);
        Assert.InRange(int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture), 1, 100_000);
    }

    [Fact]
    public void Stress_stopped_by_the_token_prints_the_counts_so_far_and_the_summary_and_exits_130()
    {
        using var stop = new CancellationTokenSource();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        stop.CancelAfter(TimeSpan.FromSeconds(1));
        int code = Program.Run(["stress", "--duration", "60s", "--cpus", "2", "--devices", "1"], new Terminal(stdout, stderr, Interactive: false), stop.Token);
        string output = stdout.ToString();
        Assert.True(code == Program.ExitInterrupted, output + stderr);
        // The first backend ended early but whole (its table and verdict), and no other backend ran.
        Assert.StartsWith("none (unbound IRR), 2 vCPUs, 1 MSI devices", output, StringComparison.Ordinal);
        Assert.Contains("  source   sent          taken         lost  duplicated", output, StringComparison.Ordinal);
        Assert.Matches(@"\(interrupted\): ok\n", output.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("apicv (", output, StringComparison.Ordinal);
        Assert.Contains("stress: interrupted; 1 of 4 backend(s) run, the last one stopped early", output, StringComparison.Ordinal);
        Assert.EndsWith("stress: every interrupt sent was taken exactly once, no stall\n", output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    /// <summary>
    /// The real Ctrl-C: SIGINT sent with <c>kill -INT</c> to a <c>vapic stress</c> child process (never to
    /// this test process: under xunit v3 it is a child of the runner, whose stdin and stdout are the
    /// runner's message channel, so the child gets its own redirected stdin, stdout and stderr too).
    /// </summary>
    [Fact]
    public void Sigint_ends_a_vapic_stress_process_with_the_summary_and_exit_130()
    {
        var (code, output, stderr) = InterruptVapic(@"^\s+\d+\.\ds  ipi \d+/\d+", "stress", "--duration", "60s", "--accel", "none", "--cpus", "2", "--devices", "1");
        Assert.True(code == Program.ExitInterrupted, $"exit {code}\n{output}\n{stderr}");
        Assert.Contains("(interrupted): ok", output, StringComparison.Ordinal);
        Assert.Contains("stress: interrupted; 1 of 1 backend(s) run, the last one stopped early", output, StringComparison.Ordinal);
        Assert.EndsWith("stress: every interrupt sent was taken exactly once, no stall", output, StringComparison.Ordinal);
    }

    /// <summary>The issue's own check: SIGINT halfway through <c>vapic fuzz --duration 60s</c> (a child process, as above).</summary>
    [Fact]
    public void Sigint_ends_a_vapic_fuzz_process_with_the_summary_and_exit_130()
    {
        // Without a terminal, fuzz prints a progress line every ten seconds: the first one says it is under way.
        var (code, output, stderr) = InterruptVapic(@"^  fuzz: \d+s, \d+ programs", "fuzz", "--duration", "60s", "--out", Path.Combine(_scratch.FullName, "findings"));
        Assert.True(code == Program.ExitInterrupted, $"exit {code}\n{output}\n{stderr}");
        Assert.Contains("fuzz: interrupted; every finding so far is written", output, StringComparison.Ordinal);
        Assert.Matches(@"fuzz: [1-9]\d* programs, \d+ steps, 0 findings", output);
    }

    /// <summary>Starts <c>dotnet vapic.dll ARGS</c>, waits for a stdout line matching <paramref name="underWay"/>, sends it SIGINT, returns how it ended.</summary>
    private static (int Code, string Output, string Error) InterruptVapic(string underWay, params string[] args)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SIGINT through kill -INT, and GNU env's --default-signal");
        // A process started as a background job of a non-interactive shell (a CI runner, `cmd &` in a
        // script) inherits SIGINT ignored, and its children do too: then .NET installs no handler
        // and kill -INT does nothing (seen here: the child ran its whole 60 s). vapic is rightly deaf
        // to Ctrl-C in that case, so the child starts with SIGINT's default disposition restored.
        var psi = new ProcessStartInfo("env", ["--default-signal=INT", "dotnet", Path.Combine(AppContext.BaseDirectory, "vapic.dll"), .. args])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var lines = new List<string>();
        using var progress = new SemaphoreSlim(0);
        using var child = new Process { StartInfo = psi };
        child.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (lines)
            {
                lines.Add(e.Data);
            }

            if (Regex.IsMatch(e.Data, underWay))
            {
                progress.Release();
            }
        };
        var stderr = new System.Text.StringBuilder();
        child.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        Assert.True(child.Start());
        child.StandardInput.Close();
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        try
        {
            // The line means Main installed its Ctrl-C handler and the command is under way.
            Assert.True(progress.Wait(TimeSpan.FromSeconds(90), TestContext.Current.CancellationToken), $"no progress line from vapic {args[0]}\n{stderr}");
            // kill gets its own streams too, and a positive pid: the signal reaches the child alone.
            var killInfo = new ProcessStartInfo("kill", ["-INT", child.Id.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using (var kill = Process.Start(killInfo)!)
            {
                string killError = kill.StandardError.ReadToEnd();
                kill.WaitForExit();
                Assert.True(kill.ExitCode == 0, killError);
            }

            Assert.True(child.WaitForExit(TimeSpan.FromSeconds(60)), $"vapic {args[0]} did not end after SIGINT");
            child.WaitForExit(); // the redirected streams are drained
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
            }
        }

        lock (lines)
        {
            lock (stderr)
            {
                return (child.ExitCode, string.Join("\n", lines), stderr.ToString());
            }
        }
    }
}
