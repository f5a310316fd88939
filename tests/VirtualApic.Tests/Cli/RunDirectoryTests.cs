// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using VirtualApic.Cli;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Cli;

/// <summary><c>vapic run DIR</c> on hostile trees: a directory symlink loop and a FIFO named like a scenario.</summary>
public sealed class RunDirectoryTests : IDisposable
{
    private const string Passing = "vm cpus=2\ncpu0 write SVR 0x1ff\ncpu1 write SVR 0x1ff\ncpu0 ipi 0x51 dest=1\nexpect cpu1 irr has 0x51\n";

    private readonly ScratchDirectory _scratch = new("vapic-run-dir-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void A_symlink_loop_is_not_followed_and_a_fifo_is_skipped_with_a_message()
    {
        File.WriteAllText(Path.Combine(_scratch.FullName, "ok.vapic"), Passing);
        Directory.CreateSymbolicLink(Path.Combine(_scratch.FullName, "loop"), _scratch.FullName);
        // Its own streams: under xunit v3 the test process's stdin and stdout are the runner's
        // message channel, which a child must not inherit (as in PackageTests).
        var psi = new ProcessStartInfo("mkfifo", [Path.Combine(_scratch.FullName, "pipe.vapic")])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using (var mkfifo = Process.Start(psi)!)
        {
            mkfifo.StandardInput.Close();
            string error = mkfifo.StandardError.ReadToEnd();
            mkfifo.WaitForExit();
            Assert.True(mkfifo.ExitCode == 0, error);
        }

        int code = -1;
        string output = "", errors = "";
        void Body()
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            code = Program.Run(["run", _scratch.FullName], stdout, stderr);
            (output, errors) = (stdout.ToString(), stderr.ToString());
        }

        var run = new Thread(Body) { IsBackground = true };
        run.Start();

        Assert.True(run.Join(TimeSpan.FromSeconds(30)), "vapic run blocked on the FIFO or looped through the symlink");
        Assert.Contains("directory symlink not followed", errors, StringComparison.Ordinal);
        Assert.Contains("pipe.vapic: skipped: empty or not a regular file", errors, StringComparison.Ordinal);
        Assert.Contains("PASS", output, StringComparison.Ordinal);
        Assert.Equal(0, code);
    }
}
