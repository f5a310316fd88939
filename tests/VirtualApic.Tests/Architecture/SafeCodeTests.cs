// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.RegularExpressions;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Architecture;

/// <summary>
/// The library compiles with <c>AllowUnsafeBlocks</c> for two reasons. <c>[module: SkipLocalsInit]</c>
/// (src/VirtualApic/SkipLocalsInit.cs) drops the zeroing of struct locals that C# would otherwise
/// ask of every inlined call (docs/performance.md, "Twelfth session"). Safe code assigns every local
/// before it reads it, so the attribute changes nothing it can observe; unsafe code and
/// <c>Unsafe.SkipInit</c> could read memory the attribute leaves unzeroed, and so could a
/// <c>stackalloc</c> buffer handed to an embedder's <c>IGuestMemory</c>. And the register pages are
/// reached by address (<c>Core/PageWords.cs</c>, made only by <c>Core/ApicPage.cs</c>, "Thirty-fifth
/// session"): pointers into a pinned, zeroed heap block the struct keeps alive at every access, never
/// into the stack. So unsafe code in those two files only, no <c>SkipInit</c> anywhere, and every
/// <c>stackalloc</c> has an initializer or is cleared on the next line.
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

            bool pointersAllowed = PointerFiles.Contains(relative);
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                string code = CodeOf(lines[i]);
                string next = i + 1 < lines.Length ? CodeOf(lines[i + 1]) : "";
                bool forbidden = pointersAllowed ? SkipInit().IsMatch(code) || code.Contains("stackalloc", StringComparison.Ordinal) : Forbidden().IsMatch(code);
                if (forbidden || (code.Contains("stackalloc", StringComparison.Ordinal) && !IsInitialized(code, next)))
                {
                    offenders.Add($"{relative}:{i + 1}: {lines[i].Trim()}");
                }
            }
        }

        Assert.True(offenders.Count == 0, "unsafe code in the library:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void The_librarys_one_native_call_is_madvise_in_HugePageAdvice()
    {
        // docs/architecture.md, "What the build enforces": advice about a large VM's page block, no
        // other native code (LibraryImport generates the P/Invoke inside the declaring type).
        var natives = typeof(VirtualApic.Fabric.VirtualMachine).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic
                | System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly))
            .Where(m => (m.Attributes & System.Reflection.MethodAttributes.PinvokeImpl) != 0)
            .Select(m => (Type: TopLevel(m.DeclaringType!).FullName, Entry: m.GetCustomAttributes(false).OfType<System.Runtime.InteropServices.DllImportAttribute>().Single().EntryPoint))
            .ToList();

        Assert.NotEmpty(natives);
        Assert.All(natives, n => Assert.Equal(("VirtualApic.Core.HugePageAdvice", "madvise"), (n.Type, n.Entry)));
    }

    private static Type TopLevel(Type type) => type.DeclaringType is { } outer ? TopLevel(outer) : type;

    // The register page's two files: the only unsafe code, pointers into a pinned heap block (see above).
    private static readonly HashSet<string> PointerFiles = ["src/VirtualApic/Core/ApicPage.cs", "src/VirtualApic/Core/PageWords.cs"];

    [Fact]
    public void Unsafe_code_is_where_the_allowance_says_and_nowhere_else()
    {
        foreach (string file in PointerFiles)
        {
            Assert.Matches(Forbidden(), Repo.Read(file));
        }

        Assert.DoesNotMatch(SkipInit(), Repo.Read("src/VirtualApic/Core/PageWords.cs"));
    }

    /// <summary>
    /// Every member of <c>PageWords</c> that goes through the pointer ends, after its last access, with
    /// <c>GC.KeepAlive(_block)</c>: the block is then reported live over the whole access whatever the
    /// caller still holds (a raw address alone would let the GC free it mid-access).
    /// </summary>
    [Fact]
    public void Every_access_through_a_page_pointer_keeps_its_block_alive_past_it()
    {
        string[] lines = File.ReadAllLines(Repo.PathOf("src/VirtualApic/Core/PageWords.cs"));
        int members = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            if (!MemberStart().IsMatch(lines[i]))
            {
                continue;
            }

            // The member runs to its closing brace at four spaces, or is one expression-bodied line.
            int end = i;
            if (!lines[i].TrimEnd().EndsWith(';'))
            {
                while (end + 1 < lines.Length && lines[end].TrimEnd() != "    }")
                {
                    end++;
                }
            }

            string[] body = lines[i..(end + 1)].Select(CodeOf).ToArray();
            int lastAccess = Array.FindLastIndex(body, l => PointerAccess().IsMatch(l));
            if (lastAccess < 0 || body[0].Contains(" At(", StringComparison.Ordinal) || body[0].Contains(" VectorWord(", StringComparison.Ordinal))
            {
                continue; // no access, or the private address helpers themselves
            }

            members++;
            Assert.True(
                Array.FindIndex(body, lastAccess, l => l.Contains("GC.KeepAlive(_block)", StringComparison.Ordinal)) > lastAccess,
                $"PageWords.cs:{i + 1}: {lines[i].Trim()} accesses the page without GC.KeepAlive(_block) after it");
        }

        Assert.True(members >= 14, $"only {members} accessing members found: the scan no longer sees them");
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

    [GeneratedRegex(@"\bSkipInit\b")]
    private static partial Regex SkipInit();

    [GeneratedRegex(@"^    (public|internal|private) .*\(")]
    private static partial Regex MemberStart();

    // A dereference of the page's address: *At(...), *VectorWord(...), first[i], or a span over _first.
    [GeneratedRegex(@"\*At\(|\*VectorWord\(|\bfirst\[|Span<byte>\(_first")]
    private static partial Regex PointerAccess();
}
