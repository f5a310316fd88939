// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Kut;

/// <summary>unittests.cfg cannot be used: the message names the file, line and key.</summary>
public sealed class KutConfigException : Exception
{
    /// <summary>Creates the exception.</summary>
    public KutConfigException()
    {
    }

    /// <summary>Creates the exception with its one-line message.</summary>
    public KutConfigException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its one-line message and cause.</summary>
    public KutConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
