// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform.Devices;
using static Iced.Intel.AssemblerRegisters;
using static VirtualApic.Guest.Tests.Machine.TestGuests;

namespace VirtualApic.Guest.Tests.Machine;

/// <summary>Which vCPU runs when, and the IRQ wiring of the machine's devices.</summary>
public class GuestMachineSchedulingTests
{
    private static void Halt(Assembler a)
    {
        a.cli();
        a.hlt();
    }

    [Fact]
    public void A_halted_vcpu_gets_one_more_slice_to_look_at_its_events_before_the_hang_and_no_more()
    {
        using var machine = Build(Halt, new GuestMachineOptions { RamMiB = 16 });
        var r = machine.Run();
        Assert.Equal(GuestOutcome.Hang, r.Outcome);

        // One slice up to the HLT, one look when every vCPU is idle.
        Assert.Equal(2, machine.Stats.Slices(0));
    }

    [Fact]
    public void Application_processors_wait_for_a_startup_ipi()
    {
        using var machine = Build(Halt, new GuestMachineOptions { RamMiB = 16, Cpus = 2 });
        var r = machine.Run();
        Assert.Equal(GuestOutcome.Hang, r.Outcome);
        Assert.Contains("--- cpu0 (run state Halted,", r.Diagnosis, StringComparison.Ordinal);
        Assert.Contains("--- cpu1 (run state WaitForSipi,", r.Diagnosis, StringComparison.Ordinal);
        Assert.Equal(0, machine.Cpus[1].InstructionsRetired);
    }

    [Fact]
    public void A_timer_firing_at_a_slice_end_leaves_the_slices_whole_quanta()
    {
        // A jump-to-self never exits, so the timer's deadline is only reached when the slice's
        // instructions are charged at its end: nothing is running then, nothing yields.
        using var machine = Build(
            a =>
            {
                var self = a.CreateLabel();
                a.mov(__dword_ptr[0xFEE000F0], 0x1FF);   // SVR: enabled
                a.mov(__dword_ptr[0xFEE003E0], 0xB);     // TDCR: divide by 1
                a.mov(__dword_ptr[0xFEE00320], 0x10040); // LVTT: masked, one-shot
                a.mov(__dword_ptr[0xFEE00380], 100);     // TMICT: expires within the first slice
                a.Label(ref self);
                a.jmp(self);
            },
            new GuestMachineOptions { RamMiB = 16, MaxInstructions = 4096 });
        var r = machine.Run();
        Assert.Equal(GuestOutcome.InstructionLimit, r.Outcome);
        Assert.Equal(4096, r.Instructions);
        Assert.Equal(4096 / TimeModel.Default.Quantum, machine.Stats.Slices(0));
    }

    [Fact]
    public void Pc_testdev_irq_ports_drive_the_ioapic_input_lines()
    {
        using var machine = Build(
            a =>
            {
                a.mov(__dword_ptr[0xFEE000F0], 0x1FF);      // SVR: enabled
                a.mov(__dword_ptr[0xFEC00000], 0x10 + (2 * 10)); // IOREGSEL: redirection entry 10, low
                a.mov(__dword_ptr[0xFEC00010], 0x50);       // fixed, edge, vector 0x50, unmasked
                a.mov(__dword_ptr[0xFEC00000], 0x11 + (2 * 10)); // high: destination APIC 0
                a.mov(__dword_ptr[0xFEC00010], 0);
                a.mov(dx, PcTestDev.IrqBase + 10);
                a.mov(al, 1);
                a.@out(dx, al);
                Halt(a);
            },
            new GuestMachineOptions { RamMiB = 16 });
        var r = machine.Run();
        Assert.Equal(GuestOutcome.Hang, r.Outcome);
        Assert.Contains("IRR=50 ", r.Diagnosis, StringComparison.Ordinal);
    }

    [Fact]
    public void A_vcpu_halted_with_interrupts_enabled_wakes_at_the_timer_deadline_after_an_idle_skip()
    {
        const uint idt = 0x20000;
        const uint gdt = 0x21000;
        using var machine = Build(
            a =>
            {
                var handler = a.CreateLabel();
                var start = a.CreateLabel();
                a.mov(esp, 0x30000); // Multiboot leaves ESP undefined
                a.call(start);       // pushes the handler's address

                // Vector 0x40: exit with the vector number.
                a.Label(ref handler);
                a.mov(eax, 0x40);
                a.@out(0xF4, eax);
                a.hlt();

                // Multiboot leaves GDTR undefined: a GDT whose entry 0x10 is the flat code segment
                // the loader put in CS, and a 32-bit interrupt gate for vector 0x40 into it.
                a.Label(ref start);
                a.mov(__dword_ptr[gdt + 0x10], 0x0000FFFF);
                a.mov(__dword_ptr[gdt + 0x14], 0x00CF9A00);
                a.push(gdt);
                a.push((0x18 - 1) << 16);
                a.lgdt(__[esp + 2]);
                a.add(esp, 8);
                a.pop(eax);
                a.mov(__word_ptr[idt + (0x40 * 8)], ax);
                a.mov(__word_ptr[idt + (0x40 * 8) + 2], cs);
                a.mov(__word_ptr[idt + (0x40 * 8) + 4], 0x8E00);
                a.shr(eax, 16);
                a.mov(__word_ptr[idt + (0x40 * 8) + 6], ax);
                a.push(idt);
                a.push((0x41 * 8 - 1) << 16);
                a.lidt(__[esp + 2]);

                a.mov(__dword_ptr[0xFEE000F0], 0x1FF);       // SVR: enabled
                a.mov(__dword_ptr[0xFEE003E0], 0xB);         // TDCR: divide by 1
                a.mov(__dword_ptr[0xFEE00320], 0x40);        // LVTT: one-shot, vector 0x40
                a.mov(__dword_ptr[0xFEE00380], 10_000_000);  // TMICT: 10 ms
                a.sti();
                a.hlt();
                a.hlt();
            },
            new GuestMachineOptions { RamMiB = 16 });
        var r = machine.Run();
        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(0x40u, r.ExitStatus);
        Assert.Equal(1, machine.Stats.IdleSkips);
        Assert.InRange(r.VirtualNs, 10_000_000, 11_000_000);
    }
}
