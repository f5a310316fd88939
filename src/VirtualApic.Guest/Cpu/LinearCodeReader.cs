// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>Feeds Iced the instruction bytes at a linear address, translating each byte through the CPU's
/// instruction-fetch path (so a fetch that crosses into a missing page raises #PF, exactly when the
/// decoder needs that byte).</summary>
internal sealed class LinearCodeReader : CodeReader
{
    private readonly X86Cpu _cpu;
    private ulong _next;
    private int _count;
    private readonly byte[] _bytes = new byte[16];

    public LinearCodeReader(X86Cpu cpu) => _cpu = cpu;

    /// <summary>Bytes read since <see cref="Reset"/>.</summary>
    public ReadOnlySpan<byte> BytesRead => _bytes.AsSpan(0, _count);

    /// <summary>Whether the last byte came from a page other than the first.</summary>
    public bool CrossedPage { get; private set; }

    private ulong _firstPage;

    public void Reset(ulong linear)
    {
        _next = linear;
        _count = 0;
        _firstPage = linear >> 12;
        CrossedPage = false;
    }

    public override int ReadByte()
    {
        if (_count >= 15)
        {
            return -1;
        }

        if (_next >> 12 != _firstPage)
        {
            CrossedPage = true;
        }

        byte b = _cpu.FetchByte(_next);
        _bytes[_count++] = b;
        _next = _cpu.MaskLinear(_next + 1);
        return b;
    }
}
