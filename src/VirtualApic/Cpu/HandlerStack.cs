// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Cpu;

/// <summary>
/// The handlers a vCPU entered and has not left by IRET, newest on top, with a push and a pop the
/// JIT inlines into every take and IRET (Stack&lt;T&gt; kept both out of line and bumped a version on
/// each). The first <see cref="Packed"/> levels are bytes of one word inside the vCPU, so a take and
/// its IRET touch no line of another object (an array here was one more cache line per interrupt,
/// missed on every delivery to another vCPU); deeper levels, which only a guest re-enabling IF in
/// its handlers reaches, go to an array grown by doubling. The caller bounds the depth.
/// </summary>
internal struct HandlerStack
{
    /// <summary>How many levels the word holds (one byte each).</summary>
    public const int Packed = 8;

    private ulong _packed;             // level i (0 = oldest) in byte i, for i < Packed
    private GuestEventKind[]? _deeper; // level Packed + i at index i
    private int _depth;

    /// <summary>How many handlers are entered.</summary>
    public readonly int Count => _depth;

    /// <summary>Enters a handler of <paramref name="kind"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push(GuestEventKind kind)
    {
        int depth = _depth;
        if ((uint)depth < Packed)
        {
            int shift = depth << 3;
            _packed = (_packed & ~(0xFFUL << shift)) | ((ulong)kind << shift);
            _depth = depth + 1;
            return;
        }

        PushDeeper(kind);
    }

    /// <summary>Leaves the newest handler; false when none is entered.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPop(out GuestEventKind kind)
    {
        int top = _depth - 1;
        if ((uint)top < Packed)
        {
            kind = (GuestEventKind)(byte)(_packed >> (top << 3));
            _depth = top;
            return true;
        }

        return TryPopDeeper(out kind);
    }

    /// <summary>Leaves every handler (INIT, restore).</summary>
    public void Clear() => _depth = 0;

    /// <summary>The entered handlers, oldest first (the snapshot order).</summary>
    public readonly GuestEventKind[] ToArrayOldestFirst()
    {
        var kinds = new GuestEventKind[_depth];
        for (int i = 0; i < kinds.Length; i++)
        {
            kinds[i] = i < Packed ? (GuestEventKind)(byte)(_packed >> (i << 3)) : _deeper![i - Packed];
        }

        return kinds;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void PushDeeper(GuestEventKind kind)
    {
        int i = _depth - Packed;
        if (_deeper is null || i == _deeper.Length)
        {
            Array.Resize(ref _deeper, Math.Max(Packed, 2 * (_deeper?.Length ?? 0)));
        }

        _deeper[i] = kind;
        _depth++;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryPopDeeper(out GuestEventKind kind)
    {
        if (_depth == 0)
        {
            kind = default;
            return false;
        }

        _depth--;
        kind = _deeper![_depth - Packed];
        return true;
    }
}
