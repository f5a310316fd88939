// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.RegularExpressions;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Architecture;

/// <summary>
/// The library compiles with <c>AllowUnsafeBlocks</c> for one reason: <c>[module: SkipLocalsInit]</c>
/// (src/VirtualApic/SkipLocalsInit.cs), which drops the zeroing of struct locals that C# would
/// otherwise ask of every inlined call (docs/performance.md, "Twelfth session"). Safe code assigns
/// every local before it reads it, so the attribute changes nothing it can observe; unsafe code and
/// <c>Unsafe.SkipInit</c> could read memory the attribute leaves unzeroed, and so could a
/// <c>stackalloc</c> buffer handed to an embedder's <c>IGuestMemory</c>. So no unsafe code and no
/// <c>SkipInit</c> in the library, and every <c>stackalloc</c> has an initializer or is cleared on
/// the next line.
/// </summary>
public sealed partial class SafeCodeTests
{
    [Fact]
    public void The_library_has_no_unsafe_code_skipped_init_or_uninitialized_stackalloc()
    {
        string src = Repo.PathOf("src/VirtualApic");
        var offenders = new List<string>();
        foreach (string file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(Repo.Root, file).Replace('\\', '/');
            if (relative.Split('/').Any(part => part is "bin" or "obj"))
            {
                continue;
            }

            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                string code = CodeOf(lines[i]);
                string next = i + 1 < lines.Length ? CodeOf(lines[i + 1]) : "";
                if (Forbidden().IsMatch(code) || (code.Contains("stackalloc", StringComparison.Ordinal) && !IsInitialized(code, next)))
                {
                    offenders.Add($"{relative}:{i + 1}: {lines[i].Trim()}");
                }
            }
        }

        Assert.True(offenders.Count == 0, "unsafe code in the library:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void The_check_sees_the_library_and_the_attribute_it_guards()
    {
        Assert.Contains(
            "[module: System.Runtime.CompilerServices.SkipLocalsInit]",
            Repo.Read("src/VirtualApic/SkipLocalsInit.cs"),
            StringComparison.Ordinal);
        Assert.Matches(Forbidden(), "unsafe void F(byte* p) { }");
        Assert.Matches(Forbidden(), "Unsafe.SkipInit(out x);");
        Assert.DoesNotMatch(Forbidden(), CodeOf("// an unsafe comment"));
        Assert.False(IsInitialized("Span<byte> b = stackalloc byte[8];", "F(b);"));
        Assert.True(IsInitialized("Span<byte> b = stackalloc byte[] { 0 };", "F(b);"));
        Assert.True(IsInitialized("Span<int> targets = stackalloc int[16];", "        targets.Clear();"));
        Assert.False(IsInitialized("Span<int> targets = stackalloc int[16];", "        other.Clear();"));
    }

    // A stackalloc with an initializer, or whose variable the next line clears.
    private static bool IsInitialized(string line, string next)
    {
        int at = line.IndexOf("stackalloc", StringComparison.Ordinal);
        if (line.IndexOf('{', at) >= 0)
        {
            return true;
        }

        var variable = Regex.Match(line[..at], @"(\w+)\s*=\s*$");
        return variable.Success && next.Trim() == variable.Groups[1].Value + ".Clear();";
    }

    // The line without a trailing // comment (strings that contain "//" are rare enough to ignore).
    private static string CodeOf(string line)
    {
        int comment = line.IndexOf("//", StringComparison.Ordinal);
        return comment < 0 ? line : line[..comment];
    }

    [GeneratedRegex(@"\bunsafe\b|\bSkipInit\b|\bfixed\s*\(")]
    private static partial Regex Forbidden();
}
