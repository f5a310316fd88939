// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.CommandLine;
using System.Globalization;
using VirtualApic.Fabric;
using VirtualApic.Guest.Boot;
using VirtualApic.Guest.Kut;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform;
using VirtualApic.Profiles;

namespace VirtualApic.Cli;

/// <summary><c>vapic boot IMAGE</c>: boots a Multiboot kernel (a kvm-unit-tests .flat) on the guest engine.</summary>
internal static class BootCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var image = new Argument<string>("IMAGE") { Description = "A Multiboot v1 kernel, e.g. kvm-unit-tests x86/apic.flat" };
        var smp = new Option<int>("--smp") { Description = "Number of vCPUs", DefaultValueFactory = _ => 1 };
        var cpu = new Option<string>("--cpu") { Description = "CPU model as QEMU's -cpu: qemu64[,+x2apic][,+tsc-deadline][,vendor=AuthenticAMD]", DefaultValueFactory = _ => "qemu64" };
        var accel = AccelOption();
        var env = new Option<string[]>("--env") { Description = "NAME=VALUE for the guest's environment (repeatable)", AllowMultipleArgumentsPerToken = false };
        var append = new Option<string>("--append") { Description = "Guest command-line arguments (QEMU's -append)" };
        var profile = ProfileOption();
        var mem = new Option<int>("--mem") { Description = "RAM in MiB", DefaultValueFactory = _ => 128 };
        var timeout = new Option<double>("--timeout") { Description = "Virtual-time limit in seconds", DefaultValueFactory = _ => 90 };
        var maxInsns = new Option<long>("--max-instructions") { Description = "Instruction limit (all vCPUs)", DefaultValueFactory = _ => 4_000_000_000 };
        var stats = new Option<bool>("--stats") { Description = "Print VM exits per reason and per vCPU" };
        var trace = new Option<string>("--trace") { Description = "Write a Chrome trace event JSON file of the guest's output lines" };
        var repeat = RepeatOption();
        var command = new Command("boot", "Boot a Multiboot kernel (kvm-unit-tests .flat) on the x86-64 guest engine")
        {
            image, smp, cpu, accel, env, append, profile, mem, timeout, maxInsns, stats, trace, repeat,
        };
        command.SetAction(p =>
        {
            try
            {
                var options = new GuestMachineOptions
                {
                    Cpus = p.GetValue(smp),
                    CpuModel = CpuModel.Parse(p.GetValue(cpu) ?? "qemu64"),
                    Profile = ParseProfile(p.GetValue(profile)),
                    RamMiB = p.GetValue(mem),
                    Environment = p.GetValue(env) ?? [],
                    Append = p.GetValue(append),
                    VirtualTimeoutNs = (long)(p.GetValue(timeout) * 1e9),
                    MaxInstructions = p.GetValue(maxInsns),
                };
                options.Validate();
                var img = MultibootImage.FromFile(p.GetValue(image) ?? "");
                var runs = KutRunner.RunRepeated(Path.GetFileNameWithoutExtension(img.Name), img, options, Backends(p.GetValue(accel)), p.GetValue(repeat));
                bool ok = GuestRunPrinter.Print(runs, printSerial: true, p.GetValue(stats), stdout);
                if (p.GetValue(stats))
                {
                    PrintStats(runs, stdout);
                }

                if (p.GetValue(trace) is { } path)
                {
                    GuestTraceWriter.Write(path, runs);
                }

                return ok ? Program.ExitPass : Program.ExitFail;
            }
            catch (Exception e) when (e is BootImageException or FormatException or ArgumentException or IOException)
            {
                stderr.WriteLine("vapic boot: " + e.Message);
                return Program.ExitUsage;
            }
        });
        return command;
    }

    /// <summary>The most boots <c>--repeat</c> asks for.</summary>
    internal const int MaxRepeat = 1000;

    internal static Option<string> AccelOption()
    {
        var accel = new Option<string>("--accel") { Description = $"Backend: {string.Join(", ", AccelNames.Names)} or all", DefaultValueFactory = _ => "none" };
        accel.AcceptOnlyFromAmong([.. AccelNames.Names, "all"]);
        return accel;
    }

    /// <summary>
    /// <c>--repeat N</c>: boot each configuration N times, print the median host time, and fail a
    /// configuration whose boots do not all do the same (<see cref="KutRunner.RunRepeated"/>).
    /// </summary>
    internal static Option<int> RepeatOption()
    {
        var repeat = new Option<int>("--repeat")
        {
            Description = $"Boot each configuration N times (1-{MaxRepeat}): the host time printed is their median, and every boot must match the first",
            DefaultValueFactory = _ => 1,
        };
        repeat.Validators.Add(result =>
        {
            // A token that is not a number is the parser's own error to report (reading the value
            // here would throw).
            if (result.Tokens is [var token] && int.TryParse(token.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n)
                && n is < 1 or > MaxRepeat)
            {
                result.AddError($"--repeat must be 1-{MaxRepeat}, not {n}");
            }
        });
        return repeat;
    }

    internal static Option<string> ProfileOption()
    {
        var profile = new Option<string>("--profile") { Description = "Profile: kvm or architectural", DefaultValueFactory = _ => "kvm" };
        profile.AcceptOnlyFromAmong("kvm", "architectural");
        return profile;
    }

    internal static ApicProfile ParseProfile(string? name) =>
        name is not null && ApicProfile.TryParse(name, out var p) ? p : ApicProfile.Kvm;

    internal static IReadOnlyList<AccelKind> Backends(string? accel) =>
        string.Equals(accel, "all", StringComparison.OrdinalIgnoreCase) ? AccelNames.All
        : AccelNames.TryParse(accel, out var kind) ? [kind]
        : [AccelKind.None];

    internal static void PrintStats(IReadOnlyList<KutRun> runs, TextWriter stdout)
    {
        foreach (var run in runs)
        {
            stdout.WriteLine($"--- stats {run.Name} [{KutRunner.Name(run.Accel)}]");
            stdout.WriteLine(run.Result.Statistics);
        }
    }
}
