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
        var psi = new ProcessStartInfo("dotnet", ["pack", Repo.PathOf(project), "-c", "Release", "--no-build", "--nologo", "-o", _out])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(psi)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, output);
        string path = Path.Combine(_out, $"{id}.{Version}.nupkg");
        Assert.True(File.Exists(path), output);
        Assert.True(File.Exists(Path.Combine(_out, $"{id}.{Version}.snupkg")), "no symbols package\n" + output);
        return path;
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
