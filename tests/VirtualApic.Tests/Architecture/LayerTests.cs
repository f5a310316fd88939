// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Reflection;
using System.Text.RegularExpressions;
using NetArchTest.Rules;
using VirtualApic.Core;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Architecture;

/// <summary>
/// The library's rooms as the compiled type graph sees them (NetArchTest reads the IL, so a fully
/// qualified name or a method body counts as much as a using): the namespace dependency graph must
/// have no cycle, and must be exactly the graph docs/architecture.md draws in its "Layer graph" table.
/// </summary>
public sealed partial class LayerTests
{
    private const string Root = "VirtualApic";

    // Test tooling that still ships in the library until it moves to VirtualApic.Diagnostics (issue 11):
    // not a layer, allowed to use anything, used by nothing.
    private const string Tooling = "Diagnostics";

    private static readonly Assembly Library = typeof(LocalApic).Assembly;

    private static readonly Lazy<SortedDictionary<string, SortedSet<string>>> Actual = new(BuildGraph);

    [Fact]
    public void The_namespace_graph_has_no_cycle()
    {
        var cycle = FindCycle(Actual.Value);
        Assert.True(cycle is null, $"namespace cycle: {string.Join(" -> ", cycle ?? [])}");
    }

    [Fact]
    public void The_namespace_graph_is_the_one_docs_architecture_md_draws()
    {
        var documented = DocumentedGraph();
        var actual = Actual.Value;
        var problems = new List<string>();
        foreach (string? layer in actual.Keys.Union(documented.Keys).Order(StringComparer.Ordinal))
        {
            var uses = actual.GetValueOrDefault(layer) ?? [];
            var drawn = documented.GetValueOrDefault(layer);
            if (drawn is null)
            {
                problems.Add($"{layer}: a namespace of the library that docs/architecture.md does not list");
                continue;
            }

            if (!actual.ContainsKey(layer))
            {
                problems.Add($"{layer}: listed in docs/architecture.md but no such namespace in the library");
                continue;
            }

            foreach (string? extra in uses.Except(drawn))
            {
                problems.Add($"{layer} -> {extra}: a dependency against the arrows ({Offenders(layer, extra)})");
            }

            foreach (string? missing in drawn.Except(uses))
            {
                problems.Add($"{layer} -> {missing}: drawn in docs/architecture.md but not in the code");
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void The_documented_graph_is_read_from_the_docs_and_is_itself_acyclic()
    {
        var documented = DocumentedGraph();
        Assert.Contains("Core", documented.Keys);
        Assert.Contains("Core", documented["Assist"]);
        Assert.DoesNotContain("Fabric", documented["Core"]);
        Assert.Null(FindCycle(documented));
    }

    private static IEnumerable<string> LayerNamespaces() =>
        Library.GetTypes()
            .Select(t => t.Namespace)
            .OfType<string>()
            .Where(n => n.StartsWith(Root + ".", StringComparison.Ordinal))
            .Select(n => n[(Root.Length + 1)..].Split('.')[0])
            .Where(n => n != Tooling)
            .Distinct();

    private static SortedDictionary<string, SortedSet<string>> BuildGraph()
    {
        var layers = LayerNamespaces().ToList();
        var graph = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (string? from in layers)
        {
            graph[from] = new SortedSet<string>(StringComparer.Ordinal);
            foreach (string? to in layers.Where(l => l != from))
            {
                if (DependentTypes(from, to).Any())
                {
                    graph[from].Add(to);
                }
            }
        }

        return graph;
    }

    private static IEnumerable<string> DependentTypes(string from, string to) =>
        Types.InAssembly(Library)
            .That().ResideInNamespace($"{Root}.{from}")
            .And().HaveDependencyOnAny($"{Root}.{to}")
            .GetTypes()
            .Select(t => t.FullName);

    private static string Offenders(string from, string to) => string.Join(", ", DependentTypes(from, to).Take(5));

    private static List<string>? FindCycle(IReadOnlyDictionary<string, SortedSet<string>> graph)
    {
        var state = new Dictionary<string, int>(); // 1 on the stack, 2 done
        var path = new List<string>();
        foreach (string start in graph.Keys)
        {
            if (Visit(start) is { } cycle)
            {
                return cycle;
            }
        }

        return null;

        List<string>? Visit(string node)
        {
            if (state.GetValueOrDefault(node) == 2)
            {
                return null;
            }

            if (state.GetValueOrDefault(node) == 1)
            {
                return [.. path.Skip(path.IndexOf(node)), node];
            }

            state[node] = 1;
            path.Add(node);
            foreach (string? next in graph.GetValueOrDefault(node) ?? [])
            {
                if (Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
    }

    // The "Layer graph" table of docs/architecture.md: | `Layer` | `Uses`, `Uses` | what lives there |
    internal static SortedDictionary<string, SortedSet<string>> DocumentedGraph()
    {
        string doc = File.ReadAllText(Repo.PathOf("docs/architecture.md"));
        int start = doc.IndexOf("## Layer graph", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/architecture.md has no '## Layer graph' section");
        int end = doc.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        string section = end < 0 ? doc[start..] : doc[start..end];
        var graph = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (Match row in GraphRow().Matches(section))
        {
            var uses = Code().Matches(row.Groups["uses"].Value).Select(m => m.Groups[1].Value);
            graph[row.Groups["layer"].Value] = new SortedSet<string>(uses, StringComparer.Ordinal);
        }

        Assert.NotEmpty(graph);
        return graph;
    }

    [GeneratedRegex(@"^\|\s*`(?<layer>[A-Za-z]+)`\s*\|(?<uses>[^|]*)\|", RegexOptions.Multiline)]
    private static partial Regex GraphRow();

    [GeneratedRegex("`([A-Za-z]+)`")]
    private static partial Regex Code();
}
