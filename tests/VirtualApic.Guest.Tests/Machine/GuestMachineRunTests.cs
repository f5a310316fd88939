// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform.Devices;
using VirtualApic.Guest.Tests.Boot;
using static Iced.Intel.AssemblerRegisters;
using static VirtualApic.Guest.Tests.Machine.TestGuests;

namespace VirtualApic.Guest.Tests.Machine;

/// <summary>The machine's wiring (boot hand-off, devices) and its run loop's limits and reports.</summary>
public class GuestMachineRunTests
{
    private static void Exit(Assembler a, AssemblerRegister32 value)
    {
        a.mov(eax, value);
        a.@out(0xF4, eax);
        a.hlt();
    }

    // Prints the bytes [esi, edi) to COM1.
    private static void PrintRange(Assembler a)
    {
        var loop = a.CreateLabel();
        var done = a.CreateLabel();
        a.mov(dx, 0x3F8);
        a.Label(ref loop);
        a.cmp(esi, edi);
        a.jae(done);
        a.mov(al, __byte_ptr[esi]);
        a.@out(dx, al);
        a.inc(esi);
        a.jmp(loop);
        a.Label(ref done);
    }

    // Prints the NUL-terminated string at the Multiboot command line (info + 16), then a newline.
    private static void PrintCommandLine(Assembler a)
    {
        var loop = a.CreateLabel();
        var done = a.CreateLabel();
        a.mov(esi, __dword_ptr[ebx + 16]);
        a.mov(dx, 0x3F8);
        a.Label(ref loop);
        a.mov(al, __byte_ptr[esi]);
        a.test(al, al);
        a.jz(done);
        a.@out(dx, al);
        a.inc(esi);
        a.jmp(loop);
        a.Label(ref done);
        a.mov(al, (byte)'\n');
        a.@out(dx, al);
        a.xor(eax, eax);
        a.@out(0xF4, eax);
        a.hlt();
    }

    [Fact]
    public void A_null_image_or_options_or_invalid_options_are_rejected_by_the_constructor()
    {
        var image = TestImages.Image(a => a.hlt());
        Assert.Equal("image", Assert.Throws<ArgumentNullException>(() => new GuestMachine(null!, new GuestMachineOptions())).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentNullException>(() => new GuestMachine(image, null!)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => new GuestMachine(image, new GuestMachineOptions { RamMiB = 1 }));
        Assert.Equal(nameof(GuestMachineOptions.RamMiB), e.ParamName);
    }

    [Theory]
    [InlineData(null, "test.flat\n")]
    [InlineData("", "test.flat\n")]
    [InlineData("a=1 -v", "test.flat a=1 -v\n")]
    public void The_command_line_is_the_image_name_then_the_appended_arguments_after_one_space(string? append, string expected)
    {
        var r = Run(PrintCommandLine, new GuestMachineOptions { RamMiB = 16, Append = append });
        Assert.Equal(GuestOutcome.Exited, r.Outcome);
        Assert.Equal(expected, r.Serial);
    }

    [Fact]
    public void The_environment_module_holds_each_entry_followed_by_a_newline()
    {
        var r = Run(
            a =>
            {
                a.mov(ecx, __dword_ptr[ebx + 24]); // mods_addr
                a.mov(esi, __dword_ptr[ecx]);      // mod_start
                a.mov(edi, __dword_ptr[ecx + 4]);  // mod_end
                PrintRange(a);
                a.xor(eax, eax);
                a.@out(0xF4, eax);
                a.hlt();
            },
            new GuestMachineOptions { RamMiB = 16, Environment = ["A=1", "BB=two"] });
        Assert.Equal(GuestOutcome.Exited, r.Outcome);
        Assert.Equal("A=1\nBB=two\n", r.Serial.TrimEnd('\0'));
    }

    [Fact]
    public void Fw_cfg_reports_the_configured_cpu_count()
    {
        var r = Run(
            a =>
            {
                a.mov(dx, FwCfg.SelectorPort);
                a.mov(ax, FwCfg.KeyCpuCount);
                a.@out(dx, ax);
                a.mov(dx, FwCfg.DataPort);
                a.xor(ebx, ebx);
                a.@in(al, dx);
                a.mov(bl, al);
                Exit(a, ebx);
            },
            new GuestMachineOptions { RamMiB = 16, Cpus = 3 });
        Assert.Equal(3u, r.ExitStatus);
    }

    [Fact]
    public void The_8259_mask_registers_of_both_pics_read_back_what_was_written()
    {
        var r = Run(a =>
        {
            a.mov(al, 0x5A);
            a.@out(0x21, al);
            a.mov(al, 0xC3);
            a.@out(0xA1, al);
            a.xor(ebx, ebx);
            a.@in(al, 0x21);
            a.mov(bl, al);
            a.@in(al, 0xA1);
            a.mov(bh, al);
            Exit(a, ebx);
        });
        Assert.Equal(0xC35Au, r.ExitStatus);
    }

    [Fact]
    public void Writes_to_the_pc_testdev_flush_page_port_are_counted()
    {
        using var machine = Build(a =>
        {
            a.mov(dx, PcTestDev.FlushPage);
            a.@out(dx, eax);
            a.@out(dx, eax);
            a.xor(eax, eax);
            Exit(a, eax);
        });
        machine.Run();
        Assert.Equal(2, machine.PcTestDev.Flushes);
    }

    [Fact]
    public void The_run_stops_once_the_instruction_count_reaches_the_limit()
    {
        // A jump-to-self never exits, so each slice retires exactly one quantum (256 by default)
        // and a limit of two quanta is reached exactly at the end of the second slice.
        var r = Run(Spin, new GuestMachineOptions { RamMiB = 16, MaxInstructions = 512 });
        Assert.Equal(GuestOutcome.InstructionLimit, r.Outcome);
        Assert.Equal(512, r.Instructions);
        Assert.StartsWith("instruction limit 512 reached\n", r.Diagnosis, StringComparison.Ordinal);
    }

    [Fact]
    public void The_run_stops_once_virtual_time_reaches_the_timeout()
    {
        // One nanosecond per instruction: three quanta reach 768 ns exactly.
        var r = Run(Spin, new GuestMachineOptions { RamMiB = 16, VirtualTimeoutNs = 768 });
        Assert.Equal(GuestOutcome.Timeout, r.Outcome);
        Assert.Equal(768, r.VirtualNs);
        Assert.Equal(768, r.Instructions);
        Assert.StartsWith("virtual timeout 768ns reached\n", r.Diagnosis, StringComparison.Ordinal);
    }

    private static void ArmApicTimerAndHalt(Assembler a, int ticks)
    {
        a.mov(__dword_ptr[0xFEE000F0], 0x1FF);  // SVR: enabled
        a.mov(__dword_ptr[0xFEE003E0], 0xB);    // TDCR: divide by 1
        a.mov(__dword_ptr[0xFEE00320], 0x40);   // LVTT: one-shot, vector 0x40
        a.mov(__dword_ptr[0xFEE00380], ticks);  // TMICT
        a.cli();
        a.hlt();
    }

    [Fact]
    public void An_idle_skip_past_the_timeout_stops_at_the_timeout_and_says_every_vcpu_was_idle()
    {
        var r = Run(a => ArmApicTimerAndHalt(a, 100_000_000), new GuestMachineOptions { RamMiB = 16, VirtualTimeoutNs = 1_000_000 });
        Assert.Equal(GuestOutcome.Timeout, r.Outcome);
        Assert.Equal(1_000_000, r.VirtualNs);
        Assert.StartsWith("virtual timeout 1ms reached while every vCPU was idle\n", r.Diagnosis, StringComparison.Ordinal);
    }

    [Fact]
    public void An_idle_skip_is_counted_with_the_nanoseconds_it_jumped()
    {
        using var machine = Build(a => ArmApicTimerAndHalt(a, 10_000_000));
        var r = machine.Run();

        // The clock jumped once, from the HLT (a few exits' worth of time in) to the deadline.
        Assert.Equal(GuestOutcome.Hang, r.Outcome);
        Assert.Equal(1, machine.Stats.IdleSkips);
        long before = r.VirtualNs - machine.Stats.IdleSkippedNs;
        Assert.InRange(before, 1, 100_000);
        Assert.Contains($"idle skips 1 ({machine.Stats.IdleSkippedNs} ns)", r.Statistics, StringComparison.Ordinal);
    }

    [Fact]
    public void Traced_serial_lines_drop_carriage_returns_and_start_empty_after_each_newline()
    {
        var r = Run(a =>
        {
            a.mov(dx, 0x3F8);
            foreach (char c in "ab\r\ncd\n\n")
            {
                a.mov(al, (byte)c);
                a.@out(dx, al);
            }

            a.xor(eax, eax);
            Exit(a, eax);
        });
        Assert.Equal(["ab", "cd", string.Empty], r.SerialLines.Select(l => l.Line));
    }

    [Fact]
    public void A_traced_serial_line_keeps_its_first_4096_characters()
    {
        var r = Run(a =>
        {
            var loop = a.CreateLabel();
            a.mov(dx, 0x3F8);
            a.mov(ecx, 4097);
            a.mov(al, (byte)'x');
            a.Label(ref loop);
            a.@out(dx, al);
            a.dec(ecx);
            a.jnz(loop);
            a.mov(al, (byte)'\n');
            a.@out(dx, al);
            a.xor(eax, eax);
            Exit(a, eax);
        });
        Assert.Equal(GuestOutcome.Exited, r.Outcome);
        Assert.Equal(new string('x', 4096), Assert.Single(r.SerialLines).Line);
    }

    [Fact]
    public void Statistics_list_every_vcpu_with_only_the_exit_reasons_that_occurred()
    {
        var r = Run(
            a =>
            {
                // The exit write does not end the slice, so the HLT after it runs: one hlt exit.
                a.xor(eax, eax);
                Exit(a, eax);
            },
            new GuestMachineOptions { RamMiB = 16, Cpus = 2 });
        string[] lines = r.Statistics.Split('\n');
        Assert.Equal("cpu0 exits 1: hlt=1", lines[0]);
        Assert.Equal("cpu1 exits 0:", lines[1]);
        Assert.StartsWith("cpu0: slices ", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("cpu1: slices ", lines[3], StringComparison.Ordinal);
        Assert.StartsWith("idle skips 0 (0 ns)", lines[4], StringComparison.Ordinal);
    }
}
