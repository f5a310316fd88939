// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>The APIC timer: modes, divider, TMCCT, TSC deadline (kvm-reference.md 5; SDM 11.5.4).</summary>
public class TimerTests
{
    private const byte Vector = 0xEC;
    private const uint OneShot = Vector;
    private const uint Periodic = (1u << 17) | Vector;
    private const uint Deadline = (2u << 17) | Vector;

    private static (LocalApic Apic, VirtualClock Clock) Create(ApicProfile? profile = null, long busMhz = 1000, bool tscDeadline = true, bool x2 = false)
    {
        var clock = new VirtualClock();
        var config = new ApicConfig { Profile = profile ?? ApicProfile.Kvm, BusMhz = busMhz, TscDeadlineSupported = tscDeadline, TscKhz = 2_000_000 };
        return (TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic, config, clock: clock), clock);
    }

    private static void Start(LocalApic apic, uint lvtt, uint tdcr, uint tmict)
    {
        Assert.True(apic.Write(ApicOffset.LvtTimer, lvtt));
        Assert.True(apic.Write(ApicOffset.Tdcr, tdcr));
        Assert.True(apic.Write(ApicOffset.Tmict, tmict));
    }

    /// <summary>Takes the timer vector if it is pending; returns whether it was.</summary>
    private static bool TakeTick(LocalApic apic)
    {
        if (apic.PendingVector() != Vector)
        {
            return false;
        }

        Assert.Equal(Vector, apic.Acknowledge());
        Assert.Equal(Vector, apic.EndOfInterrupt().Vector);
        return true;
    }

    [Theory]
    [InlineData(0x0u, 2)]
    [InlineData(0x1u, 4)]
    [InlineData(0x2u, 8)]
    [InlineData(0x3u, 16)]
    [InlineData(0x8u, 32)]
    [InlineData(0x9u, 64)]
    [InlineData(0xAu, 128)]
    [InlineData(0xBu, 1)]
    public void Every_tdcr_encoding_divides_as_the_sdm_table_says(uint tdcr, int divide)
    {
        Assert.Equal(divide, ApicTimer.DivideFromTdcr(tdcr));
        var (apic, clock) = Create();

        Start(apic, OneShot, tdcr, 1000);

        Assert.Equal(divide, apic.Timer.DivideCount);
        Assert.Equal(1000L * divide, apic.Timer.PeriodNs);
        clock.Advance((1000L * divide) - 1);
        Assert.False(apic.IrrHas(Vector));
        clock.Advance(1);
        Assert.True(apic.IrrHas(Vector));
        Assert.Equal(1000L * divide, clock.NowNs);
    }

    [Theory]
    [InlineData(0x4u, 0x0u, 2)]
    [InlineData(0xFu, 0xBu, 1)]
    [InlineData(0xF4u, 0x0u, 2)]
    [InlineData(0xFFFF_FFFAu, 0xAu, 128)]
    public void Tdcr_keeps_bits_3_1_0_only(uint written, uint kept, int divide)
    {
        var (apic, _) = Create();
        Assert.True(apic.Write(ApicOffset.Tdcr, written));
        Assert.Equal(kept, apic.Read(ApicOffset.Tdcr));
        Assert.Equal(divide, apic.Timer.DivideCount);
    }

    [Theory]
    [InlineData(1000L, 50u, 0x1u, 200L)]
    [InlineData(100L, 50u, 0x1u, 2000L)]
    [InlineData(25L, 10u, 0xBu, 400L)]
    [InlineData(3000L, 3000u, 0xBu, 1000L)]
    public void A_one_shot_fires_once_at_tmict_times_divider_times_the_bus_cycle(long busMhz, uint tmict, uint tdcr, long expectedNs)
    {
        var (apic, clock) = Create(busMhz: busMhz);
        Start(apic, OneShot, tdcr, tmict);

        clock.Advance(expectedNs - 1);
        Assert.False(TakeTick(apic));
        clock.Advance(1);
        Assert.True(TakeTick(apic));

        clock.Advance(expectedNs * 10);
        Assert.False(TakeTick(apic));
        Assert.Equal(1, apic.Timer.Expirations);
        Assert.False(apic.Timer.IsArmed);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("architectural")]
    public void A_periodic_timer_fires_every_period(string profile)
    {
        var (apic, clock) = Create(TestApic.Profile(profile));
        Start(apic, Periodic, 0xB, 250_000);
        Assert.Equal(250_000, apic.Timer.PeriodNs);

        for (int i = 1; i <= 5; i++)
        {
            clock.Advance(249_999);
            Assert.False(TakeTick(apic));
            clock.Advance(1);
            Assert.True(TakeTick(apic), $"period {i}");
            Assert.Equal(i * 250_000L, clock.NowNs);
        }

        Assert.Equal(5, apic.Timer.Expirations);
    }

    [Theory]
    [InlineData("kvm", 200_000L, 2)]
    [InlineData("architectural", 1_000L, 400)]
    public void Kvm_stretches_a_periodic_period_below_200us_and_architectural_does_not(string profile, long period, int expirations)
    {
        var (apic, clock) = Create(TestApic.Profile(profile));
        Start(apic, Periodic, 0xB, 1000);

        Assert.Equal(period, apic.Timer.PeriodNs);
        clock.Advance(400_000);
        Assert.Equal(expirations, apic.Timer.Expirations);
    }

    [Fact]
    public void Kvm_does_not_stretch_a_one_shot()
    {
        var (apic, clock) = Create(ApicProfile.Kvm);
        Start(apic, OneShot, 0xB, 1000);
        Assert.Equal(1000, apic.Timer.PeriodNs);
        clock.Advance(1000);
        Assert.True(TakeTick(apic));
    }

    [Fact]
    public void Switching_a_running_one_shot_to_periodic_applies_the_clamp_and_keeps_tmict()
    {
        var (apic, clock) = Create(ApicProfile.Kvm);
        Start(apic, OneShot, 0xB, 1000);

        Assert.True(apic.Write(ApicOffset.LvtTimer, Periodic));

        Assert.Equal(TimerMode.Periodic, apic.Timer.Mode);
        Assert.Equal(200_000, apic.Timer.PeriodNs);
        Assert.Equal(1000u, apic.Read(ApicOffset.Tmict));
        clock.Advance(1000);
        Assert.True(TakeTick(apic)); // the count already running expires as scheduled
        clock.Advance(200_000);
        Assert.True(TakeTick(apic)); // then every clamped period
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Tmcct_counts_down_with_time_and_reads_0_after_a_one_shot_expires(bool x2)
    {
        var (apic, clock) = Create(x2: x2);
        Start(apic, OneShot, 0x0, 1000); // 2000 ns

        Assert.Equal(1000u, apic.Read(ApicOffset.Tmcct));
        (long At, uint Count)[] expected = [(500, 750), (1000, 500), (1500, 250), (1998, 1), (1999, 0), (2000, 0), (10_000, 0)];
        foreach (var (at, count) in expected)
        {
            clock.AdvanceTo(at);
            Assert.Equal(count, apic.Read(ApicOffset.Tmcct));
        }

        Assert.Equal(1000u, apic.Read(ApicOffset.Tmict));
    }

    [Fact]
    public void Tmcct_wraps_each_period_in_periodic_mode()
    {
        var (apic, clock) = Create();
        Start(apic, Periodic, 0x0, 100_000); // 200 us

        clock.AdvanceTo(50_000);
        Assert.Equal(75_000u, apic.Read(ApicOffset.Tmcct));
        clock.AdvanceTo(250_000);
        Assert.Equal(75_000u, apic.Read(ApicOffset.Tmcct));
        clock.AdvanceTo(599_998);
        Assert.Equal(1u, apic.Read(ApicOffset.Tmcct));
    }

    [Fact]
    public void Tmcct_is_0_when_the_timer_never_started()
    {
        var (apic, clock) = Create();
        Assert.True(apic.Write(ApicOffset.LvtTimer, OneShot));
        clock.Advance(1000);
        Assert.Equal(0u, apic.Read(ApicOffset.Tmcct));
    }

    [Fact]
    public void Writing_tmict_0_stops_the_timer()
    {
        var (apic, clock) = Create();
        Start(apic, Periodic, 0xB, 300_000);
        clock.Advance(100_000);

        Assert.True(apic.Write(ApicOffset.Tmict, 0));

        clock.Advance(1_000_000);
        Assert.Equal(0, apic.Timer.Expirations);
        Assert.Equal(0u, apic.Read(ApicOffset.Tmcct));
    }

    [Fact]
    public void Rewriting_tmict_restarts_the_count()
    {
        var (apic, clock) = Create();
        Start(apic, OneShot, 0xB, 1000);
        clock.Advance(900);

        Assert.True(apic.Write(ApicOffset.Tmict, 1000));

        clock.Advance(999);
        Assert.False(TakeTick(apic));
        clock.Advance(1);
        Assert.True(TakeTick(apic));
    }

    [Theory]
    [InlineData(0x1u, 500u, 3000L)] // ÷2 -> ÷4: the remaining 500 counts now take 2000 ns
    [InlineData(0xBu, 500u, 1500L)] // ÷2 -> ÷1: they take 500 ns
    [InlineData(0x0u, 500u, 2000L)] // same divider: nothing changes
    public void A_tdcr_change_rescales_the_running_count(uint newTdcr, uint count, long firesAt)
    {
        var (apic, clock) = Create();
        Start(apic, OneShot, 0x0, 1000); // ÷2: 2000 ns
        clock.Advance(1000);
        Assert.Equal(500u, apic.Read(ApicOffset.Tmcct));

        Assert.True(apic.Write(ApicOffset.Tdcr, newTdcr));

        Assert.Equal(count, apic.Read(ApicOffset.Tmcct));
        clock.AdvanceTo(firesAt - 1);
        Assert.False(TakeTick(apic));
        clock.AdvanceTo(firesAt);
        Assert.True(TakeTick(apic));
    }

    [Fact]
    public void A_tdcr_change_sets_the_period_of_later_periods()
    {
        var (apic, clock) = Create(ApicProfile.Architectural);
        Start(apic, Periodic, 0x0, 1000); // 2000 ns
        Assert.True(apic.Write(ApicOffset.Tdcr, 0x3)); // ÷16: 16000 ns
        Assert.Equal(16_000, apic.Timer.PeriodNs);
        clock.AdvanceTo(16_000);
        Assert.True(TakeTick(apic));
        clock.AdvanceTo(31_999);
        Assert.False(TakeTick(apic));
        clock.AdvanceTo(32_000);
        Assert.True(TakeTick(apic));
    }

    // ------------------------------------------------------------------ TSC deadline

    [Fact]
    public void Tsc_deadline_fires_when_the_tsc_reaches_it_then_reads_0()
    {
        var clock = new VirtualClock();
        var vcpu = new Vcpu(0, new ApicConfig { TscKhz = 2_000_000 }, clock);
        Assert.True(vcpu.Apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled));
        vcpu.Apic.MmioWrite(ApicOffset.LvtTimer, Deadline, 4);

        Assert.True(vcpu.TryWriteMsr(Vcpu.MsrTscDeadline, 4000)); // 2 GHz: 2000 ns

        Assert.True(vcpu.TryReadMsr(Vcpu.MsrTscDeadline, out ulong armed));
        Assert.Equal(4000ul, armed);
        clock.Advance(1999);
        Assert.False(vcpu.Apic.IrrHas(Vector));
        clock.Advance(1);
        Assert.True(vcpu.Apic.IrrHas(Vector));
        Assert.Equal(4000ul, vcpu.Rdtsc());
        Assert.True(vcpu.TryReadMsr(Vcpu.MsrTscDeadline, out ulong after));
        Assert.Equal(0ul, after);
        Assert.Equal(0u, vcpu.Apic.Read(ApicOffset.Tmcct));
    }

    [Theory]
    [InlineData(1ul)]
    [InlineData(20_000ul)] // exactly now
    public void A_tsc_deadline_not_in_the_future_fires_at_once(ulong deadline)
    {
        var (apic, clock) = Create();
        clock.Advance(10_000);
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));

        apic.Timer.WriteTscDeadline(deadline);

        Assert.True(apic.IrrHas(Vector));
        Assert.Equal(0ul, apic.Timer.ReadTscDeadline());
        Assert.Equal(10_000, clock.NowNs);
    }

    [Fact]
    public void Writing_deadline_0_disarms_and_a_new_deadline_replaces_the_old()
    {
        var (apic, clock) = Create();
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        apic.Timer.WriteTscDeadline(4000);
        apic.Timer.WriteTscDeadline(0);
        clock.Advance(5000);
        Assert.False(apic.IrrHas(Vector));

        apic.Timer.WriteTscDeadline(30_000); // 15000 ns
        apic.Timer.WriteTscDeadline(40_000); // 20000 ns
        clock.AdvanceTo(19_999);
        Assert.False(apic.IrrHas(Vector));
        clock.AdvanceTo(20_000);
        Assert.True(apic.IrrHas(Vector));
        Assert.Equal(1, apic.Timer.Expirations);
    }

    [Theory]
    [InlineData(OneShot)]
    [InlineData(Periodic)]
    public void Tsc_deadline_writes_are_ignored_and_read_0_outside_deadline_mode(uint lvtt)
    {
        var clock = new VirtualClock();
        var vcpu = new Vcpu(0, new ApicConfig(), clock);
        vcpu.Apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled);
        vcpu.Apic.MmioWrite(ApicOffset.LvtTimer, lvtt, 4);

        Assert.True(vcpu.TryWriteMsr(Vcpu.MsrTscDeadline, 4000));

        Assert.True(vcpu.TryReadMsr(Vcpu.MsrTscDeadline, out ulong value));
        Assert.Equal(0ul, value);
        clock.Advance(1_000_000);
        Assert.Equal(0, vcpu.Apic.Timer.Expirations);
    }

    [Fact]
    public void Tsc_deadline_writes_are_ignored_while_hardware_disabled()
    {
        var (apic, clock) = Create();
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        Assert.True(apic.SetApicBase(TestApic.DisabledBase | ApicBase.BspBit, false));
        apic.Timer.WriteTscDeadline(4000);
        Assert.Equal(0ul, apic.Timer.ReadTscDeadline());
        clock.Advance(10_000);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Fact]
    public void Tmict_writes_are_ignored_in_deadline_mode()
    {
        var (apic, clock) = Create();
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));

        Assert.True(apic.Write(ApicOffset.Tmict, 1000));

        Assert.Equal(0u, apic.Read(ApicOffset.Tmict));
        clock.Advance(100_000);
        Assert.Equal(0, apic.Timer.Expirations);
        Assert.Equal(0u, apic.Read(ApicOffset.Tmcct));
    }

    [Theory]
    [InlineData(OneShot)]
    [InlineData(Periodic)]
    public void Switching_into_deadline_mode_stops_the_count_and_zeroes_tmict(uint from)
    {
        var (apic, clock) = Create(ApicProfile.Architectural);
        Start(apic, from, 0xB, 5000);

        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));

        Assert.Equal(0u, apic.Read(ApicOffset.Tmict));
        Assert.Equal(0u, apic.Read(ApicOffset.Tmcct));
        clock.Advance(100_000);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Theory]
    [InlineData(OneShot)]
    [InlineData(Periodic)]
    public void Switching_out_of_deadline_mode_disarms_the_deadline(uint to)
    {
        var (apic, clock) = Create();
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        apic.Timer.WriteTscDeadline(4000);

        Assert.True(apic.Write(ApicOffset.LvtTimer, to));

        Assert.Equal(0ul, apic.Timer.TscDeadline);
        Assert.Equal(0u, apic.Read(ApicOffset.Tmict));
        clock.Advance(100_000);
        Assert.Equal(0, apic.Timer.Expirations);
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        Assert.Equal(0ul, apic.Timer.ReadTscDeadline()); // nothing left over
    }

    [Fact]
    public void Without_tsc_deadline_support_the_deadline_mode_cannot_be_selected()
    {
        var (apic, clock) = Create(tscDeadline: false);
        Assert.True(apic.Write(ApicOffset.LvtTimer, Deadline));
        Assert.Equal(TimerMode.OneShot, apic.Timer.Mode);
        Assert.Equal((uint)Vector, apic.Read(ApicOffset.LvtTimer));

        apic.Timer.WriteTscDeadline(1);
        Assert.False(apic.IrrHas(Vector));

        Assert.True(apic.Write(ApicOffset.Tmict, 100)); // an ordinary one-shot
        clock.Advance(200);
        Assert.True(apic.IrrHas(Vector));
    }

    // ------------------------------------------------------------------ masking

    [Fact]
    public void A_masked_timer_expires_without_delivering()
    {
        var (apic, clock) = Create();
        Start(apic, Lvt.MaskedBit | Periodic, 0xB, 300_000);
        clock.Advance(1_000_000);
        Assert.Equal(3, apic.Timer.Expirations);
        Assert.False(apic.IrrHas(Vector));
        Assert.Equal(0, apic.Host().Kicks);
    }

    [Fact]
    public void Software_disabling_the_apic_silences_a_running_timer()
    {
        var (apic, clock) = Create();
        Start(apic, Periodic, 0xB, 300_000);
        clock.Advance(300_000);
        Assert.True(TakeTick(apic));

        Assert.True(apic.Write(ApicOffset.Svr, 0xFF));
        clock.Advance(900_000);

        Assert.Equal(-1, apic.HighestIrr);
        Assert.Equal(4, apic.Timer.Expirations);
    }

    [Fact]
    public void Unmasking_later_delivers_the_next_expiry()
    {
        var (apic, clock) = Create();
        Start(apic, Lvt.MaskedBit | Periodic, 0xB, 300_000);
        clock.Advance(300_000);
        Assert.False(apic.IrrHas(Vector));
        Assert.True(apic.Write(ApicOffset.LvtTimer, Periodic));
        clock.Advance(300_000);
        Assert.True(TakeTick(apic));
    }
}
