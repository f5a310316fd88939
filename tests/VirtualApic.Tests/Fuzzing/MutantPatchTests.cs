// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.


using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fuzzing;

/// <summary>
/// The hand-made mutants of fuzz/mutants (docs/reliability.md) still apply to the library: a patch
/// whose lines moved away measures nothing, and fuzz/run-mutants.sh, which runs outside CI, would
/// only say so when someone next runs it (four of the six had gone stale that way).
/// </summary>
public class MutantPatchTests
{
    public static TheoryData<string> Patches()
    {
        var data = new TheoryData<string>();
        foreach (string? file in Directory.EnumerateFiles(MutantsDirectory(), "*.patch").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Patches))]
    public void Every_hand_made_mutant_still_applies_to_the_library(string patch)
    {
        string root = Repo.Root;
        string[] lines = File.ReadAllLines(Path.Combine(MutantsDirectory(), patch));
        string? target = null;
        int hunks = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("+++ b/", StringComparison.Ordinal))
            {
                target = lines[i][6..].Split('\t')[0];
                continue;
            }

            if (!lines[i].StartsWith("@@", StringComparison.Ordinal))
            {
                continue;
            }

            Assert.NotNull(target);
            string source = File.ReadAllText(Path.Combine(root, target)).ReplaceLineEndings("\n");
            var before = new List<string>();
            var after = new List<string>();
            for (i++; i < lines.Length && !lines[i].StartsWith("@@", StringComparison.Ordinal) && !lines[i].StartsWith("--- ", StringComparison.Ordinal); i++)
            {
                if (lines[i].StartsWith('\\'))
                {
                    continue; // "\ No newline at end of file"
                }

                string body = lines[i].Length > 0 ? lines[i][1..] : string.Empty;
                if (!lines[i].StartsWith('+'))
                {
                    before.Add(body);
                }

                if (!lines[i].StartsWith('-'))
                {
                    after.Add(body);
                }
            }

            i--;
            hunks++;
            Assert.True(source.Contains(string.Join("\n", before) + "\n", StringComparison.Ordinal), $"{patch}: a hunk for {target} no longer matches the source; regenerate the patch");
            Assert.False(source.Contains(string.Join("\n", after) + "\n", StringComparison.Ordinal), $"{patch}: the source already has the mutant's lines in {target}");
        }

        Assert.True(hunks > 0, $"{patch}: no hunk");
    }

    private static string MutantsDirectory() => Path.Combine(Repo.Root, "fuzz", "mutants");
}
