// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="EoiResult"/> built directly, beyond <see cref="EoiResultTests"/>: every flag on its own,
/// vector 0 and 0xFF, and the LINT flag added without losing the rest.
/// </summary>
public class EoiResultValueTests
{
    [Theory]
    [InlineData(0x00, false, false)]
    [InlineData(0x00, true, true)]
    [InlineData(0xFF, false, true)]
    [InlineData(0xFF, true, false)]
    [InlineData(0x80, true, true)]
    public void A_retired_vector_reports_its_vector_trigger_and_ioapic_flag(int vector, bool level, bool ioApic)
    {
        var eoi = EoiResult.Retired(vector, level, ioApic);

        Assert.False(eoi.IsNone);
        Assert.NotEqual(EoiResult.None, eoi);
        Assert.Equal(vector, eoi.Vector);
        Assert.Equal(level ? TriggerMode.Level : TriggerMode.Edge, eoi.Trigger);
        Assert.Equal(ioApic, eoi.IoApicHandled);
        Assert.False(eoi.LintRemoteIrrCleared);
    }

    [Theory]
    [InlineData(0x00, false, false)]
    [InlineData(0x7F, true, true)]
    [InlineData(0xFF, true, false)]
    public void The_lint_flag_is_added_without_changing_the_rest(int vector, bool level, bool ioApic)
    {
        var plain = EoiResult.Retired(vector, level, ioApic);

        var eoi = plain.WithLintRemoteIrrCleared();

        Assert.True(eoi.LintRemoteIrrCleared);
        Assert.False(eoi.IsNone);
        Assert.Equal(vector, eoi.Vector);
        Assert.Equal(plain.Trigger, eoi.Trigger);
        Assert.Equal(ioApic, eoi.IoApicHandled);
        Assert.NotEqual(plain, eoi);
        Assert.Equal(eoi, eoi.WithLintRemoteIrrCleared());
    }

    [Fact]
    public void Only_the_low_8_bits_of_the_vector_are_kept()
    {
        var eoi = EoiResult.Retired(0x3_42, level: false, ioApicHandled: false);

        Assert.Equal(0x42, eoi.Vector);
        Assert.Equal(TriggerMode.Edge, eoi.Trigger);
        Assert.False(eoi.IoApicHandled);
        Assert.False(eoi.LintRemoteIrrCleared);
        Assert.Equal(EoiResult.Retired(0x42, false, false), eoi);
    }

    [Fact]
    public void Results_are_equal_exactly_when_every_field_is()
    {
        Assert.Equal(EoiResult.Retired(0x31, true, true), EoiResult.Retired(0x31, true, true));
        Assert.NotEqual(EoiResult.Retired(0x31, true, true), EoiResult.Retired(0x32, true, true));
        Assert.NotEqual(EoiResult.Retired(0x31, true, true), EoiResult.Retired(0x31, false, true));
        Assert.NotEqual(EoiResult.Retired(0x31, true, true), EoiResult.Retired(0x31, true, false));
        Assert.Equal(default, EoiResult.None);
    }
}
