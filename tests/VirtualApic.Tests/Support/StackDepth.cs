// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace VirtualApic.Tests.Support;

/// <summary>
/// Runs a call under extra stack frames, for the tests of a bound IRR's owner, which is told apart
/// by where on the stack its caller is (OwnerThread). No frame is inlined, and each holds some stack
/// of its own, so a greater depth is a lower address.
/// </summary>
internal static class StackDepth
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool Run(int depth, Func<bool> f)
    {
        if (depth == 0)
        {
            return f();
        }

        Span<byte> frame = stackalloc byte[64];
        frame[0] = (byte)depth;
        bool result = Run(depth - 1, f);
        return result && frame[0] == (byte)depth;
    }

    public static void Run(int depth, Action action) => Run(depth, () =>
    {
        action();
        return true;
    });
}
