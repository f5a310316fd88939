// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using VirtualApic.Fabric;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests;

/// <summary>
/// The README's library snippet is this file's <see cref="Snippet"/> body, word for word (a test
/// compares them), so it compiles; running it shows the IPI arrives. Running it swaps the process's
/// <see cref="Console.Out"/>, so nothing runs beside it (<see cref="ReadmeSnippetCollection"/>).
/// </summary>
[Collection(nameof(ReadmeSnippetTests))]
public partial class ReadmeSnippetTests
{
    [GeneratedRegex(@"## Using the library\s*```csharp\r?\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ReadmeBlock();

    /// <summary>The README's "Using the library" C# block, as a reader copies it.</summary>
    internal static string ReadmeSnippet() => ReadmeBlock().Match(Repo.Read("README.md")).Groups[1].Value;

    [GeneratedRegex(@"// README begin\r?\n(.*?)\s*// README end", RegexOptions.Singleline)]
    private static partial Regex SourceBlock();

    [Fact]
    public void The_readme_snippet_is_the_code_this_test_compiles()
    {
        string readme = ReadmeSnippet();
        string source = SourceBlock().Match(File.ReadAllText(ThisFile())).Groups[1].Value;
        Assert.False(string.IsNullOrWhiteSpace(source));
        // The snippet's `using VirtualApic.Fabric;` is this file's using; the body is indented here.
        string body = string.Join("\n", readme.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => !l.StartsWith("using VirtualApic", StringComparison.Ordinal))).Trim();
        string compiled = string.Join("\n", source.Split('\n').Select(l => l.TrimEnd('\r')).Select(l => l.StartsWith("        ", StringComparison.Ordinal) ? l[8..] : l.TrimStart())).Trim();
        Assert.Equal(body, compiled);
        Assert.Contains("using VirtualApic.Fabric;", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void The_readme_snippet_delivers_its_ipi()
    {
        var output = new StringWriter();
        var console = Console.Out;
        Console.SetOut(output);
        try
        {
            Snippet();
        }
        finally
        {
            Console.SetOut(console);
        }

        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal("vector 0x51", lines[0]);
        // APIC_BASE and SVR writes exit (msr-write); x2AVIC delivers the ICR write to a running target without one.
        Assert.Equal("2", lines[1]);
    }

    private static void Snippet()
    {
        // README begin
        using var vm = new VirtualMachine(new VmOptions { Cpus = 2, Accel = AccelKind.X2Avic });
        foreach (var cpu in vm.Vcpus)
        {
            cpu.TryWriteMsr(0x1B, cpu.Apic.ApicBaseMsr | 0x400); // IA32_APIC_BASE: EXTD, enable x2APIC
            cpu.TryWriteMsr(0x80F, 0x1FF);                       // SVR: software-enable (else IPIs are dropped)
        }

        vm.Vcpus[0].TryWriteMsr(0x830, 0x1_0000_0051); // x2APIC ICR: fixed IPI, vector 0x51, to APIC ID 1
        vm.Vcpus[1].Sti();                             // the guest on vCPU 1 enables interrupts
        Console.WriteLine(vm.Vcpus[1].Take());         // vector 0x51: acknowledged, now in service
        Console.WriteLine(vm.Vcpus[0].Exits.Total);    // exits the sender took under x2AVIC
        // README end
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;
}

/// <summary>
/// The snippet prints with <see cref="Console.WriteLine(string)"/>, and the test reads that by
/// swapping <see cref="Console.Out"/> for the whole process: a test beside it that wrote to the
/// console would lose its output to the snippet's, or put lines into it.
/// </summary>
[CollectionDefinition(nameof(ReadmeSnippetTests), DisableParallelization = true)]
public sealed class ReadmeSnippetCollection
{
}
