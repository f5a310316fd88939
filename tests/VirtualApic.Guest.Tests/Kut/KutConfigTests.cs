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
    [InlineData("[a]\nfile = a.flat\n[]\n", ":3: malformed section header '[]'")]
    [InlineData("[a]\nfile = a.flat\n\n[b\n", ":4: malformed section header '[b'")]
    [InlineData("[a]\nfile = a.flat\n= x\n", ":3: expected 'key = value', got '= x'")]
    [InlineData("[a]\nfile = a.flat\nsmp = 0\n", ":3: smp '0' is not a positive number")]
    [InlineData("[a]\nfile = a.flat\ntimeout = 0\n", ":3: timeout '0' is not a positive number")]
    [InlineData("[a]\nfile = a.flat\ntimeout = -1s\n", ":3: timeout '-1s' is not a positive number")]
    [InlineData("[a]\nfile = a.flat\nqemu_params = -m 64 -cpu\n", ":3: qemu_params: -cpu needs an argument")]
    [InlineData("[a]\nfile = a.flat\n\nextra_params = -append\n", ":4: extra_params: -append needs an argument")]
    public void Malformed_files_name_the_line(string text, string expected)
    {
        var e = Assert.Throws<KutConfigException>(() => KutConfig.Parse(text, "u.cfg"));
        Assert.Contains("u.cfg" + expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_keys_take_their_defaults_and_other_qemu_options_are_ignored()
    {
        var cfg = KutConfig.Parse("[a]\nfile = a.flat\nsmp = 1\nqemu_params = -m 512 -smp 2\n[b]\nfile = b.flat\n");
        var a = cfg.Find("a")!;
        Assert.Equal(1, a.Smp);
        Assert.Equal("qemu64", a.Cpu);
        Assert.Null(a.Append);
        Assert.Equal(1, a.Line);
        var b = cfg.Find("b")!;
        Assert.Equal(1, b.Smp);
        Assert.Equal("qemu64", b.Cpu);
        Assert.Null(b.Arch);
        Assert.Equal(5, b.Line);
        Assert.Null(cfg.Find("c"));
    }

    [Fact]
    public void Runs_of_blanks_separate_one_word_each_in_groups_and_test_args()
    {
        var s = KutConfig.Parse("[a]\nfile = a.flat\ngroups = apic   nodefault\ntest_args = x  \t y   'p  q'\n").Sections[0];
        Assert.Equal(["apic", "nodefault"], s.Groups);
        Assert.Equal("x y p  q", s.Append);
    }

    [Fact]
    public void A_file_that_cannot_be_read_is_a_config_error_naming_it()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"vapic-no-such-{Guid.NewGuid():N}.cfg");
        var e = Assert.Throws<KutConfigException>(() => KutConfig.Load(missing));
        Assert.StartsWith(missing + ": cannot read: ", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<IOException>(e.InnerException);

        // An empty path is an ArgumentException from the file system, reported the same way.
        var empty = Assert.Throws<KutConfigException>(() => KutConfig.Load(""));
        Assert.StartsWith(": cannot read: ", empty.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<ArgumentException>(empty.InnerException);
    }

    [Fact]
    public void Null_arguments_are_refused_by_name()
    {
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => KutConfig.Load(null!)).ParamName);
        Assert.Equal("text", Assert.Throws<ArgumentNullException>(() => KutConfig.Parse(null!)).ParamName);
    }
}
