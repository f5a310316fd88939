// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>
/// LocalApic.RestorePage and RestoreApicBase (LocalApic.State.cs) called directly, with KVM_SET_LAPIC's
/// order of work: what the image may not decide (TMCCT, LVR, pending errors, the LINT remote IRR) and
/// what is re-derived from it (the software-enable shadow, the ISR cache, PPR, the timer).
/// </summary>
public class RestorePageTests
{
    private static byte[] Image(LocalApic apic)
    {
        byte[] image = new byte[0x400];
        apic.Page.CopyTo(image);
        return image;
    }

    private static void Put(byte[] image, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(offset), value);

    private static ApicConfig Config(bool architectural) =>
        new() { Profile = architectural ? ApicProfile.Architectural : ApicProfile.Kvm };

    private static byte[] TimerImage(VirtualClock clock, uint tmcct)
    {
        var source = TestApic.Create(clock: clock);
        Assert.True(source.WriteRegister(ApicOffset.LvtTimer, 0x1_00EC)); // masked one-shot
        Assert.True(source.WriteRegister(ApicOffset.Tdcr, 0xB));          // divide by 1: one count per ns
        Assert.True(source.WriteRegister(ApicOffset.Tmict, 1000));
        byte[] image = Image(source);
        Put(image, ApicOffset.Tmcct, tmcct);
        return image;
    }

    [Fact]
    public void The_restored_tmcct_slot_reads_zero_and_the_count_resumes_from_the_image()
    {
        var clock = new VirtualClock();
        byte[] image = TimerImage(clock, 400);
        var apic = TestApic.Create(clock: clock);

        apic.RestorePage(image, null);

        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tmcct)); // TMCCT is computed, never stored
        Assert.Equal(400u, apic.ReadRegisterRaw(ApicOffset.Tmcct));
        Assert.Equal(1000u, apic.Read(ApicOffset.Tmict));
        clock.Advance(100);
        Assert.Equal(300u, apic.Read(ApicOffset.Tmcct));
    }

    [Fact]
    public void A_saved_timer_state_wins_over_the_images_tmcct()
    {
        var clock = new VirtualClock();
        clock.Advance(5000);
        byte[] image = TimerImage(clock, 400);
        var apic = TestApic.Create(clock: clock);

        apic.RestorePage(image, new ApicTimerState(TimerMode.OneShot, 1000, Armed: true, TargetNs: clock.NowNs + 900, TscDeadline: 0));

        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tmcct));
        Assert.Equal(900u, apic.ReadRegisterRaw(ApicOffset.Tmcct));
        Assert.Equal(clock.NowNs + 900, apic.Timer.TargetNs);
    }

    [Theory]
    [InlineData(false, false, 0x0005_0014u)]
    [InlineData(true, true, 0x0106_0014u)]
    public void The_lvr_is_recomputed_whatever_the_image_says(bool cmci, bool directedEoi, uint lvr)
    {
        var config = new ApicConfig { CmciSupported = cmci, DirectedEoiSupported = directedEoi };
        var apic = TestApic.Create(config: config);
        byte[] image = Image(apic);
        Put(image, ApicOffset.Version, 0xDEAD_BEEF);

        apic.RestorePage(image, null);

        Assert.Equal(lvr, apic.Page.Read(ApicOffset.Version));
    }

    [Fact]
    public void Errors_pending_before_a_restore_are_dropped_and_the_images_esr_is_kept()
    {
        var apic = TestApic.Create(config: Config(architectural: true));
        Assert.Equal(0ul, apic.MmioRead(0x10, 4)); // reserved: ESR bit 7 pending
        Assert.Equal(0x80u, apic.EsrPending);
        byte[] image = Image(TestApic.Create(config: Config(architectural: true)));
        Put(image, ApicOffset.Esr, 0x40);

        apic.RestorePage(image, null);

        Assert.Equal(0u, apic.EsrPending);
        Assert.Equal(0x40u, apic.Read(ApicOffset.Esr)); // what the guest had latched
        apic.MmioWrite(ApicOffset.Esr, 0, 4);
        Assert.Equal(0u, apic.Read(ApicOffset.Esr));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_software_enable_shadow_follows_the_restored_svr(bool imageEnabled)
    {
        // KVM_SET_LAPIC applies SVR raw (apic_set_spiv): the next SVR write compares with the image's bit.
        byte[] image = Image(TestApic.Create(softwareEnabled: imageEnabled));
        var apic = TestApic.Create(softwareEnabled: !imageEnabled);
        int maps = apic.Host().MapChanges;

        apic.RestorePage(image, null);

        Assert.Equal(maps + 1, apic.Host().MapChanges);
        Assert.Equal(imageEnabled, apic.IsSoftwareEnabled);
        Assert.True(apic.WriteRegister(ApicOffset.Svr, imageEnabled ? 0xFFu : TestApic.SvrEnabled));
        Assert.Equal(maps + 2, apic.Host().MapChanges);
        Assert.Equal(!imageEnabled, apic.IsSoftwareEnabled);
    }

    [Fact]
    public void The_isr_cache_and_ppr_are_rebuilt_from_the_image()
    {
        var apic = TestApic.Create();
        apic.PutInService(0x92);
        byte[] image = Image(TestApic.Create());
        Put(image, ApicOffset.Isr + 0x30, 1u << 1);   // 0x61
        Put(image, ApicOffset.Isr + 0x10, 1u << 0x15); // 0x35
        Put(image, ApicOffset.Irr + 0x20, 1u << 5);   // 0x45
        Put(image, ApicOffset.Tpr, 0x20);
        Put(image, ApicOffset.Ppr, 0xFF);

        apic.RestorePage(image, null);

        Assert.Equal(0x60u, apic.Page.Read(ApicOffset.Ppr));
        Assert.Equal(2, apic.IsrCount);
        Assert.Equal(0x61, apic.HighestIsr);
        Assert.Equal(-1, apic.Acknowledge()); // 0x45 is below PPR 0x60
        Assert.Equal(0x61, apic.EndOfInterrupt().Vector);
        Assert.Equal(0x30u, apic.Ppr);
        Assert.Equal(0x45, apic.Acknowledge());
    }

    [Theory]
    [InlineData(true, 0x8040u)]
    [InlineData(false, 0xC040u)]
    public void The_lint_remote_irr_belongs_to_the_apic_not_to_the_image(bool architectural, uint lint0)
    {
        var apic = TestApic.Create(config: Config(architectural));
        byte[] image = Image(apic);
        Put(image, ApicOffset.LvtLint0, 0xC040); // fixed, level, remote IRR, vector 0x40

        apic.RestorePage(image, null);

        Assert.Equal(lint0, apic.Page.Read(ApicOffset.LvtLint0));
        Assert.Equal(0, apic.LintRemoteIrrBits);
    }

    [Fact]
    public void A_remote_irr_held_before_the_restore_does_not_survive_it()
    {
        var apic = TestApic.Create(config: Config(architectural: true));
        Assert.True(apic.WriteRegister(ApicOffset.LvtLint0, 0x8040));
        byte[] image = Image(apic);
        Assert.True(apic.DeliverLocal(ApicOffset.LvtLint0));
        Assert.Equal(1, apic.LintRemoteIrrBits);

        apic.RestorePage(image, null);
        Assert.True(apic.WriteRegister(ApicOffset.LvtLint0, 0x8041));

        Assert.Equal(0x8041u, apic.Read(ApicOffset.LvtLint0));
        Assert.Equal(0, apic.LintRemoteIrrBits);
    }

    [Fact]
    public void Restoring_apic_base_allows_the_host_only_x2apic_to_xapic_move()
    {
        var apic = TestApic.Create(ApicMode.X2Apic, id: 5, bsp: false);
        Assert.False(apic.SetApicBase(TestApic.XApicBase, hostInitiated: false));
        int maps = apic.Host().MapChanges;

        Assert.False(apic.RestoreApicBase(TestApic.XApicBase | (1ul << 9)));
        Assert.True(apic.RestoreApicBase(TestApic.XApicBase));

        Assert.Equal(ApicMode.XApic, apic.Mode);
        Assert.Equal(0x0500_0000u, apic.Read(ApicOffset.Id));
        Assert.Equal(maps + 2, apic.Host().MapChanges);
    }
}
