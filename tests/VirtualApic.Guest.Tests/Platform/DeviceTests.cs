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
}
