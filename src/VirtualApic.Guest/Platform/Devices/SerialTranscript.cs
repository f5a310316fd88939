// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text;

namespace VirtualApic.Guest.Platform.Devices;

/// <summary>
/// What a guest printed, kept in bounded memory: the first half of the budget as printed, then the
/// most recent half in a ring, with the count of characters dropped between them. A guest that prints
/// forever cannot grow the host, and the end of its output (where kvm-unit-tests prints its
/// <c>SUMMARY:</c>) is still there.
/// </summary>
internal sealed class SerialTranscript
{
    private readonly int _headLimit;
    private readonly int _tailLimit;
    private readonly StringBuilder _head = new();
    private char[]? _tail;
    private int _tailStart;
    private int _tailCount;

    /// <summary>Creates a transcript keeping at most <paramref name="limit"/> characters (at least 2).</summary>
    public SerialTranscript(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 2);
        _headLimit = limit / 2;
        _tailLimit = limit - _headLimit;
    }

    /// <summary>Characters dropped from the middle so far.</summary>
    public long Dropped { get; private set; }

    /// <summary>Appends one character.</summary>
    public void Append(char c)
    {
        if (_head.Length < _headLimit)
        {
            _head.Append(c);
            return;
        }

        _tail ??= new char[_tailLimit]; // only for a guest that filled the head
        if (_tailCount < _tailLimit)
        {
            _tail[(_tailStart + _tailCount) % _tailLimit] = c;
            _tailCount++;
            return;
        }

        _tail[_tailStart] = c;
        _tailStart = (_tailStart + 1) % _tailLimit;
        Dropped++;
    }

    /// <summary>The kept text: the head, a line naming what was dropped (if anything was), the tail.</summary>
    public override string ToString()
    {
        if (_tail is null)
        {
            return _head.ToString();
        }

        var sb = new StringBuilder(_head.Length + _tailCount + 64).Append(_head);
        if (Dropped > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\n[vapic: {Dropped} characters of serial output dropped here]\n");
        }

        int first = Math.Min(_tailCount, _tailLimit - _tailStart);
        return sb.Append(_tail, _tailStart, first).Append(_tail, 0, _tailCount - first).ToString();
    }
}
