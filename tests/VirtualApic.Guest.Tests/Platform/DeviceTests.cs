// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Platform;
using VirtualApic.Guest.Platform.Devices;

namespace VirtualApic.Guest.Tests.Platform;

public class DeviceTests
{
    [Fact]
    public void Uart_transmits_thr_bytes_but_not_the_divisor_latch_and_always_reports_ready()
    {
        var uart = new Uart16550();
        var bus = new PortBus();
        bus.Register(Uart16550.Com1, 8, uart);

        // kvm-unit-tests serial_init: DLAB on, divisor 1, DLAB off, 8N1.
        bus.Write(0x3FB, bus.Read(0x3FB, 1) | 0x80, 1);
        bus.Write(0x3F8, 0x01, 1);
        bus.Write(0x3F9, 0x00, 1);
        bus.Write(0x3FB, 0x03, 1);
        Assert.Equal(0x03u, bus.Read(0x3FB, 1));
        foreach (char c in "hi\r\n")
        {
            Assert.Equal(0x60u, bus.Read(0x3FD, 1) & 0x60);
            bus.Write(0x3F8, c, 1);
        }

        Assert.Equal("hi\n", uart.Text);
        Assert.Equal(4, uart.BytesTransmitted);
    }

    /// <summary>A guest that prints forever cannot grow the host: past the budget the middle of the
    /// output is dropped, the drop is marked, and the start and the most recent end are kept.</summary>
    [Fact]
    public void Uart_text_is_bounded_keeping_the_head_and_the_most_recent_tail()
    {
        var uart = new Uart16550(retainedChars: 10);
        foreach (char c in "abcdefghijklmnopqrstuvwxyz")
        {
            uart.Write(Uart16550.Com1, c, 1);
        }

        Assert.Equal("abcde\n[vapic: 16 characters of serial output dropped here]\nvwxyz", uart.Text);
        Assert.Equal(16, uart.DroppedChars);
        Assert.Equal(26, uart.BytesTransmitted);
    }

    [Theory]
    [InlineData("abc", "abc")]           // the head only
    [InlineData("abcdefgh", "abcdefgh")] // head and tail, nothing dropped: no marker
    [InlineData("abcdefghij", "abcd\n[vapic: 1 characters of serial output dropped here]\nfghij")] // head 4, tail 5
    public void Uart_text_below_and_at_the_budget_is_the_output_itself(string printed, string expected)
    {
        var uart = new Uart16550(retainedChars: 9);
        foreach (char c in printed)
        {
            uart.Write(Uart16550.Com1, c, 1);
        }

        Assert.Equal(expected, uart.Text);
    }

    [Fact]
    public void Uart_refuses_a_budget_below_two_characters()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Uart16550(retainedChars: 1));
    }

    [Fact]
    public void Port_bus_reads_all_ones_where_nothing_decodes_and_refuses_double_claims()
    {
        var bus = new PortBus();
        Assert.Equal(0xFFu, bus.Read(0x80, 1));
        Assert.Equal(0xFFFFu, bus.Read(0x80, 2));
        Assert.Equal(0xFFFF_FFFFu, bus.Read(0x80, 4));
        bus.Write(0x80, 1, 1); // dropped
        bus.Register(0x20, 2, new Pic8259Stub());
        var e = Assert.Throws<ArgumentException>(() => bus.Register(0x21, 1, new Pic8259Stub()));
        Assert.Contains("0x21", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fw_cfg_serves_signature_cpu_count_and_ram_size_bytewise()
    {
        var fw = new FwCfg(cpus: 4, ramBytes: 128ul << 20);
        fw.Write(FwCfg.SelectorPort, FwCfg.KeySignature, 2);
        Assert.Equal("QEMU", string.Concat(Enumerable.Range(0, 4).Select(_ => (char)fw.Read(FwCfg.DataPort, 1))));
        fw.Write(FwCfg.SelectorPort, FwCfg.KeyCpuCount, 2);
        Assert.Equal(4u, fw.Read(FwCfg.DataPort, 1) | (fw.Read(FwCfg.DataPort, 1) << 8));
        fw.Write(FwCfg.SelectorPort, FwCfg.KeyRamSize, 2);
        ulong ram = 0;
        for (int i = 0; i < 8; i++)
        {
            ram |= (ulong)fw.Read(FwCfg.DataPort, 1) << (8 * i);
        }

        Assert.Equal(128ul << 20, ram);
        fw.Write(FwCfg.SelectorPort, 0x11, 2); // not an item: reads 0
        Assert.Equal(0u, fw.Read(FwCfg.DataPort, 1));
    }

    [Fact]
    public void Pc_testdev_drives_irq_lines_and_debug_exit_keeps_the_first_status()
    {
        var lines = new List<(int, bool)>();
        var dev = new PcTestDev((n, v) => lines.Add((n, v)));
        dev.Write(0x200E, 1, 1);
        dev.Write(0x200E, 0, 1);
        dev.Write(0x2017, 0x80, 1);
        dev.Write(PcTestDev.FlushPage, 0x1234, 4);
        Assert.Equal([(14, true), (14, false), (23, true)], lines);
        Assert.Equal(1, dev.Flushes);

        var exit = new DebugExit();
        Assert.Null(exit.Status);
        exit.Write(DebugExit.Port, 0, 4);
        exit.Write(DebugExit.Port, 1, 4);
        Assert.Equal(0u, exit.Status);
        Assert.Equal(1, exit.QemuExitCode);
    }

    [Fact]
    public void Pic_stub_remembers_its_masks()
    {
        var pic = new Pic8259Stub();
        pic.Write(0x21, 0xFB, 1);
        pic.Write(0xA1, 0xFF, 1);
        Assert.Equal(0xFBu, pic.Read(0x21, 1));
        Assert.Equal(0xFFu, pic.Read(0xA1, 1));
    }

    /// <summary>The 16550's registers besides THR (PC16550D data sheet, register table): with LCR.DLAB
    /// set, offsets 0 and 1 are the divisor latch and transmit nothing; IER keeps its four defined
    /// bits, MCR its five; IIR says no interrupt, LSR transmitter empty, MSR CTS, DSR and DCD; SCR is
    /// plain storage.</summary>
    [Fact]
    public void Uart_divisor_latch_and_register_read_back()
    {
        var uart = new Uart16550();
        const ushort b = Uart16550.Com1;

        uart.Write(b + 1, 0xFF, 1); // IER
        uart.Write(b + 4, 0xFF, 1); // MCR
        uart.Write(b + 7, 0x5A, 1); // SCR
        uart.Write(b + 3, 0x83, 1); // LCR: DLAB, 8 bits
        uart.Write(b + 0, 0x0C, 1); // DLL
        uart.Write(b + 1, 0x34, 1); // DLM

        Assert.Equal(0x0Cu, uart.Read(b + 0, 1));
        Assert.Equal(0x34u, uart.Read(b + 1, 1));
        Assert.Equal(0L, uart.BytesTransmitted);

        uart.Write(b + 3, 0x03, 1); // DLAB off
        Assert.Equal(0u, uart.Read(b + 0, 1));    // RBR: nothing received
        Assert.Equal(0x0Fu, uart.Read(b + 1, 1)); // IER, not DLM
        Assert.Equal(0x01u, uart.Read(b + 2, 1));
        Assert.Equal(0x03u, uart.Read(b + 3, 1));
        Assert.Equal(0x1Fu, uart.Read(b + 4, 1));
        Assert.Equal(0x60u, uart.Read(b + 5, 1));
        Assert.Equal(0xB0u, uart.Read(b + 6, 1));
        Assert.Equal(0x5Au, uart.Read(b + 7, 1));
        Assert.Equal(string.Empty, uart.Text);
    }

    /// <summary>QEMU's isa-debug-exit makes the process exit with (value &lt;&lt; 1) | 1.</summary>
    [Theory]
    [InlineData(0u, 1)]
    [InlineData(1u, 3)]
    [InlineData(5u, 11)]
    [InlineData(0x7Fu, 0xFF)]
    public void Debug_exit_code_is_the_status_doubled_plus_one(uint status, int code)
    {
        var exit = new DebugExit();
        exit.Write(DebugExit.Port, status, 4);
        Assert.Equal(code, exit.QemuExitCode);
        Assert.Equal(uint.MaxValue, exit.Read(DebugExit.Port, 4));
    }

    /// <summary>pc-testdev: the 24 IRQ-line ports read 0 and drive their line with the low byte
    /// written (non-zero raises); the four flush-page ports count; anything else reads all-ones and
    /// does nothing.</summary>
    [Fact]
    public void Pc_testdev_decodes_exactly_its_line_and_flush_ports()
    {
        var lines = new List<(int, bool)>();
        var dev = new PcTestDev((n, v) => lines.Add((n, v)));

        dev.Write(PcTestDev.IrqBase, 0x100, 1);      // low byte 0: lowers line 0
        dev.Write(PcTestDev.IrqBase + 23, 0x01, 1);
        dev.Write(PcTestDev.IrqBase + 24, 0x01, 1);  // past the last line
        dev.Write(PcTestDev.IrqBase - 1, 0x01, 1);
        Assert.Equal([(0, false), (23, true)], lines);

        Assert.Equal(0u, dev.Read(PcTestDev.IrqBase, 1));
        Assert.Equal(0u, dev.Read(PcTestDev.IrqBase + 23, 1));
        Assert.Equal(uint.MaxValue, dev.Read(PcTestDev.IrqBase + 24, 1));
        Assert.Equal(uint.MaxValue, dev.Read(PcTestDev.IrqBase - 1, 1));

        dev.Write(PcTestDev.FlushPage - 1, 0, 4);
        dev.Write(PcTestDev.FlushPage + 3, 0, 1);
        dev.Write(PcTestDev.FlushPage + 4, 0, 1);
        Assert.Equal(1, dev.Flushes);
        Assert.Equal("setLine", Assert.Throws<ArgumentNullException>(() => new PcTestDev(null!)).ParamName);
    }

    /// <summary>The 8259 stubs power up fully masked; each mask register is its own; the command ports
    /// (0x20, 0xA0) change neither and read 0.</summary>
    [Fact]
    public void Pic_stub_masks_power_up_masked_and_are_independent()
    {
        var pic = new Pic8259Stub();
        Assert.Equal((0xFF, 0xFF), (pic.MasterMask, pic.SlaveMask));

        pic.Write(0xA1, 0x12, 1);
        pic.Write(0x20, 0x11, 1); // ICW1 to the master
        pic.Write(0xA0, 0x20, 1); // EOI to the slave

        Assert.Equal((0xFF, 0x12), (pic.MasterMask, pic.SlaveMask));
        Assert.Equal(0u, pic.Read(0x20, 1));
        Assert.Equal(0u, pic.Read(0xA0, 1));
    }

    /// <summary>fw_cfg reads continue through the selected item a byte at a time (a wide read takes
    /// consecutive bytes, little-endian) and read 0 past its end; only the selector port selects, and
    /// re-selecting restarts at offset 0.</summary>
    [Fact]
    public void Fw_cfg_reads_step_through_the_item_and_selecting_again_restarts()
    {
        var fw = new FwCfg(cpus: 3, ramBytes: 0x1122_3344_5566_7788);
        fw.Write(FwCfg.SelectorPort, FwCfg.KeyRamSize, 2);

        Assert.Equal(0x5566_7788u, fw.Read(FwCfg.DataPort, 4));
        Assert.Equal(0x1122_3344u, fw.Read(FwCfg.DataPort, 4));
        Assert.Equal(0u, fw.Read(FwCfg.DataPort, 4));

        fw.Write(FwCfg.DataPort, FwCfg.KeyCpuCount, 2); // not the selector: nothing changes
        Assert.Equal(0u, fw.Read(FwCfg.DataPort, 1));
        Assert.Equal(0u, fw.Read(FwCfg.SelectorPort, 1));

        fw.Write(FwCfg.SelectorPort, FwCfg.KeyCpuCount, 2);
        Assert.Equal(3u, fw.Read(FwCfg.DataPort, 2));
        fw.Write(FwCfg.SelectorPort, FwCfg.KeyCpuCount, 2);
        Assert.Equal(3u, fw.Read(FwCfg.DataPort, 1));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65_536)]
    public void Fw_cfg_refuses_a_cpu_count_it_cannot_encode(int cpus)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FwCfg(cpus, 1 << 20));
        Assert.Equal("cpus", e.ParamName);
    }
}
