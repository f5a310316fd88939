// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Kut;

namespace VirtualApic.Guest.Tests.Kut;

[Collection(nameof(KutDataTests))]
public sealed class KutDataTests : IDisposable
{
    private readonly string? _saved = Environment.GetEnvironmentVariable(KutData.EnvironmentVariable);
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"vapic-kutdata-{Guid.NewGuid():N}");

    public KutDataTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(KutData.EnvironmentVariable, _saved);
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void The_environment_variable_wins_and_names_itself_in_the_message()
    {
        string data = Directory.CreateDirectory(Path.Combine(_root, "data")).FullName;
        string given = Path.Combine(_root, "data", "..", "data");
        Environment.SetEnvironmentVariable(KutData.EnvironmentVariable, given);

        // A repository layout under start is not consulted.
        string start = MakeRepository(withData: true);
        Assert.Equal(data, KutData.Locate(start, out string looked));
        Assert.Equal("$VAPIC_KUT_DIR=" + given, looked);

        string missing = Path.Combine(_root, "missing");
        Environment.SetEnvironmentVariable(KutData.EnvironmentVariable, missing);
        Assert.Null(KutData.Locate(start, out looked));
        Assert.Equal("$VAPIC_KUT_DIR=" + missing, looked);
    }

    [Fact]
    public void Without_the_variable_the_data_is_found_beside_the_nearest_repository_root_above_start()
    {
        Environment.SetEnvironmentVariable(KutData.EnvironmentVariable, null);
        string start = MakeRepository(withData: true);
        string expected = Path.Combine(_root, "shared", "testdata", "kvm-unit-tests", "1da1819e");
        Assert.Equal(expected, KutData.Locate(start, out string looked));
        Assert.Equal(expected + " (set $VAPIC_KUT_DIR to use another folder)", looked);
    }

    [Fact]
    public void A_repository_without_the_data_folder_says_where_it_looked()
    {
        Environment.SetEnvironmentVariable(KutData.EnvironmentVariable, null);
        string start = MakeRepository(withData: false);
        string expected = Path.Combine(_root, "shared", "testdata", "kvm-unit-tests", "1da1819e");
        Assert.Null(KutData.Locate(start, out string looked));
        Assert.Equal(expected + " (set $VAPIC_KUT_DIR to use another folder)", looked);
    }

    [Fact]
    public void No_repository_above_start_is_reported_with_start()
    {
        Environment.SetEnvironmentVariable(KutData.EnvironmentVariable, null);
        string start = Directory.CreateDirectory(Path.Combine(_root, "elsewhere")).FullName;
        Assert.Null(KutData.Locate(start, out string looked));
        Assert.Equal($"no VirtualApic.slnx above {start} and $VAPIC_KUT_DIR is not set", looked);
    }

    // _root/repo/VirtualApic.slnx, optionally _root/shared/testdata/kvm-unit-tests/1da1819e; returns a folder two levels inside repo.
    private string MakeRepository(bool withData)
    {
        string repo = Directory.CreateDirectory(Path.Combine(_root, "repo")).FullName;
        File.WriteAllText(Path.Combine(repo, "VirtualApic.slnx"), "<Solution />");
        if (withData)
        {
            Directory.CreateDirectory(Path.Combine(_root, "shared", "testdata", "kvm-unit-tests", "1da1819e"));
        }

        return Directory.CreateDirectory(Path.Combine(repo, "a", "b")).FullName;
    }
}
