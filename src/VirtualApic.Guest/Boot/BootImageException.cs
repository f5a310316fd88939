// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Boot;

/// <summary>
/// The file given as a guest image cannot be booted: not a Multiboot image, truncated, for another
/// architecture, or not fitting in guest RAM. The message is one line naming the file and the place.
/// </summary>
public sealed class BootImageException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BootImageException()
    {
    }

    /// <summary>Creates the exception with its one-line message.</summary>
    public BootImageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its one-line message and cause.</summary>
    public BootImageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
