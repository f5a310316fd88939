// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Machine;

namespace VirtualApic.Guest.Tests.Machine;

public class GuestMachineOptionsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(255)]
    public void Smp_from_1_to_255_is_accepted(int cpus) => new GuestMachineOptions { Cpus = cpus }.Validate();

    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    public void Smp_outside_1_to_255_is_rejected_naming_the_value(int cpus)
    {
        var e = Assert.Throws<ArgumentException>(() => new GuestMachineOptions { Cpus = cpus }.Validate());
        Assert.Equal(nameof(GuestMachineOptions.Cpus), e.ParamName);
        Assert.Contains($"got {cpus}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(2047)]
    public void Memory_from_2_to_2047_mib_is_accepted(int mib) => new GuestMachineOptions { RamMiB = mib }.Validate();

    [Theory]
    [InlineData(1)]
    [InlineData(2048)]
    public void Memory_outside_2_to_2047_mib_is_rejected_naming_the_value(int mib)
    {
        var e = Assert.Throws<ArgumentException>(() => new GuestMachineOptions { RamMiB = mib }.Validate());
        Assert.Equal(nameof(GuestMachineOptions.RamMiB), e.ParamName);
        Assert.Contains($"got {mib}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_quantum_of_one_instruction_is_accepted_and_zero_is_rejected()
    {
        new GuestMachineOptions { Time = new TimeModel(Quantum: 1) }.Validate();
        var e = Assert.Throws<ArgumentException>(() => new GuestMachineOptions { Time = new TimeModel(Quantum: 0) }.Validate());
        Assert.Equal(nameof(GuestMachineOptions.Time), e.ParamName);
        Assert.Contains("got 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_entries_of_the_form_name_equals_value_are_accepted() =>
        new GuestMachineOptions { Environment = ["A=1", "B=", "LONG_NAME=x=y"] }.Validate();

    [Theory]
    [InlineData("NOEQUALS")]
    [InlineData("=value")]
    [InlineData("A=1\nB=2")]
    public void An_environment_entry_without_a_name_or_with_a_newline_is_rejected_quoting_it(string entry)
    {
        var e = Assert.Throws<ArgumentException>(() => new GuestMachineOptions { Environment = ["OK=1", entry] }.Validate());
        Assert.Equal(nameof(GuestMachineOptions.Environment), e.ParamName);
        Assert.Contains($"'{entry}'", e.Message, StringComparison.Ordinal);
    }
}
