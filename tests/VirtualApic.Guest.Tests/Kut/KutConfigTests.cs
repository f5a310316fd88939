// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Kut;

namespace VirtualApic.Guest.Tests.Kut;

public class KutConfigTests
{
    // The three sections of unittests.cfg at kvm-unit-tests 1da1819e, in content.
    private const string Cfg = """
        # comment
        [x2apic]
        file = apic.flat
        smp = 2
        qemu_params = -cpu qemu64,+x2apic,+tsc-deadline
        arch = x86_64
        timeout = 30
        groups = apic

        [xapic]
        file = apic.flat
        smp = 2
        qemu_params = -cpu qemu64,-x2apic,+tsc-deadline
        arch = x86_64
        timeout = 60
        groups = apic

        [ioapic]
        file = ioapic.flat
        smp = 4
        qemu_params = -cpu qemu64,+x2apic
        arch = x86_64
        """;

    [Fact]
    public void Parses_the_apic_and_ioapic_sections()
    {
        var cfg = KutConfig.Parse(Cfg);
        Assert.Equal(["x2apic", "xapic", "ioapic"], cfg.Sections.Select(s => s.Name));
        var x2 = cfg.Find("x2apic")!;
        Assert.Equal("apic.flat", x2.File);
        Assert.Equal(2, x2.Smp);
        Assert.Equal("qemu64,+x2apic,+tsc-deadline", x2.Cpu);
        Assert.Equal(30, x2.TimeoutSeconds);
        Assert.Equal(["apic"], x2.Groups);
        Assert.Equal("x86_64", x2.Arch);
        var io = cfg.Find("ioapic")!;
        Assert.Equal(4, io.Smp);
        Assert.Equal(KutConfig.DefaultTimeoutSeconds, io.TimeoutSeconds);
        Assert.Empty(io.Groups);
        Assert.Null(io.Append);
    }

    [Fact]
    public void Extra_params_append_and_test_args_become_the_command_line()
    {
        var cfg = KutConfig.Parse("[v]\nfile = vmexit.flat\nextra_params = -cpu qemu64 -append 'ipi hlt'\ntimeout = 5s\n[w]\nfile = w.flat\ntest_args = \"a b\" c\n");
        Assert.Equal("ipi hlt", cfg.Find("v")!.Append);
        Assert.Equal(5, cfg.Find("v")!.TimeoutSeconds);
        Assert.Equal("a b c", cfg.Find("w")!.Append);
    }

    [Theory]
    [InlineData("[a]\nsmp = 2\n", ":1: section [a] has no 'file'")]
    [InlineData("[a]\nfile = a.flat\nsmp = $MAX_SMP\n", ":3: smp '$MAX_SMP'")]
    [InlineData("file = a.flat\n", ":1: 'file = a.flat' is outside any [section]")]
    [InlineData("[a]\nfile = a.flat\nnonsense\n", ":3: expected 'key = value'")]
    [InlineData("[a]\nfile = a.flat\ntimeout = soon\n", ":3: timeout 'soon'")]
    [InlineData("[a]\nfile = a.flat\n[a]\nfile = b.flat\n", ":3: section [a] appears twice")]
    [InlineData("[a]\nfile = a.flat\nqemu_params = -append 'x\n", ":3: unterminated ' quote")]
    public void Malformed_files_name_the_line(string text, string expected)
    {
        var e = Assert.Throws<KutConfigException>(() => KutConfig.Parse(text, "u.cfg"));
        Assert.Contains("u.cfg" + expected, e.Message, StringComparison.Ordinal);
    }
}
