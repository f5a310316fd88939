// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Platform.Devices;

/// <summary>
/// A stand-in for the two 8259s at 0x20/0x21 and 0xA0/0xA1: the guest may mask them (the interrupt
/// mask registers read back what was written) and send them commands, which are ignored. They never
/// raise an interrupt; the tests only mask them.
/// </summary>
public sealed class Pic8259Stub : IPortDevice
{
    private byte _masterMask = 0xFF;
    private byte _slaveMask = 0xFF;

    /// <summary>The master's interrupt mask register.</summary>
    public byte MasterMask => _masterMask;

    /// <summary>The slave's interrupt mask register.</summary>
    public byte SlaveMask => _slaveMask;

    /// <inheritdoc/>
    public uint Read(ushort port, int size) => port switch
    {
        0x21 => _masterMask,
        0xA1 => _slaveMask,
        _ => 0,
    };

    /// <inheritdoc/>
    public void Write(ushort port, uint value, int size)
    {
        if (port == 0x21)
        {
            _masterMask = (byte)value;
        }
        else if (port == 0xA1)
        {
            _slaveMask = (byte)value;
        }
    }
}
