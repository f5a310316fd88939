// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Tests.Support;

/// <summary>
/// A fresh directory under the system temp folder for one test (xunit makes a test class instance per
/// test), deleted with everything in it when the test class is disposed.
/// </summary>
internal sealed class ScratchDirectory(string prefix) : IDisposable
{
    /// <summary>The directory's full path.</summary>
    public string FullName { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>Writes <paramref name="text"/> to <paramref name="name"/> (a relative path, directories created) and returns the full path.</summary>
    public string Write(string name, string text)
    {
        string path = Path.Combine(FullName, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <inheritdoc/>
    public void Dispose() => Directory.Delete(FullName, recursive: true);
}
