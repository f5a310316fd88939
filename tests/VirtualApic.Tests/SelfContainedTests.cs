// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Tests.Support;

namespace VirtualApic.Tests;

/// <summary>
/// The repository stands on its own: no tracked file points at the team's shared spec folder beside
/// the checkout (the language and the KVM facts live in docs/). The kvm-unit-tests binaries the guest
/// tests boot are data, looked up as ../shared/testdata, and are the one allowed exception.
/// </summary>
public class SelfContainedTests
{
    private static readonly string[] Forbidden = ["../shared/spec", "shared/spec", "../shared/perf", "/work/shared"];

    private static readonly string[] TextExtensions = [".cs", ".md", ".vapic", ".sh", ".csproj", ".props", ".targets", ".slnx", ".json", ".c", ".h", ".txt", ".yml", ".yaml", ""];

    [Fact]
    public void No_file_points_outside_the_repository_at_the_shared_spec()
    {
        var offenders = new List<string>();
        foreach (string file in TrackedFiles())
        {
            if (!TextExtensions.Contains(Path.GetExtension(file), StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            string text = File.ReadAllText(file);
            foreach (string needle in Forbidden)
            {
                if (text.Contains(needle, StringComparison.Ordinal) && !file.EndsWith(nameof(SelfContainedTests) + ".cs", StringComparison.Ordinal))
                {
                    offenders.Add($"{Path.GetRelativePath(Repo.Root, file)}: {needle}");
                }
            }
        }

        Assert.True(offenders.Count == 0, "files pointing outside the repository:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void The_search_sees_the_files_it_must_check()
    {
        var files = TrackedFiles().Select(f => Path.GetRelativePath(Repo.Root, f).Replace('\\', '/')).ToHashSet();
        Assert.Contains("README.md", files);
        Assert.Contains("bench/compare.sh", files);
        Assert.Contains("docs/scenario-format.md", files);
        Assert.Contains("docs/kvm-reference.md", files);
    }

    [Fact]
    public void Ci_compiles_bench_and_fuzz_and_the_solution_lists_every_project()
    {
        // `dotnet test` builds only the test projects and what they reference: .ci/run builds bench/ and fuzz/ itself.
        string solution = Repo.Read("VirtualApic.slnx");
        foreach (string? project in Directory.EnumerateFiles(Repo.Root, "*.csproj", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Repo.Root, p).Replace('\\', '/'))
            .Where(p => !p.Split('/').Any(part => part is "bin" or "obj")))
        {
            Assert.Contains($"\"{project}\"", solution, StringComparison.Ordinal);
        }

        Assert.Contains("bench/", solution, StringComparison.Ordinal);
        Assert.Contains("fuzz/", solution, StringComparison.Ordinal);
        string ci = Repo.Read(".ci/run");
        Assert.Contains("dotnet test VirtualApic.slnx -c Release", ci, StringComparison.Ordinal);
        Assert.Contains("dotnet build bench/VirtualApic.Benchmarks", ci, StringComparison.Ordinal);
        Assert.Contains("dotnet build fuzz/VirtualApic.Fuzz", ci, StringComparison.Ordinal);
    }

    private static IEnumerable<string> TrackedFiles()
    {
        // Generated, git-ignored output: StrykerOutput's reports quote every source file, this test's included.
        string[] skip = new[] { ".git", "bin", "obj", "nupkg", "BenchmarkDotNet.Artifacts", "TestResults", "StrykerOutput" };
        var stack = new Stack<string>([Repo.Root]);
        while (stack.Count > 0)
        {
            string dir = stack.Pop();
            foreach (string sub in Directory.EnumerateDirectories(dir))
            {
                if (!skip.Contains(Path.GetFileName(sub)))
                {
                    stack.Push(sub);
                }
            }

            foreach (string file in Directory.EnumerateFiles(dir))
            {
                yield return file;
            }
        }
    }
}
