// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.CommandLine;
using VirtualApic.Guest.Boot;
using VirtualApic.Guest.Kut;

namespace VirtualApic.Cli;

/// <summary><c>vapic kut [SECTION...]</c>: runs kvm-unit-tests as unittests.cfg describes them.</summary>
internal static class KutCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var sections = new Argument<string[]>("SECTION") { Arity = ArgumentArity.ZeroOrMore, Description = "unittests.cfg sections to run (default: all)" };
        var accel = BootCommand.AccelOption();
        var cfg = new Option<string>("--cfg") { Description = "unittests.cfg (default: DIR/unittests.cfg)" };
        var dir = new Option<string>("--dir") { Description = $"Folder of the .flat binaries (default: ${KutData.EnvironmentVariable}, else {KutData.RelativeToRepository} beside the repository)" };
        var group = new Option<string>("--group") { Description = "Run only the sections of this group" };
        var profile = BootCommand.ProfileOption();
        var env = new Option<string[]>("--env") { Description = "NAME=VALUE for the guest's environment (repeatable)" };
        var stats = new Option<bool>("--stats") { Description = "Print VM exits per reason and per vCPU" };
        var quiet = new Option<bool>("--quiet") { Description = "Do not print the serial streams" };
        var repeat = BootCommand.RepeatOption();
        var command = new Command("kut", "Run kvm-unit-tests sections (unittests.cfg) on the x86-64 guest engine")
        {
            sections, accel, cfg, dir, group, profile, env, stats, quiet, repeat,
        };
        command.SetAction(p =>
        {
            string? folder = p.GetValue(dir);
            if (folder is null)
            {
                folder = KutData.Locate(null, out string looked);
                if (folder is null)
                {
                    stderr.WriteLine($"vapic kut: kvm-unit-tests binaries not found: looked at {looked}");
                    return Program.ExitUsage;
                }
            }

            try
            {
                var config = KutConfig.Load(p.GetValue(cfg) ?? Path.Combine(folder, "unittests.cfg"));
                string[] wanted = p.GetValue(sections) ?? [];
                var chosen = new List<KutSection>();
                foreach (string? name in wanted)
                {
                    chosen.Add(config.Find(name) ?? throw new KutConfigException($"no section [{name}] in the configuration (have: {string.Join(", ", config.Sections.Select(s => s.Name))})"));
                }

                if (wanted.Length == 0)
                {
                    chosen.AddRange(config.Sections);
                }

                if (p.GetValue(group) is { } g)
                {
                    chosen.RemoveAll(s => !s.Groups.Contains(g));
                }

                if (chosen.Count == 0)
                {
                    stderr.WriteLine("vapic kut: no section to run");
                    return Program.ExitUsage;
                }

                bool ok = true;
                foreach (var section in chosen)
                {
                    var image = MultibootImage.FromFile(Path.Combine(folder, section.File));
                    var options = KutRunner.OptionsFor(section, Fabric.AccelKind.None, BootCommand.ParseProfile(p.GetValue(profile)), p.GetValue(env) ?? []);
                    var runs = KutRunner.RunRepeated(section.Name, image, options, BootCommand.Backends(p.GetValue(accel)), p.GetValue(repeat));
                    ok &= GuestRunPrinter.Print(runs, printSerial: !p.GetValue(quiet), p.GetValue(stats), stdout);
                    if (p.GetValue(stats))
                    {
                        BootCommand.PrintStats(runs, stdout);
                    }
                }

                return ok ? Program.ExitPass : Program.ExitFail;
            }
            catch (Exception e) when (e is BootImageException or KutConfigException or FormatException or ArgumentException or IOException)
            {
                stderr.WriteLine("vapic kut: " + e.Message);
                return Program.ExitUsage;
            }
        });
        return command;
    }
}
