// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using VirtualApic.Fabric;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.CliRunner;

namespace VirtualApic.Tests.Cli;

/// <summary><c>vapic boot</c> and <c>vapic kut</c>: verdict lines and exit codes (0 pass, 1 fail, 2 usage or image error).</summary>
public sealed class GuestCommandTests : IDisposable
{
    private readonly ScratchDirectory _scratch = new("vapic-guest-");

    public void Dispose() => _scratch.Dispose();

    // A Multiboot ELF32 whose 32-bit code prints `text` on COM1 and writes `status` to isa-debug-exit.
    private string Image(string name, string text, uint status, ushort machine = 3)
    {
        var code = new List<byte> { 0x66, 0xBA, 0xF8, 0x03 };          // mov dx, 0x3f8
        foreach (char c in text)
        {
            code.AddRange([0xB0, (byte)c, 0xEE]);                     // mov al, c; out dx, al
        }

        code.Add(0xB8);                                               // mov eax, status
        code.AddRange(BitConverter.GetBytes(status));
        code.AddRange([0xE7, 0xF4, 0xF4]);                            // out 0xf4, eax; hlt
        byte[] file = new byte[52 + 32 + 12 + code.Count];
        file[0] = 0x7F;
        file[1] = (byte)'E';
        file[2] = (byte)'L';
        file[3] = (byte)'F';
        file[4] = 1;
        file[5] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(18), machine);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(24), 0x40_000C);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(28), 52);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(42), 32);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(44), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(52), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(56), 84);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(64), 0x40_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(68), (uint)(12 + code.Count));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(72), (uint)(12 + code.Count));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(84), 0x1BADB002);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(92), unchecked(0u - 0x1BADB002));
        code.CopyTo(file, 96);
        string path = Path.Combine(_scratch.FullName, name);
        File.WriteAllBytes(path, file);
        return path;
    }

    [Fact]
    public void Boot_prints_the_serial_stream_and_one_line_per_backend_and_exits_0()
    {
        string path = Image("ok.flat", "PASS: x\nSUMMARY: 1 tests\n", 0);
        var (code, output, err) = Vapic("boot", path, "--accel", "all");
        Assert.True(code == 0, output + err);
        Assert.StartsWith("PASS: x\nSUMMARY: 1 tests\n", output, StringComparison.Ordinal);
        foreach (string backend in AccelNames.Names)
        {
            Assert.Contains($"PASS ok [{backend}] (1 tests) ", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_nonzero_status_or_a_fail_line_exits_1()
    {
        var (code, output, _) = Vapic("boot", Image("st.flat", "SUMMARY: 1 tests\n", 1));
        Assert.Equal(1, code);
        Assert.Contains("FAIL st [none] (1 tests) ", output, StringComparison.Ordinal);
        Assert.Contains("debug-exit status 1", output, StringComparison.Ordinal);

        (code, output, _) = Vapic("boot", Image("f.flat", "FAIL: y\nSUMMARY: 1 tests, 1 unexpected failures\n", 0));
        Assert.Equal(1, code);
        Assert.Contains("FAIL: y", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Images_that_cannot_boot_exit_2_with_one_line()
    {
        string text = Path.Combine(_scratch.FullName, "notes.txt");
        File.WriteAllText(text, "hello, not a kernel\n");
        string arm = Image("arm.flat", "", 0, machine: 40);
        string cut = Path.Combine(_scratch.FullName, "cut.flat");
        File.WriteAllBytes(cut, File.ReadAllBytes(Image("whole.flat", "abcdefgh", 0))[..100]);

        foreach (var (path, expected) in new[] { (text, "not a Multiboot image"), (arm, "wrong architecture"), (cut, "truncated"), (Path.Combine(_scratch.FullName, "missing.flat"), "cannot read") })
        {
            var (code, output, err) = Vapic("boot", path);
            Assert.Equal(2, code);
            Assert.Contains(expected, err, StringComparison.Ordinal);
            Assert.Single(err.Trim().Split('\n'));
            Assert.Empty(output);
        }
    }

    [Fact]
    public void Usage_errors_exit_2()
    {
        string ok = Image("u.flat", "", 0);
        Assert.Equal(2, Vapic("boot", ok, "--cpu", "qemu64,+avx").Code);
        Assert.Equal(2, Vapic("boot", ok, "--smp", "0").Code);
        Assert.Equal(2, Vapic("boot", ok, "--accel", "vmx").Code);
        Assert.Equal(2, Vapic("boot", ok, "--env", "NOEQUALS").Code);
    }

    [Fact]
    public void Kut_runs_sections_from_the_cfg_and_names_unknown_ones()
    {
        Image("t.flat", "PASS: a\nSUMMARY: 1 tests\n", 0);
        File.WriteAllText(Path.Combine(_scratch.FullName, "unittests.cfg"), "[t]\nfile = t.flat\nsmp = 2\nqemu_params = -cpu qemu64,+x2apic\ntimeout = 5\n");
        var (code, output, err) = Vapic("kut", "t", "--dir", _scratch.FullName, "--accel", "all", "--quiet");
        Assert.True(code == 0, output + err);
        Assert.Equal(4, output.Split('\n').Count(l => l.StartsWith("PASS t [", StringComparison.Ordinal)));
        Assert.DoesNotContain("PASS: a", output, StringComparison.Ordinal);

        (code, output, err) = Vapic("kut", "t", "--dir", _scratch.FullName, "--quiet", "--repeat", "3");
        Assert.True(code == 0, output + err);
        Assert.Matches(@"^PASS t \[none\] \(1 tests\) \S+ insns \S+ virtual \d+\.\d{3}s host \(median of 3\)$", output.Trim());

        foreach (string bad in new[] { "0", "1001", "x" })
        {
            (code, output, err) = Vapic("kut", "t", "--dir", _scratch.FullName, "--repeat", bad);
            Assert.Equal(2, code);
            Assert.Contains("--repeat", err, StringComparison.Ordinal);
            Assert.Empty(output);
        }

        (code, _, err) = Vapic("kut", "nosuch", "--dir", _scratch.FullName);
        Assert.Equal(2, code);
        Assert.Contains("no section [nosuch]", err, StringComparison.Ordinal);
    }
}
