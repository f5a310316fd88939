// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Cpu;

namespace VirtualApic.Tests.Cpu;

/// <summary>
/// The vCPU's stack of entered handlers: its first levels packed in a word, deeper ones in an array;
/// walked against Stack&lt;T&gt; across the boundary between the two, with every kind.
/// </summary>
public class HandlerStackTests
{
    [Fact]
    public void Pushes_and_pops_across_the_packed_levels_behave_as_a_stack()
    {
        // Each step: a push of a kind (1-7) or, for 0, a pop; runs long enough to go 3x past the word.
        var steps = Gen.OneOf(Gen.Byte[0, 7], Gen.Const((byte)0)).Array[1, 6 * HandlerStack.Packed];
        steps.Sample(s =>
        {
            var stack = default(HandlerStack);
            var model = new Stack<GuestEventKind>();
            foreach (byte step in s)
            {
                if (step == 0)
                {
                    bool popped = stack.TryPop(out var kind);
                    Assert.Equal(model.Count > 0, popped);
                    Assert.Equal(popped ? model.Pop() : default, kind);
                }
                else
                {
                    stack.Push((GuestEventKind)step);
                    model.Push((GuestEventKind)step);
                }

                Assert.Equal(model.Count, stack.Count);
                Assert.Equal(model.Reverse(), stack.ToArrayOldestFirst());
            }
        });
    }

    [Fact]
    public void A_level_pushed_again_after_a_pop_holds_its_new_kind_and_clear_empties_the_stack()
    {
        var stack = default(HandlerStack);
        for (int i = 0; i < 2 * HandlerStack.Packed + 3; i++)
        {
            stack.Push(GuestEventKind.Nmi);
        }

        // Down to one below the word's top, then up again with other kinds: no byte of the old ones stays.
        while (stack.Count > HandlerStack.Packed - 1)
        {
            Assert.True(stack.TryPop(out var nmi));
            Assert.Equal(GuestEventKind.Nmi, nmi);
        }

        stack.Push(GuestEventKind.Vector);
        stack.Push(GuestEventKind.ExtInt);
        Assert.Equal([.. Enumerable.Repeat(GuestEventKind.Nmi, HandlerStack.Packed - 1), GuestEventKind.Vector, GuestEventKind.ExtInt], stack.ToArrayOldestFirst());
        Assert.True(stack.TryPop(out var top));
        Assert.Equal(GuestEventKind.ExtInt, top);
        Assert.True(stack.TryPop(out top));
        Assert.Equal(GuestEventKind.Vector, top);

        stack.Clear();
        Assert.Equal(0, stack.Count);
        Assert.False(stack.TryPop(out top));
        Assert.Equal(GuestEventKind.None, top);
        Assert.Empty(stack.ToArrayOldestFirst());
    }
}
