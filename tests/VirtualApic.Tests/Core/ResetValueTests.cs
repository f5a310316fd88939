// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>
/// Every register a RESET or an INIT writes, from a dirtied APIC (SDM 11.4.7.1 and table 11-1;
/// KVM <c>kvm_lapic_reset</c>, <c>kvm_apic_set_version</c>).
/// </summary>
public class ResetValueTests
{
    private static LocalApic Dirty(ApicConfig config, ApicMode mode = ApicMode.XApic, int id = 3, bool bsp = false)
    {
        var apic = TestApic.Create(mode, config, id: id, bsp: bsp);
        apic.Host().Loopback = false;
        for (int offset = ApicOffset.LvtTimer; offset <= ApicOffset.LvtError; offset += 0x10)
        {
            apic.Page.Write(offset, 0x31);
        }

        apic.Page.Write(ApicOffset.LvtCmci, 0x32);
        apic.Page.Write(ApicOffset.Dfr, 0x0FFF_FFFF);
        apic.Page.Write(ApicOffset.Tpr, 0x20);
        apic.Page.Write(ApicOffset.Ldr, 0x0100_0000);
        apic.Page.Write(ApicOffset.Esr, 0x40);
        apic.EsrPending = 0x80;
        apic.Page.Write(ApicOffset.Icr, 0x4031);
        apic.Page.Write(ApicOffset.Icr + 4, 0x5);
        apic.Page.Write(ApicOffset.Icr2, 0x0500_0000);
        apic.Page.Write(ApicOffset.Tdcr, 0xB);
        apic.Page.Write(ApicOffset.Tmict, 77);
        apic.Page.Write(ApicOffset.Tmcct, 66);
        apic.Page.Write(ApicOffset.Version, 0);
        apic.PutInService(0x61, TriggerMode.Level);
        Assert.True(apic.Raise(0x52, TriggerMode.Level));
        return apic;
    }

    [Theory]
    [InlineData(false, false, 0x0005_0014u)]
    [InlineData(true, false, 0x0006_0014u)]
    [InlineData(false, true, 0x0105_0014u)]
    [InlineData(true, true, 0x0106_0014u)]
    public void Reset_writes_every_register_of_the_power_up_state(bool cmci, bool directedEoi, uint version)
    {
        var apic = Dirty(new ApicConfig { CmciSupported = cmci, DirectedEoiSupported = directedEoi });
        int mapChanges = apic.Host().MapChanges;

        apic.Reset();

        Assert.Equal(version, apic.Page.Read(ApicOffset.Version));
        for (int offset = ApicOffset.LvtTimer; offset <= ApicOffset.LvtError; offset += 0x10)
        {
            Assert.Equal(Lvt.MaskedBit, apic.Page.Read(offset));
        }

        // LVT CMCI exists only with CMCI; without it the slot is not a register and is left alone.
        Assert.Equal(cmci ? Lvt.MaskedBit : 0x32u, apic.Page.Read(ApicOffset.LvtCmci));
        Assert.Equal(3u << 24, apic.Page.Read(ApicOffset.Id));
        Assert.Equal(0xFFFF_FFFFu, apic.Page.Read(ApicOffset.Dfr));
        Assert.Equal(0xFFu, apic.Page.Read(ApicOffset.Svr));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tpr));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Ppr));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Ldr));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Esr));
        Assert.Equal(0u, apic.EsrPending);
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Icr));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Icr + 4));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Icr2));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tdcr));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tmict));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Tmcct));
        Assert.Equal(0, apic.Page.CountVectors(ApicOffset.Irr));
        Assert.Equal(0, apic.Page.CountVectors(ApicOffset.Isr));
        Assert.Equal(0, apic.Page.CountVectors(ApicOffset.Tmr));
        Assert.Equal(0, apic.IsrCount);
        Assert.Equal(-1, apic.HighestIsr);
        Assert.Equal(ApicBase.DefaultAddress | ApicBase.EnableBit, apic.ApicBaseMsr);
        Assert.True(apic.Host().MapChanges > mapChanges);
    }

    [Theory]
    [InlineData("kvm", true, 0x700u)]
    [InlineData("kvm", false, Lvt.MaskedBit)]
    [InlineData("architectural", true, Lvt.MaskedBit)]
    [InlineData("architectural", false, Lvt.MaskedBit)]
    public void Only_the_kvm_bsp_comes_out_of_reset_in_virtual_wire_mode(string profile, bool bsp, uint lint0)
    {
        var apic = Dirty(new ApicConfig { Profile = TestApic.Profile(profile) }, bsp: bsp);

        apic.Reset();

        Assert.Equal(lint0, apic.Page.Read(ApicOffset.LvtLint0));
        Assert.Equal(Lvt.MaskedBit, apic.Page.Read(ApicOffset.LvtLint1));
        Assert.Equal(bsp ? ApicBase.BspBit : 0, apic.ApicBaseMsr & ApicBase.BspBit);
    }

    [Fact]
    public void Init_keeps_the_x2apic_mode_its_id_and_its_ldr()
    {
        var apic = Dirty(new ApicConfig(), ApicMode.X2Apic, id: 0x23);
        apic.Page.Write(ApicOffset.Ldr, LocalApic.X2ApicLdr(0x23));
        ulong apicBase = apic.ApicBaseMsr;

        apic.InitReset();

        Assert.Equal(apicBase, apic.ApicBaseMsr);
        Assert.Equal(0x23u, apic.Page.Read(ApicOffset.Id));
        Assert.Equal(0x0002_0008u, apic.Page.Read(ApicOffset.Ldr)); // derived from the ID, kept
        Assert.Equal(0xFFu, apic.Page.Read(ApicOffset.Svr));
        Assert.Equal(-1, apic.HighestIrr);
    }

    [Fact]
    public void Init_in_xapic_mode_keeps_a_guest_written_id_and_clears_the_ldr()
    {
        var apic = Dirty(new ApicConfig());
        Assert.True(apic.Write(ApicOffset.Id, 9u << 24));

        apic.InitReset();

        Assert.Equal(9u << 24, apic.Page.Read(ApicOffset.Id));
        Assert.Equal(0u, apic.Page.Read(ApicOffset.Ldr));
    }

    [Fact]
    public void After_a_reset_software_enabling_the_apic_changes_the_map()
    {
        // The reset forgets the last SVR enable state, so the next enable is a change the map must see.
        var apic = Dirty(new ApicConfig());
        apic.Reset();
        int before = apic.Host().MapChanges;

        Assert.True(apic.Write(ApicOffset.Svr, TestApic.SvrEnabled));

        Assert.Equal(before + 1, apic.Host().MapChanges);
    }

    [Fact]
    public void Reset_drops_deliveries_waiting_in_the_inbox()
    {
        var apic = TestApic.Create();
        apic.BindOwnerToCurrentThread();
        var other = new Thread(() => apic.SetIrr(0x55));
        other.Start();
        other.Join();
        Assert.True(apic.IsInboxed(0x55));

        apic.Reset();

        Assert.False(apic.IsInboxed(0x55));
        Assert.Equal(-1, apic.HighestIrr);
    }

    [Fact]
    public void Reset_forgets_the_lint_remote_irr()
    {
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Architectural });
        Assert.True(apic.Write(ApicOffset.LvtLint1, Lvt.LevelBit | 0x41));
        Assert.True(apic.DeliverLocal(ApicOffset.LvtLint1));
        Assert.Equal(2, apic.LintRemoteIrrBits);

        apic.Reset();

        Assert.Equal(0, apic.LintRemoteIrrBits);
        Assert.True(apic.Write(ApicOffset.Svr, TestApic.SvrEnabled));
        Assert.True(apic.Write(ApicOffset.LvtLint1, Lvt.LevelBit | 0x41));
        Assert.Equal(Lvt.LevelBit | 0x41u, apic.Page.Read(ApicOffset.LvtLint1));
    }
}
