// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Tests.Boot;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Machine;

/// <summary>Small assembled guests for the machine's tests: 32-bit code at the Multiboot entry.</summary>
internal static class TestGuests
{
    /// <summary>The default machine of these tests: one vCPU, 16 MiB.</summary>
    public static GuestMachineOptions Small => new() { RamMiB = 16 };

    public static GuestMachine Build(Action<Assembler> code, GuestMachineOptions? options = null) =>
        new(TestImages.Image(code), options ?? Small);

    public static GuestRunResult Run(Action<Assembler> code, GuestMachineOptions? options = null)
    {
        using var machine = Build(code, options);
        return machine.Run();
    }

    /// <summary>A jump to itself: work that never ends.</summary>
    public static void Spin(Assembler a)
    {
        var self = a.CreateLabel();
        a.Label(ref self);
        a.jmp(self);
    }

    /// <summary>Ends the run through isa-debug-exit with status 0.</summary>
    public static void ExitZero(Assembler a)
    {
        a.xor(eax, eax);
        a.@out(0xF4, eax);
        a.hlt();
    }
}
