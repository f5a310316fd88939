// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;

namespace VirtualApic.Guest.Platform.Devices;

/// <summary>
/// QEMU's fw_cfg in its I/O-port form: a 16-bit write of a key to 0x510 selects an item and resets
/// the offset; byte reads from 0x511 return the item's bytes in order (0 past the end or for an unknown
/// key). Items: 0x00 signature "QEMU", 0x03 RAM size (u64), 0x05 CPU count (u16), the ones
/// kvm-unit-tests reads (lib/x86/fwcfg.c).
/// </summary>
public sealed class FwCfg : IPortDevice
{
    /// <summary>The selector port.</summary>
    public const ushort SelectorPort = 0x510;

    /// <summary>The data port.</summary>
    public const ushort DataPort = 0x511;

    /// <summary>FW_CFG_SIGNATURE.</summary>
    public const ushort KeySignature = 0x00;

    /// <summary>FW_CFG_RAM_SIZE.</summary>
    public const ushort KeyRamSize = 0x03;

    /// <summary>FW_CFG_NB_CPUS.</summary>
    public const ushort KeyCpuCount = 0x05;

    private readonly Dictionary<ushort, byte[]> _items = [];
    private byte[] _selected = [];
    private int _offset;

    /// <summary>Creates fw_cfg for a machine of <paramref name="cpus"/> CPUs and <paramref name="ramBytes"/> of RAM.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cpus"/> is not 1-65535 (the item is 16 bits).</exception>
    public FwCfg(int cpus, ulong ramBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cpus);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpus, ushort.MaxValue);
        _items[KeySignature] = "QEMU"u8.ToArray();
        byte[] ram = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(ram, ramBytes);
        _items[KeyRamSize] = ram;
        byte[] n = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(n, (ushort)cpus);
        _items[KeyCpuCount] = n;
    }

    /// <inheritdoc/>
    public uint Read(ushort port, int size)
    {
        if (port != DataPort)
        {
            return 0;
        }

        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            uint b = _offset < _selected.Length ? _selected[_offset] : 0u;
            _offset++;
            value |= b << (8 * i);
        }

        return value;
    }

    /// <inheritdoc/>
    public void Write(ushort port, uint value, int size)
    {
        if (port != SelectorPort)
        {
            return;
        }

        _selected = _items.TryGetValue((ushort)value, out byte[]? item) ? item : [];
        _offset = 0;
    }
}
