// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>
/// <see cref="ApicConfig"/>: its defaults, <see cref="ApicConfig.Validate"/> at both sides of every
/// range with the exact error, and the <see cref="LocalApic"/> constructor's own argument checks.
/// </summary>
public class ApicConfigTests
{
    [Fact]
    public void The_defaults_are_a_kvm_vm_with_x2apic_and_tsc_deadline()
    {
        var config = new ApicConfig();

        Assert.Same(ApicProfile.Kvm, config.Profile);
        Assert.True(config.X2ApicSupported);
        Assert.True(config.TscDeadlineSupported);
        Assert.False(config.CmciSupported);
        Assert.Equal(46, config.MaxPhysAddr);
        Assert.False(config.DirectedEoiSupported);
        Assert.Equal(2_000_000L, config.TscKhz);
        Assert.Equal(1000L, config.BusMhz);
        Assert.False(config.X2ApicIcrSplit);
        Assert.True(config.ConcurrentDelivery);
        config.Validate();
    }

    [Theory]
    [InlineData(32)]
    [InlineData(46)]
    [InlineData(52)]
    public void MaxPhysAddr_32_to_52_is_valid(int bits) => new ApicConfig { MaxPhysAddr = bits }.Validate();

    [Theory]
    [InlineData(31)]
    [InlineData(53)]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(64)]
    public void MaxPhysAddr_outside_32_to_52_is_rejected(int bits) =>
        AssertRejected(new ApicConfig { MaxPhysAddr = bits }, "MaxPhysAddr", $"MaxPhysAddr must be 32..52, got {bits}");

    [Theory]
    [InlineData(1L)]
    [InlineData(2_000_000L)]
    [InlineData(100_000_000L)]
    public void TscKhz_1_to_100_000_000_is_valid(long khz) => new ApicConfig { TscKhz = khz }.Validate();

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(100_000_001L)]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    public void TscKhz_outside_1_to_100_000_000_is_rejected(long khz) =>
        AssertRejected(new ApicConfig { TscKhz = khz }, "TscKhz", $"TscKhz must be 1..100000000, got {khz}");

    [Theory]
    [InlineData(1L)]
    [InlineData(1000L)]
    [InlineData(100_000L)]
    public void BusMhz_1_to_100_000_is_valid(long mhz) => new ApicConfig { BusMhz = mhz }.Validate();

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(100_001L)]
    [InlineData(long.MaxValue)]
    public void BusMhz_outside_1_to_100_000_is_rejected(long mhz) =>
        AssertRejected(new ApicConfig { BusMhz = mhz }, "BusMhz", $"BusMhz must be 1..100000, got {mhz}");

    [Fact]
    public void The_messages_are_exact()
    {
        // Spelled out once without interpolation, so that the expected text is not built like the actual one.
        Assert.Equal(
            "MaxPhysAddr must be 32..52, got 53 (Parameter 'MaxPhysAddr')",
            Assert.Throws<ArgumentException>(() => new ApicConfig { MaxPhysAddr = 53 }.Validate()).Message);
        Assert.Equal(
            "TscKhz must be 1..100000000, got 0 (Parameter 'TscKhz')",
            Assert.Throws<ArgumentException>(() => new ApicConfig { TscKhz = 0 }.Validate()).Message);
        Assert.Equal(
            "BusMhz must be 1..100000, got 100001 (Parameter 'BusMhz')",
            Assert.Throws<ArgumentException>(() => new ApicConfig { BusMhz = 100_001 }.Validate()).Message);
    }

    [Fact]
    public void Validate_checks_the_values_in_order_and_reports_the_first_bad_one()
    {
        var config = new ApicConfig { MaxPhysAddr = 20, TscKhz = 0, BusMhz = 0 };

        Assert.Equal("MaxPhysAddr", Assert.Throws<ArgumentException>(config.Validate).ParamName);
        Assert.Equal("TscKhz", Assert.Throws<ArgumentException>((config with { MaxPhysAddr = 40 }).Validate).ParamName);
        Assert.Equal("BusMhz", Assert.Throws<ArgumentException>((config with { MaxPhysAddr = 40, TscKhz = 1 }).Validate).ParamName);
    }

    [Fact]
    public void The_other_switches_do_not_affect_validation()
    {
        new ApicConfig
        {
            Profile = ApicProfile.Architectural,
            X2ApicSupported = false,
            TscDeadlineSupported = false,
            CmciSupported = true,
            DirectedEoiSupported = true,
            X2ApicIcrSplit = true,
            ConcurrentDelivery = false,
        }.Validate();
    }

    [Theory]
    [InlineData(31, 1000L, 1000L, "MaxPhysAddr")]
    [InlineData(53, 1000L, 1000L, "MaxPhysAddr")]
    [InlineData(46, 0L, 1000L, "TscKhz")]
    [InlineData(46, 100_000_001L, 1000L, "TscKhz")]
    [InlineData(46, 1000L, 0L, "BusMhz")]
    [InlineData(46, 1000L, 100_001L, "BusMhz")]
    public void The_local_apic_constructor_validates_its_config(int maxPhysAddr, long tscKhz, long busMhz, string paramName)
    {
        var config = new ApicConfig { MaxPhysAddr = maxPhysAddr, TscKhz = tscKhz, BusMhz = busMhz };

        var e = Assert.Throws<ArgumentException>(() => new LocalApic(0, true, config, new VirtualClock()));

        Assert.Equal(paramName, e.ParamName);
    }

    [Fact]
    public void The_local_apic_constructor_takes_a_config_at_the_range_edges()
    {
        var low = new LocalApic(0, true, new ApicConfig { MaxPhysAddr = 32, TscKhz = 1, BusMhz = 1 }, new VirtualClock());
        var high = new LocalApic(3, false, new ApicConfig { MaxPhysAddr = 52, TscKhz = 100_000_000, BusMhz = 100_000 }, new VirtualClock());

        Assert.Equal(32, low.Config.MaxPhysAddr);
        Assert.Equal(3, high.VcpuId);
        Assert.Equal(100_000L, high.Config.BusMhz);
    }

    [Fact]
    public void The_local_apic_constructor_rejects_a_null_config_a_null_clock_and_a_negative_vcpu()
    {
        var clock = new VirtualClock();
        var config = new ApicConfig();

        Assert.Equal("config", Assert.Throws<ArgumentNullException>(() => new LocalApic(0, true, null!, clock)).ParamName);
        Assert.Equal("clock", Assert.Throws<ArgumentNullException>(() => new LocalApic(0, true, config, null!)).ParamName);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new LocalApic(-1, true, config, clock));
        Assert.Equal("vcpuId", e.ParamName);
        Assert.Equal(-1, e.ActualValue);
        Assert.Equal(0, new LocalApic(0, true, config, clock).VcpuId);
    }

    private static void AssertRejected(ApicConfig config, string paramName, string message)
    {
        var e = Assert.Throws<ArgumentException>(config.Validate);

        Assert.Equal(paramName, e.ParamName);
        Assert.Equal($"{message} (Parameter '{paramName}')", e.Message);
    }
}
