// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Cpu;

/// <summary>
/// The handlers a vCPU entered and has not left by IRET, newest on top: an array and a depth, with a
/// push and a pop the JIT inlines into every take and IRET (Stack&lt;T&gt; kept both out of line and
/// bumped a version on each). It grows by doubling; the caller bounds the depth.
/// </summary>
internal struct HandlerStack
{
    private GuestEventKind[] _kinds;
    private int _depth;

    /// <summary>An empty stack with room for a few nested handlers.</summary>
    public HandlerStack() => _kinds = new GuestEventKind[8];

    /// <summary>How many handlers are entered.</summary>
    public readonly int Count => _depth;

    /// <summary>Enters a handler of <paramref name="kind"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push(GuestEventKind kind)
    {
        var kinds = _kinds;
        int depth = _depth;
        if ((uint)depth < (uint)kinds.Length)
        {
            kinds[depth] = kind;
            _depth = depth + 1;
            return;
        }

        Grow(kind);
    }

    /// <summary>Leaves the newest handler; false when none is entered.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPop(out GuestEventKind kind)
    {
        var kinds = _kinds;
        int top = _depth - 1;
        if ((uint)top < (uint)kinds.Length)
        {
            kind = kinds[top];
            _depth = top;
            return true;
        }

        kind = default;
        return false;
    }

    /// <summary>Leaves every handler (INIT, restore).</summary>
    public void Clear() => _depth = 0;

    /// <summary>The entered handlers, oldest first (the snapshot order).</summary>
    public readonly GuestEventKind[] ToArrayOldestFirst() => _kinds.AsSpan(0, _depth).ToArray();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(GuestEventKind kind)
    {
        Array.Resize(ref _kinds, _kinds.Length * 2);
        _kinds[_depth++] = kind;
    }
}
