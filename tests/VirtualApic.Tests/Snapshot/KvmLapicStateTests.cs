// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Snapshot;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Snapshot;

/// <summary>KVM_GET_LAPIC / KVM_SET_LAPIC image conventions (kvm-reference.md 10 and 5 "Restore").</summary>
public class KvmLapicStateTests
{
    private static uint Get(byte[] image, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(offset));

    private static void Put(byte[] image, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(offset), value);

    private static LocalApic Busy(ApicMode mode, ApicConfig config, VirtualClock clock, int id = 4)
    {
        var apic = TestApic.Create(mode, config, id: id, bsp: false, clock: clock);
        apic.Host().Loopback = false;
        Assert.True(apic.Write(ApicOffset.Tpr, 0x21));
        Assert.True(apic.Write(ApicOffset.LvtLint0, 0x8731));
        Assert.True(apic.Write(ApicOffset.LvtError, 0xE9));
        Assert.True(apic.Write(ApicOffset.LvtTimer, 0x2_00EC));
        Assert.True(apic.Write(ApicOffset.Tdcr, 0x1));
        Assert.True(apic.Write(ApicOffset.Tmict, 100_000));
        if (mode == ApicMode.XApic)
        {
            apic.MmioWrite(ApicOffset.Ldr, 0x0800_0000, 4);
            apic.MmioWrite(ApicOffset.Dfr, 0x0FFF_FFFF, 4);
            apic.MmioWrite(ApicOffset.Icr2, 0x0300_0000, 4);
            apic.MmioWrite(ApicOffset.Icr, 0x4041, 4);
        }
        else
        {
            Assert.True(apic.TryWriteX2ApicMsr(0x830, (0x1234ul << 32) | 0x4041));
        }

        apic.PutInService(0x61, TriggerMode.Level);
        apic.PutInService(0x92);
        apic.Raise(0x55, TriggerMode.Level);
        apic.Raise(0xA3);
        clock.Advance(123_456);
        return apic;
    }

    [Theory]
    [InlineData(ApicMode.XApic, false)]
    [InlineData(ApicMode.X2Apic, false)]
    [InlineData(ApicMode.X2Apic, true)]
    public void Capture_then_apply_reproduces_every_readable_register(ApicMode mode, bool splitIcr)
    {
        var config = new ApicConfig { X2ApicIcrSplit = splitIcr, CmciSupported = true };
        var clock = new VirtualClock();
        var source = Busy(mode, config, clock);
        var target = TestApic.Create(mode, config, id: 4, bsp: false, clock: clock);

        KvmLapicState.Apply(target, KvmLapicState.Capture(source));

        for (int offset = 0; offset <= 0x3F0; offset += 0x10)
        {
            if (RegisterSpec.Readable(offset, mode == ApicMode.X2Apic, cmci: true))
            {
                Assert.True(source.ReadRegisterRaw(offset) == target.ReadRegisterRaw(offset), $"{RegisterSpec.Name(offset)} differs");
            }
        }

        if (mode == ApicMode.X2Apic)
        {
            Assert.Equal(source.ReadX2ApicIcr(), target.ReadX2ApicIcr());
        }

        Assert.Equal(source.Ppr, target.Ppr);
        Assert.Equal(0x92, target.EndOfInterrupt().Vector);
        Assert.Equal(0x61, target.EndOfInterrupt().Vector);
        Assert.Equal(0xA3, target.Acknowledge());
    }

    [Fact]
    public void Capture_stores_the_live_current_count()
    {
        var clock = new VirtualClock();
        var apic = TestApic.Create(clock: clock);
        apic.MmioWrite(ApicOffset.LvtTimer, 0xEC, 4);
        apic.MmioWrite(ApicOffset.Tmict, 1000, 4); // ÷2: 2000 ns
        clock.Advance(600);

        byte[] image = KvmLapicState.Capture(apic);

        Assert.Equal(700u, Get(image, ApicOffset.Tmcct));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tmcct));
        Assert.Equal(KvmLapicState.Size, image.Length);
    }

    [Theory]
    [InlineData(true, 5u)]
    [InlineData(false, 5u << 24)]
    public void Capture_writes_the_x2apic_id_in_the_requested_format(bool x2ApicFormat, uint expected)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, id: 5, bsp: false);
        byte[] image = KvmLapicState.Capture(apic, x2ApicFormat);
        Assert.Equal(expected, Get(image, ApicOffset.Id));
        Assert.Equal(5u, apic.Page.Read(ApicOffset.Id));
    }

    [Fact]
    public void Capture_in_xapic_mode_keeps_the_xapic_id_whatever_the_format()
    {
        var apic = TestApic.Create(id: 5, bsp: false);
        Assert.Equal(5u << 24, Get(KvmLapicState.Capture(apic, x2ApicFormat: true), ApicOffset.Id));
        Assert.Equal(5u << 24, Get(KvmLapicState.Capture(apic, x2ApicFormat: false), ApicOffset.Id));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void The_image_always_holds_a_split_icr_and_apply_stores_it_the_vendor_way(bool sourceSplit, bool targetSplit)
    {
        var source = TestApic.Create(ApicMode.X2Apic, new ApicConfig { X2ApicIcrSplit = sourceSplit });
        source.Host().Loopback = false;
        ulong icr = (0x0001_2345ul << 32) | 0xC_4040;
        Assert.True(source.TryWriteX2ApicMsr(0x830, icr));

        byte[] image = KvmLapicState.Capture(source);

        Assert.Equal(0x000C_4040u, Get(image, ApicOffset.Icr));
        Assert.Equal(sourceSplit ? 0u : 0x0001_2345u, Get(image, ApicOffset.Icr + 4)); // kvm_apic_state_fixup leaves 0x304
        Assert.Equal(0x0001_2345u, Get(image, ApicOffset.Icr2));

        var target = TestApic.Create(ApicMode.X2Apic, new ApicConfig { X2ApicIcrSplit = targetSplit });
        KvmLapicState.Apply(target, image);

        Assert.Equal(icr, target.ReadX2ApicIcr());
        Assert.True(target.TryReadX2ApicMsr(0x830, out ulong read));
        Assert.Equal(icr, read);
        Assert.Equal(targetSplit ? 0u : 0x0001_2345u, target.Page.Read(ApicOffset.Icr + 4));
        Assert.Equal(0x0001_2345u, target.Page.Read(ApicOffset.Icr2)); // both layouts keep the high half in ICR2 (the Intel one mirrors it)
    }

    [Theory]
    [InlineData(6u)]
    [InlineData(5u << 24)]
    [InlineData(0u)]
    public void Apply_with_32_bit_ids_rejects_an_x2apic_id_that_is_not_the_vcpus(uint id)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, id: 5, bsp: false);
        byte[] image = KvmLapicState.Capture(apic);
        Put(image, ApicOffset.Id, id);

        var ex = Assert.Throws<SnapshotFormatException>(() => KvmLapicState.Apply(apic, image));

        Assert.Contains("x2APIC ID", ex.Message, StringComparison.Ordinal);
        Assert.Equal(ApicOffset.Id, ex.Offset);
    }

    [Theory]
    [InlineData(6u)]
    [InlineData(0xFFFF_FFFFu)]
    public void Apply_with_legacy_ids_replaces_the_id_and_recomputes_the_ldr(uint id)
    {
        var apic = TestApic.Create(ApicMode.X2Apic, id: 21, bsp: false);
        byte[] image = KvmLapicState.Capture(apic, x2ApicFormat: false);
        Put(image, ApicOffset.Id, id);
        Put(image, ApicOffset.Ldr, 0xDEAD_BEEF);

        KvmLapicState.Apply(apic, image, x2ApicFormat: false);

        Assert.Equal(21u, apic.Read(ApicOffset.Id));
        Assert.Equal(0x0001_0020u, apic.Read(ApicOffset.Ldr));
    }

    [Fact]
    public void Apply_in_xapic_mode_takes_id_and_ldr_verbatim()
    {
        var apic = TestApic.Create(id: 2, bsp: false);
        byte[] image = KvmLapicState.Capture(apic);
        Put(image, ApicOffset.Id, 0x7000_0000);
        Put(image, ApicOffset.Ldr, 0x0400_0000);
        KvmLapicState.Apply(apic, image);
        Assert.Equal(0x70u, apic.ApicId);
        Assert.Equal(0x0400_0000u, apic.Ldr);
    }

    [Theory]
    [InlineData(false, false, 0x0005_0014u)]
    [InlineData(true, true, 0x0106_0014u)]
    public void Apply_rewrites_the_lvr_with_the_value_this_apic_computes(bool cmci, bool directedEoi, uint lvr)
    {
        var apic = TestApic.Create(config: new ApicConfig { CmciSupported = cmci, DirectedEoiSupported = directedEoi });
        byte[] image = KvmLapicState.Capture(apic);
        Put(image, ApicOffset.Version, 0xDEAD_BEEF);
        KvmLapicState.Apply(apic, image);
        Assert.Equal(lvr, apic.Read(ApicOffset.Version));
    }

    [Fact]
    public void Apply_takes_svr_raw_even_bit_12_without_directed_eoi()
    {
        var apic = TestApic.Create(config: new ApicConfig { DirectedEoiSupported = false });
        byte[] image = KvmLapicState.Capture(apic);
        Put(image, ApicOffset.Svr, 0x11FF);
        KvmLapicState.Apply(apic, image);
        Assert.Equal(0x11FFu, apic.Read(ApicOffset.Svr));
    }

    [Fact]
    public void Apply_rebuilds_the_isr_cache_and_ppr_from_the_image()
    {
        var apic = TestApic.Create();
        apic.PutInService(0x33);
        byte[] image = KvmLapicState.Capture(TestApic.Create());
        Put(image, ApicOffset.Isr + 0x30, 1u << 1); // vector 0x61
        Put(image, ApicOffset.Tpr, 0x20);
        Put(image, ApicOffset.Ppr, 0xFF); // stale: recomputed

        KvmLapicState.Apply(apic, image);

        Assert.Equal(0x60u, apic.Ppr);
        Assert.Equal(0x61, apic.HighestIsr);
        Assert.Equal(0x61, apic.EndOfInterrupt().Vector);
        Assert.Equal(-1, apic.EndOfInterrupt().Vector);
        Assert.Equal(0x20u, apic.Ppr);
    }

    [Theory]
    [InlineData(1023)]
    [InlineData(1025)]
    [InlineData(0)]
    public void Apply_rejects_an_image_of_the_wrong_size(int size)
    {
        var apic = TestApic.Create();
        var ex = Assert.Throws<SnapshotFormatException>(() => KvmLapicState.Apply(apic, new byte[size]));
        Assert.Equal($"kvm_lapic_state: expected 1024 bytes, got {size}", ex.Message);
    }

    /// <summary>
    /// The timer restart from a saved TMCCT (KVM <c>__start_apic_timer(APIC_TMCCT)</c>): 0 makes a
    /// one-shot fire at once (commit 8e6ed96cdd50) and a periodic timer restart a full period; a
    /// count above TMICT is clamped to TMICT. Times are from the restore, with ÷2 at 1 GHz.
    /// </summary>
    [Theory]
    [InlineData(0xECu, 1000u, 0u, 0L)]
    [InlineData(0xECu, 1000u, 400u, 800L)]
    [InlineData(0xECu, 1000u, 1000u, 2000L)]
    [InlineData(0xECu, 1000u, 5000u, 2000L)]
    [InlineData(0x2_00ECu, 1000u, 0u, 2000L)]
    [InlineData(0x2_00ECu, 1000u, 300u, 600L)]
    [InlineData(0xECu, 0u, 500u, -1L)]
    [InlineData(0x4_00ECu, 1000u, 500u, -1L)]
    public void Apply_restarts_the_timer_from_the_saved_current_count(uint lvtt, uint tmict, uint tmcct, long firesAfter)
    {
        var clock = new VirtualClock();
        clock.Advance(1_000_000);
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Architectural }, clock: clock);
        byte[] image = KvmLapicState.Capture(apic);
        Put(image, ApicOffset.LvtTimer, lvtt);
        Put(image, ApicOffset.Tdcr, 0);
        Put(image, ApicOffset.Tmict, tmict);
        Put(image, ApicOffset.Tmcct, tmcct);

        KvmLapicState.Apply(apic, image);

        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tmcct)); // the slot is zeroed; reads compute it
        if (firesAfter < 0)
        {
            clock.Advance(10_000_000);
            Assert.Equal(0, apic.Timer.Expirations);
            return;
        }

        if (firesAfter > 0)
        {
            clock.Advance(firesAfter - 1);
            Assert.False(apic.IrrHas(0xEC));
        }

        clock.Advance(firesAfter == 0 ? 0 : 1);
        Assert.True(apic.IrrHas(0xEC));
        Assert.Equal(1, apic.Timer.Expirations);
        Assert.Equal(1_000_000 + firesAfter, clock.NowNs);
    }

    [Fact]
    public void A_restored_periodic_timer_keeps_its_period_after_the_first_expiry()
    {
        var clock = new VirtualClock();
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Architectural }, clock: clock);
        byte[] image = KvmLapicState.Capture(apic);
        Put(image, ApicOffset.LvtTimer, 0x2_00EC);
        Put(image, ApicOffset.Tmict, 1000);
        Put(image, ApicOffset.Tmcct, 100);
        KvmLapicState.Apply(apic, image);
        clock.Advance(200 + 2000 + 2000);
        Assert.Equal(3, apic.Timer.Expirations);
    }

    [Fact]
    public void A_bare_image_of_a_clamped_periodic_timer_keeps_its_remaining_time()
    {
        // TMICT 1000 at 1000 MHz, divider 1: a 1 us period, clamped to 200 us under the kvm profile.
        // 50 us in, TMCCT is 150000 counts, above TMICT; KVM's set_target_expiration compares it in ns
        // with the clamped period and keeps 150 us, where clamping the count to TMICT would give 1 us.
        var clock = new VirtualClock();
        var source = TestApic.Create(clock: clock);
        source.Host().Loopback = false;
        Assert.True(source.Write(ApicOffset.LvtTimer, 0x2_0040));
        Assert.True(source.Write(ApicOffset.Tdcr, 0xB));
        Assert.True(source.Write(ApicOffset.Tmict, 1000));
        Assert.Equal(200_000, source.Timer.PeriodNs);
        clock.Advance(50_000);
        byte[] image = KvmLapicState.Capture(source);
        Assert.Equal(150_000u, Get(image, ApicOffset.Tmcct));

        var target = TestApic.Create(clock: clock);
        KvmLapicState.Apply(target, image);
        Assert.Equal(clock.NowNs + 150_000, target.Timer.TargetNs);
        clock.Advance(149_999);
        Assert.Equal(0, target.Timer.Expirations);
        clock.Advance(1);
        Assert.Equal(1, target.Timer.Expirations);
    }
}
