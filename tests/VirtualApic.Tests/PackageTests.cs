// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests;

/// <summary>
/// The library and the tool pack with what a NuGet user expects: the MIT licence expression and the
/// LICENSE file, the README as the package readme, XML docs beside the library, a symbols package,
/// the repository URL, and the one version of Directory.Build.props. Packs the Release build the
/// test run already has (<c>--no-build</c>), into a temporary folder.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("vapic-pack-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private static string Version => XDocument.Load(Repo.PathOf("Directory.Build.props")).Descendants("Version").Single().Value;

    private string Pack(string project, string id)
    {
        var (code, output) = Dotnet(Repo.Root, null, "pack", Repo.PathOf(project), "-c", "Release", "--no-build", "--nologo", "-o", _out);
        Assert.True(code == 0, output);
        string path = Path.Combine(_out, $"{id}.{Version}.nupkg");
        Assert.True(File.Exists(path), output);
        Assert.True(File.Exists(Path.Combine(_out, $"{id}.{Version}.snupkg")), "no symbols package\n" + output);
        return path;
    }

    /// <summary>
    /// Runs <c>dotnet</c> with its own stdin, stdout and stderr (under xunit v3 the test process's
    /// streams are the runner's message channel) and without build servers or reused MSBuild nodes,
    /// which would outlive the command holding its output pipe open.
    /// </summary>
    private static (int Code, string Output) Dotnet(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", args)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)}: no exit within 5 minutes");
        }

        return (process.ExitCode, $"dotnet {string.Join(' ', args)}\n{stdout.Result}{stderr.Result}");
    }

    /// <summary>
    /// What a user outside the repository does: pack the library into a local folder feed, make a
    /// console project in a temporary folder (not under the repository, so none of its build files
    /// apply) whose nuget.config names that feed, paste the README's snippet as Program.cs, build
    /// and run it. The sample restores into its own packages folder, so the package is the one just
    /// packed and never an older 0.2.0 from the machine's cache; any other package (the library
    /// has none today) comes from the machine's package folder, so the test needs no network.
    /// </summary>
    [Fact]
    public void A_project_outside_the_repository_runs_the_readme_snippet_from_the_packed_library()
    {
        Pack("src/VirtualApic/VirtualApic.csproj", "VirtualApic");
        string sample = Path.Combine(_out, "sample");
        Directory.CreateDirectory(sample);
        Assert.False(Path.GetFullPath(sample).StartsWith(Repo.Root, StringComparison.Ordinal), "the sample must live outside the repository");

        // Stop MSBuild's upward search for Directory.Build.* at the sample folder.
        File.WriteAllText(Path.Combine(sample, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(sample, "Directory.Build.targets"), "<Project />\n");
        string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var config = new XElement(
            "configuration",
            new XElement("config", new XElement("add", new XAttribute("key", "globalPackagesFolder"), new XAttribute("value", Path.Combine(sample, "packages")))),
            new XElement(
                "packageSources",
                new XElement("clear"),
                new XElement("add", new XAttribute("key", "local"), new XAttribute("value", _out)),
                Directory.Exists(machinePackages) ? new XElement("add", new XAttribute("key", "machine"), new XAttribute("value", machinePackages)) : null),
            new XElement(
                "packageSourceMapping",
                new XElement("packageSource", new XAttribute("key", "local"), new XElement("package", new XAttribute("pattern", "VirtualApic"))),
                Directory.Exists(machinePackages) ? new XElement("packageSource", new XAttribute("key", "machine"), new XElement("package", new XAttribute("pattern", "*"))) : null));
        config.Save(Path.Combine(sample, "nuget.config"));
        File.WriteAllText(Path.Combine(sample, "Sample.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="VirtualApic" Version="{Version}" />
              </ItemGroup>
            </Project>

            """);
        string snippet = ReadmeSnippetTests.ReadmeSnippet();
        Assert.Contains("using VirtualApic.Fabric;", snippet, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(sample, "Program.cs"), snippet);

        var (built, buildOutput) = Dotnet(sample, null, "build", "Sample.csproj", "-c", "Release", "-o", Path.Combine(sample, "out"), "--disable-build-servers", "-nodeReuse:false", "-p:UseSharedCompilation=false", "-nologo", "-v", "quiet");
        Assert.True(built == 0, buildOutput);
        Assert.True(File.Exists(Path.Combine(sample, "packages", "virtualapic", Version, $"virtualapic.{Version}.nupkg")), "VirtualApic was not restored from the local feed\n" + buildOutput);

        var (ran, runOutput) = Dotnet(sample, null, Path.Combine(sample, "out", "Sample.dll"));
        Assert.True(ran == 0, runOutput);
        string[] lines = runOutput.Split('\n').Skip(1).Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray();
        Assert.Equal(["vector 0x51", "2"], lines);
    }

    private static XElement Metadata(ZipArchive zip, string id)
    {
        using var nuspec = zip.GetEntry($"{id}.nuspec")!.Open();
        var doc = XDocument.Load(nuspec);
        return doc.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private static string? Field(XElement metadata, string name) => metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;

    [Theory]
    [InlineData("src/VirtualApic/VirtualApic.csproj", "VirtualApic", "lib/net10.0/VirtualApic.xml")]
    [InlineData("src/VirtualApic.Cli/VirtualApic.Cli.csproj", "VirtualApic.Cli", "tools/net10.0/any/VirtualApic.xml")]
    public void The_package_carries_licence_readme_docs_and_repository(string project, string id, string xmlDocs)
    {
        using var zip = ZipFile.OpenRead(Pack(project, id));
        var files = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("LICENSE", files);
        Assert.Contains("README.md", files);
        Assert.Contains(xmlDocs, files);
        var metadata = Metadata(zip, id);
        Assert.Equal(Version, Field(metadata, "version"));
        Assert.Equal("MIT", Field(metadata, "license"));
        Assert.Equal("README.md", Field(metadata, "readme"));
        Assert.Contains("The VirtualApic authors", Field(metadata, "copyright"), StringComparison.Ordinal);
        var repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
        Assert.Equal("https://github.com/virtualapic/virtualapic", repository.Attribute("url")?.Value);
        using (var license = new StreamReader(zip.GetEntry("LICENSE")!.Open()))
        {
            Assert.StartsWith("MIT License", license.ReadToEnd(), StringComparison.Ordinal);
        }

        if (id == "VirtualApic.Cli")
        {
            Assert.Contains("tools/net10.0/any/vapic.dll", files);
            Assert.DoesNotContain(files, f => f.Contains("Spectre", StringComparison.Ordinal));
        }
    }
}
