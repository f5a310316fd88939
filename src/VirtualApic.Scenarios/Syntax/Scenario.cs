// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>A parsed <c>.vapic</c> file: the VM it runs on and its statements in file order.</summary>
public sealed class Scenario
{
    internal Scenario(string fileName, VmOptions vm, SourceLine vmSource, IReadOnlyList<Statement> statements)
    {
        FileName = fileName;
        Vm = vm;
        VmSource = vmSource;
        Statements = statements;
    }

    /// <summary>The file name given to the parser (used in messages).</summary>
    public string FileName { get; }

    /// <summary>The options of the <c>vm</c> line, defaults filled in.</summary>
    public VmOptions Vm { get; }

    /// <summary>Where the <c>vm</c> line is written.</summary>
    public SourceLine VmSource { get; }

    /// <summary>Every statement after the <c>vm</c> line, in file order.</summary>
    public IReadOnlyList<Statement> Statements { get; }
}
