// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using VirtualApic.Tests.Fabric;
using VirtualApic.Tests.Support;
using VirtualApic.Tests.Time;

namespace VirtualApic.Tests.Architecture;

/// <summary>
/// One test kit (issue 11): every helper of this assembly (a static class, or a class, record or struct
/// with no <c>[Fact]</c> or <c>[Theory]</c>) lives in <c>Support/</c>, namespace
/// <see cref="KitNamespace"/>, one documented type per file named after it; test folders hold tests.
/// A helper written again beside its tests fails here; private helpers nested in a test class are that
/// class's own business and are not counted.
/// </summary>
public sealed partial class TestKitTests
{
    private const string KitNamespace = "VirtualApic.Tests.Support";
    private const string KitFolder = "tests/VirtualApic.Tests/Support";

    private static readonly Assembly TestAssembly = typeof(TestKitTests).Assembly;

    // The documented exceptions: types that must sit beside their tests.
    private static readonly Dictionary<Type, string> AllowedOutsideTheKit = new()
    {
        [typeof(IpiKind)] = "a public theory parameter of IpiMatrixTests, meaningful only there",
        [typeof(VirtualClockThreadingCollection)] = "an xunit collection definition, which names its tests' collection",
        [typeof(ReadmeSnippetCollection)] = "an xunit collection definition, which names its tests' collection",
    };

    [Fact]
    public void Every_helper_type_lives_in_the_kit()
    {
        var offenders = TopLevelTypes()
            .Where(t => t.Namespace != KitNamespace && !IsTestClass(t) && !AllowedOutsideTheKit.ContainsKey(t))
            .Select(t => t.FullName)
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(offenders.Count == 0, $"helpers outside {KitFolder} (move them into the kit, or document the exception here): {string.Join(", ", offenders)}");
    }

    [Fact]
    public void The_kit_holds_helpers_only_each_with_a_doc_comment()
    {
        var kit = TopLevelTypes().Where(t => t.Namespace == KitNamespace).ToList();
        Assert.True(kit.Count >= 10, $"only {kit.Count} kit types found: is {KitNamespace} still the kit's namespace?");
        Assert.DoesNotContain(kit, IsTestClass);

        var documented = XDocument.Load(Path.ChangeExtension(TestAssembly.Location, ".xml"))
            .Descendants("member")
            .Select(m => (string?)m.Attribute("name"))
            .ToHashSet(StringComparer.Ordinal);
        var undocumented = kit.Where(t => !documented.Contains("T:" + t.FullName)).Select(t => t.Name).Order(StringComparer.Ordinal).ToList();
        Assert.True(undocumented.Count == 0, $"kit types without a <summary>: {string.Join(", ", undocumented)}");
    }

    [Fact]
    public void The_kit_folder_is_the_kit_namespace_one_type_per_file()
    {
        var problems = new List<string>();
        foreach (var (relative, text) in SourceFiles())
        {
            bool inKitFolder = relative.StartsWith(KitFolder + "/", StringComparison.Ordinal);
            bool inKitNamespace = text.Contains($"namespace {KitNamespace};", StringComparison.Ordinal);
            if (inKitFolder != inKitNamespace)
            {
                problems.Add(inKitFolder ? $"{relative}: in the kit folder but not in namespace {KitNamespace}" : $"{relative}: declares kit types outside {KitFolder}");
            }

            if (inKitFolder)
            {
                var declared = TopLevelDeclaration().Matches(text).Select(m => m.Groups["name"].Value).ToList();
                if (declared.Count != 1 || declared[0] != Path.GetFileNameWithoutExtension(relative))
                {
                    problems.Add($"{relative}: declares [{string.Join(", ", declared)}]; the kit keeps one type per file, named after it");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    // The top-level types written in this project's sources (not those the xunit and test-platform
    // generators add to the assembly, such as its entry point).
    private static IEnumerable<Type> TopLevelTypes()
    {
        var written = SourceFiles()
            .SelectMany(f => TopLevelDeclaration().Matches(f.Text).Select(m => $"{Namespace().Match(f.Text).Groups[1].Value}.{m.Groups["name"].Value}"))
            .ToHashSet(StringComparer.Ordinal);
        return TestAssembly.GetTypes().Where(t => !t.IsNested && written.Contains(t.FullName ?? ""));
    }

    private static IEnumerable<(string Relative, string Text)> SourceFiles() =>
        Directory.EnumerateFiles(Path.Combine(Repo.Root, "tests", "VirtualApic.Tests"), "*.cs", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Repo.Root, f).Replace('\\', '/'))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal))
            .Select(f => (f, File.ReadAllText(Repo.PathOf(f))));

    // A test class: an instantiable class with at least one [Fact] (or [Theory], which derives from it).
    private static bool IsTestClass(Type type) =>
        type.IsClass && !type.IsAbstract
        && type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static)
            .Any(m => m.IsDefined(typeof(FactAttribute), inherit: true));

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex Namespace();

    [GeneratedRegex(@"^(?:public |internal |file )?(?:(?:sealed|static|abstract|partial|readonly|unsafe) )*(?:class|record|struct|enum|interface) (?<name>\w+)", RegexOptions.Multiline)]
    private static partial Regex TopLevelDeclaration();
}
