// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Devices;

/// <summary>
/// The IOAPIC's input lines (KVM's <c>ioapic-&gt;irr</c>), one byte per pin. Each line is written
/// with a plain store of its own byte, never by a read-modify-write of a word shared with other
/// pins, so a lock-free deassert and an assert under the lock need no locked instruction. Only an
/// edge assert, which must know whether the line was already high, exchanges its byte atomically.
/// </summary>
[InlineArray(IoApic.PinCount)]
internal struct LineLevels
{
    private byte _pin0;

    /// <summary>Whether <paramref name="pin"/> (0-23, checked by the caller) is asserted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsHigh(int pin) => Volatile.Read(ref Unsafe.Add(ref _pin0, pin)) != 0;

    /// <summary>Sets the level of <paramref name="pin"/> (0-23, checked by the caller): one store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(int pin, bool high) => Volatile.Write(ref Unsafe.Add(ref _pin0, pin), high ? (byte)1 : (byte)0);

    /// <summary>Raises <paramref name="pin"/> atomically and returns whether it was already high.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Raise(int pin) => Interlocked.Exchange(ref Unsafe.Add(ref _pin0, pin), (byte)1) != 0;

    /// <summary>The lines as a bitmask, bit n for pin n (snapshots).</summary>
    public uint ToMask()
    {
        uint mask = 0;
        for (int pin = 0; pin < IoApic.PinCount; pin++)
        {
            mask |= IsHigh(pin) ? 1u << pin : 0;
        }

        return mask;
    }

    /// <summary>Sets every line from a bitmask, bit n for pin n.</summary>
    public void SetAll(uint mask)
    {
        for (int pin = 0; pin < IoApic.PinCount; pin++)
        {
            Set(pin, (mask & (1u << pin)) != 0);
        }
    }
}
