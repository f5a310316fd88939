// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Platform;

/// <summary>A device on the I/O port bus.</summary>
public interface IPortDevice
{
    /// <summary>IN from <paramref name="port"/>.</summary>
    /// <param name="port">The port, one of those the device was registered for.</param>
    /// <param name="size">1, 2 or 4 bytes.</param>
    /// <returns>The value in the low <paramref name="size"/> bytes.</returns>
    uint Read(ushort port, int size);

    /// <summary>OUT to <paramref name="port"/>.</summary>
    /// <param name="port">The port, one of those the device was registered for.</param>
    /// <param name="value">The value in the low <paramref name="size"/> bytes.</param>
    /// <param name="size">1, 2 or 4 bytes.</param>
    void Write(ushort port, uint value, int size);
}
