// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Platform.Devices;

/// <summary>
/// The parts of QEMU's pc-testdev these tests use: ports 0x2000 + n (n = 0..23) drive ISA IRQ line n
/// (a byte write sets it to <c>value != 0</c>), and the 32-bit "flush page" port 0xE4, a no-op here
/// (stores already invalidate cached decodes).
/// </summary>
public sealed class PcTestDev : IPortDevice
{
    /// <summary>The first IRQ-line port.</summary>
    public const ushort IrqBase = 0x2000;

    /// <summary>The number of IRQ lines.</summary>
    public const int IrqCount = 24;

    /// <summary>The flush-page port.</summary>
    public const ushort FlushPage = 0xE4;

    private readonly Action<int, bool> _setLine;

    /// <summary>Creates the device; <paramref name="setLine"/> drives an interrupt line (the IOAPIC pin).</summary>
    public PcTestDev(Action<int, bool> setLine)
    {
        ArgumentNullException.ThrowIfNull(setLine);
        _setLine = setLine;
    }

    /// <summary>Writes to the flush-page port so far.</summary>
    public long Flushes { get; private set; }

    /// <inheritdoc/>
    public uint Read(ushort port, int size) => port is >= IrqBase and < IrqBase + IrqCount ? 0 : uint.MaxValue;

    /// <inheritdoc/>
    public void Write(ushort port, uint value, int size)
    {
        if (port is >= IrqBase and < IrqBase + IrqCount)
        {
            _setLine(port - IrqBase, (value & 0xFF) != 0);
        }
        else if (port is >= FlushPage and < FlushPage + 4)
        {
            Flushes++;
        }
    }
}
