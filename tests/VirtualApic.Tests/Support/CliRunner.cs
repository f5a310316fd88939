// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cli;

namespace VirtualApic.Tests.Support;

/// <summary>Runs the <c>vapic</c> command line in-process, as a user's shell would, capturing both streams.</summary>
internal static class CliRunner
{
    /// <summary><c>vapic args...</c>: the exit code and everything written to stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Vapic(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
