// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Boot;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Tests.Boot;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Machine;

public class GuestMachineTests
{
    private static GuestRunResult Boot(Action<Assembler> code, int cpus = 1, IReadOnlyList<string>? env = null)
    {
        var image = TestImages.Image(code);
        using var machine = new GuestMachine(image, new GuestMachineOptions { Cpus = cpus, RamMiB = 16, Environment = env ?? [] });
        return machine.Run();
    }

    private static void Print(Assembler a, string text)
    {
        a.mov(dx, 0x3F8);
        foreach (char c in text)
        {
            a.mov(al, (byte)c);
            a.@out(dx, al);
        }
    }

    private static void Exit(Assembler a, uint status)
    {
        a.mov(eax, status);
        a.@out(0xF4, eax);
    }

    [Fact]
    public void Serial_output_and_the_debug_exit_status_end_the_run()
    {
        var r = Boot(a =>
        {
            Print(a, "hello\n");
            Exit(a, 7);
            a.hlt();
        });
        Assert.Equal(GuestOutcome.Exited, r.Outcome);
        Assert.Equal(7u, r.ExitStatus);
        Assert.Equal("hello\n", r.Serial);
        Assert.Equal([(r.SerialLines[0].VirtualNs, "hello")], r.SerialLines);
    }

    [Fact]
    public void Halting_with_nothing_to_wake_it_is_a_hang_reported_at_once_with_a_state_dump()
    {
        var r = Boot(a =>
        {
            a.cli();
            a.hlt();
        });
        Assert.Equal(GuestOutcome.Hang, r.Outcome);
        Assert.Contains("hang", r.Diagnosis, StringComparison.Ordinal);
        Assert.Contains("RIP=", r.Diagnosis, StringComparison.Ordinal);
        Assert.Contains("APIC_BASE=FEE00900", r.Diagnosis, StringComparison.Ordinal);
        Assert.True(r.VirtualNs < 1_000_000, "no timeout was waited out");
    }

    [Fact]
    public void All_halted_skips_to_the_apic_timer_deadline()
    {
        // xAPIC: SVR enabled, LVT timer one-shot vector 0x40 masked, TMICT = 10 ms at 1 GHz / 1.
        // HLT with IF=0 still wakes on a pending interrupt? No: with IF=0 and a masked LVT nothing
        // is delivered, so instead unmask and keep IF=0: the interrupt becomes pending in IRR and
        // HLT with IF=0 does not wake, so the engine must report a hang after the timer fired.
        var r = Boot(a =>
        {
            a.mov(__dword_ptr[0xFEE000F0], 0x1FF);     // SVR
            a.mov(__dword_ptr[0xFEE003E0], 0xB);       // TDCR: divide by 1
            a.mov(__dword_ptr[0xFEE00320], 0x40);      // LVTT: one-shot, vector 0x40
            a.mov(__dword_ptr[0xFEE00380], 10_000_000); // TMICT
            a.cli();
            a.hlt();
        });
        Assert.Equal(GuestOutcome.Hang, r.Outcome);
        Assert.True(r.VirtualNs >= 10_000_000, $"time skipped to the deadline, got {r.VirtualNs}");
        Assert.True(r.VirtualNs < 11_000_000, $"and not beyond it, got {r.VirtualNs}");
        Assert.Contains("IRR=40", r.Diagnosis, StringComparison.Ordinal);
    }

    [Fact]
    public void Pv_send_ipi_hypercall_returns_the_number_of_apics_that_accepted()
    {
        // 32-bit caller: KVM_HC_SEND_IPI(a0 = bit 1, a1 = 0, min = 0, icr = NMI); the AP accepts the NMI.
        var r = Boot(
            a =>
            {
                a.mov(eax, 10);
                a.mov(ebx, 0b10);
                a.xor(ecx, ecx);
                a.xor(edx, edx);
                a.mov(esi, 0x400);
                a.vmcall();
                a.@out(0xF4, eax);
                a.hlt();
            },
            cpus: 2);
        Assert.Equal(GuestOutcome.Exited, r.Outcome);
        Assert.Equal(1u, r.ExitStatus);
    }

    [Fact]
    public void An_unknown_hypercall_returns_enosys()
    {
        var r = Boot(a =>
        {
            a.mov(eax, 99);
            a.vmcall();
            a.@out(0xF4, eax);
            a.hlt();
        });
        Assert.Equal(unchecked((uint)-1000), r.ExitStatus);
    }

    /// <summary>A guest printing empty lines until the instruction limit: the traced lines stop at the
    /// cap with one marker line, and the run ends at the limit as it should.</summary>
    [Fact]
    public void Traced_serial_lines_are_capped_with_a_marker()
    {
        var image = MultibootImage.Parse(
            TestImages.Elf32(TestImages.Code32(a =>
            {
                var loop = a.CreateLabel();
                a.mov(dx, 0x3F8);
                a.mov(al, (byte)'\n');
                a.Label(ref loop);
                a.@out(dx, al);
                a.jmp(loop);
            })),
            "test.flat");
        using var machine = new GuestMachine(image, new GuestMachineOptions { RamMiB = 16, MaxInstructions = 2L * (GuestMachine.MaxSerialLines + 10) });

        var r = machine.Run();

        Assert.Equal(GuestOutcome.InstructionLimit, r.Outcome);
        Assert.Equal(GuestMachine.MaxSerialLines + 1, r.SerialLines.Count);
        Assert.Equal(string.Empty, r.SerialLines[GuestMachine.MaxSerialLines - 1].Line);
        Assert.Equal($"[vapic: serial lines past the first {GuestMachine.MaxSerialLines} are not traced]", r.SerialLines[^1].Line);
        Assert.True(machine.Serial.BytesTransmitted > GuestMachine.MaxSerialLines + 1);
    }

    /// <summary>
    /// Enabling paging outside IA-32e mode is not modelled: the run must end as Unsupported naming
    /// that, not throw out of <see cref="GuestMachine.Run"/> (the report's look at the code bytes
    /// walks the same unmodelled tables).
    /// </summary>
    [Fact]
    public void Thirty_two_bit_paging_ends_the_run_as_unsupported_instead_of_throwing()
    {
        var r = Boot(a =>
        {
            a.mov(eax, 0x9000);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)0x8000_0000));
            a.mov(cr0, eax);
            a.hlt();
        });

        Assert.Equal(GuestOutcome.Unsupported, r.Outcome);
        Assert.Contains("paging outside IA-32e mode (32-bit or PAE paging) is not modelled", r.Diagnosis, StringComparison.Ordinal);
    }

    [Fact]
    public void Pause_back_off_doubles_up_to_its_cap_and_resets_after_real_work()
    {
        var model = TimeModel.Default;
        Assert.Equal([100L, 200L, 400L, 100_000L, 100_000L], new[] { 0, 1, 2, 10, 40 }.Select(model.PauseCost));

        // 20 back-to-back PAUSEs: 100 ns x (2^0 + ... ) capped, far more than 20 x 100 ns.
        var tight = Boot(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 20);
            a.Label(ref loop);
            a.pause();
            a.dec(ecx);
            a.jnz(loop);
            Exit(a, 0);
        });

        // The same PAUSEs separated by 100 instructions each: every one costs the base price.
        var spaced = Boot(a =>
        {
            var loop = a.CreateLabel();
            var inner = a.CreateLabel();
            a.mov(ecx, 20);
            a.Label(ref loop);
            a.pause();
            a.mov(edx, 50);
            a.Label(ref inner);
            a.dec(edx);
            a.jnz(inner);
            a.dec(ecx);
            a.jnz(loop);
            Exit(a, 0);
        });
        Assert.True(tight.VirtualNs > 1_000_000, $"tight pauses back off: {tight.VirtualNs} ns");
        Assert.True(spaced.VirtualNs < 100_000, $"spaced pauses do not: {spaced.VirtualNs} ns");
    }

    [Fact]
    public void The_same_image_gives_the_same_time_and_instruction_count()
    {
        static void Code(Assembler a)
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 1000);
            a.Label(ref loop);
            a.rdtsc();
            a.pause();
            a.dec(ecx);
            a.jnz(loop);
            Exit(a, 0);
        }

        var first = Boot(Code, cpus: 2);
        var second = Boot(Code, cpus: 2);
        Assert.Equal(GuestOutcome.Exited, first.Outcome);
        Assert.Equal((first.Instructions, first.VirtualNs), (second.Instructions, second.VirtualNs));
    }
}
