// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Platform;

/// <summary>
/// The I/O port space: a device per port (registered by range). A port nobody decodes reads
/// all-ones and ignores writes, as an ISA bus with nothing on it does.
/// </summary>
public sealed class PortBus
{
    private readonly IPortDevice?[] _devices = new IPortDevice?[ushort.MaxValue + 1];

    /// <summary>Claims <paramref name="count"/> ports from <paramref name="first"/> for <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">A port of the range is already claimed, or the range leaves the port space; nothing is claimed then.</exception>
    public void Register(ushort first, int count, IPortDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (count < 1 || first + count > _devices.Length)
        {
            throw new ArgumentException($"port range 0x{first:x}+{count} is outside the port space", nameof(count));
        }

        // Check the whole range before claiming any of it: a refused registration changes nothing.
        for (int p = first; p < first + count; p++)
        {
            if (_devices[p] is not null)
            {
                throw new ArgumentException($"port 0x{p:x} is already claimed by {_devices[p]!.GetType().Name}", nameof(first));
            }
        }

        _devices.AsSpan(first, count).Fill(device);
    }

    /// <summary>The device decoding <paramref name="port"/>, if any.</summary>
    public IPortDevice? DeviceAt(ushort port) => _devices[port];

    /// <summary>IN of <paramref name="size"/> bytes.</summary>
    public uint Read(ushort port, int size)
    {
        var device = _devices[port];
        return device is null ? AllOnes(size) : device.Read(port, size) & AllOnes(size);
    }

    /// <summary>OUT of <paramref name="size"/> bytes.</summary>
    public void Write(ushort port, uint value, int size) => _devices[port]?.Write(port, value & AllOnes(size), size);

    private static uint AllOnes(int size) => size >= 4 ? uint.MaxValue : (1u << (size * 8)) - 1;
}
