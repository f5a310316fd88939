// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Machine;
using static Iced.Intel.AssemblerRegisters;
using static VirtualApic.Guest.Tests.Machine.TestGuests;

namespace VirtualApic.Guest.Tests.Machine;

/// <summary>How guest work is charged to the virtual clock, and the reports of runs that fail.</summary>
public class GuestMachineTimeTests
{
    [Fact]
    public void Each_retired_instruction_costs_the_model_instruction_time()
    {
        // Three quanta of a jump-to-self at 3 ns each reach a timeout of 3 x 768 ns exactly.
        var r = Run(Spin, new GuestMachineOptions { RamMiB = 16, Time = new TimeModel(InstructionNs: 3), VirtualTimeoutNs = 3 * 768 });
        Assert.Equal(GuestOutcome.Timeout, r.Outcome);
        Assert.Equal(768, r.Instructions);
        Assert.Equal(3 * 768, r.VirtualNs);
    }

    [Fact]
    public void Each_port_access_costs_its_instruction_time_plus_the_exit_time()
    {
        static Action<Assembler> Outs(int n) => a =>
        {
            for (int i = 0; i < n; i++)
            {
                a.@out(0x80, al);
            }

            ExitZero(a);
        };

        var options = new GuestMachineOptions { RamMiB = 16, Time = new TimeModel(InstructionNs: 3, ExitNs: 1_000) };
        var none = Run(Outs(0), options);
        var ten = Run(Outs(10), options);
        Assert.Equal(10, ten.Instructions - none.Instructions);
        Assert.Equal(10 * (3 + 1_000), ten.VirtualNs - none.VirtualNs);
    }

    [Fact]
    public void Back_to_back_pauses_after_real_work_cost_the_back_off_sequence_from_its_start()
    {
        // 100 NOPs first, so the first PAUSE is not within the streak gap of anything; each PAUSE
        // ends the slice and is charged PauseCost(streak) on top of its instruction.
        static Action<Assembler> Pauses(int n) => a =>
        {
            for (int i = 0; i < 100; i++)
            {
                a.nop();
            }

            for (int i = 0; i < n; i++)
            {
                a.pause();
            }

            ExitZero(a);
        };

        var options = new GuestMachineOptions { RamMiB = 16 };
        var none = Run(Pauses(0), options);
        var three = Run(Pauses(3), options);
        var m = TimeModel.Default;
        Assert.Equal(3, three.Instructions - none.Instructions);
        Assert.Equal((3 * m.InstructionNs) + m.PauseCost(0) + m.PauseCost(1) + m.PauseCost(2), three.VirtualNs - none.VirtualNs);
    }

    /// <summary>
    /// A timer that fires during an exit ends the running vCPU's slice there (so the target of the
    /// interrupt runs now); without a timer, exits never end a slice and slices stay whole quanta.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_timer_firing_during_an_exit_ends_the_slice_early(bool armTimer)
    {
        var r = Run(
            a =>
            {
                var loop = a.CreateLabel();
                if (armTimer)
                {
                    a.mov(__dword_ptr[0xFEE000F0], 0x1FF);   // SVR: enabled
                    a.mov(__dword_ptr[0xFEE003E0], 0xB);     // TDCR: divide by 1
                    a.mov(__dword_ptr[0xFEE00320], 0x10040); // LVTT: masked one-shot
                    a.mov(__dword_ptr[0xFEE00380], 50_000);  // TMICT: fires during the loop's exits
                }
                else
                {
                    for (int i = 0; i < 4; i++)
                    {
                        a.nop();
                    }
                }

                a.Label(ref loop);
                a.@out(0x80, al);
                a.jmp(loop);
            },
            new GuestMachineOptions { RamMiB = 16, MaxInstructions = 2048 });
        Assert.Equal(GuestOutcome.InstructionLimit, r.Outcome);
        if (armTimer)
        {
            Assert.NotEqual(0, r.Instructions % TimeModel.Default.Quantum);
        }
        else
        {
            Assert.Equal(2048, r.Instructions);
        }
    }

    [Fact]
    public void A_triple_fault_ends_the_run_as_shutdown_naming_the_vcpu()
    {
        // An empty IDT: the breakpoint's #GP then #DF find no gate either, which is a shutdown.
        var r = Run(
            a =>
            {
                a.mov(esp, 0x30000); // Multiboot leaves ESP undefined
                a.push(0);
                a.push(0);
                a.lidt(__[esp + 2]);
                a.int3();
                a.hlt();
            },
            new GuestMachineOptions { RamMiB = 16 });
        Assert.Equal(GuestOutcome.Shutdown, r.Outcome);
        Assert.StartsWith("cpu0: triple fault (shutdown)\n--- cpu0 (run state ", r.Diagnosis, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hang_report_shows_empty_apic_vector_sets_as_dashes_and_ends_with_the_totals()
    {
        var r = Run(
            a =>
            {
                a.cli();
                a.hlt();
            },
            new GuestMachineOptions { RamMiB = 16 });
        Assert.Equal(GuestOutcome.Hang, r.Outcome);
        Assert.Contains("\nIRR=- ISR=- TMR=-\n", r.Diagnosis, StringComparison.Ordinal);
        Assert.EndsWith($"virtual time {GuestMachine.FormatNs(r.VirtualNs)}, {r.Instructions} instructions, timers armed 0", r.Diagnosis, StringComparison.Ordinal);
    }
}
