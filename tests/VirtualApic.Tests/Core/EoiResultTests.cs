// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>
/// What an EOI returns (<see cref="EoiResult"/>), and the order of its work: every register update
/// first, the IOAPIC last (issue 11; KVM <c>apic_set_eoi</c>).
/// </summary>
public class EoiResultTests
{
    [Fact]
    public void The_default_result_is_none()
    {
        var none = default(EoiResult);

        Assert.Equal(EoiResult.None, none);
        Assert.True(none.IsNone);
        Assert.Equal(-1, none.Vector);
        Assert.Equal(TriggerMode.Edge, none.Trigger);
        Assert.False(none.IoApicHandled);
        Assert.False(none.LintRemoteIrrCleared);
    }

    [Theory]
    [InlineData(TriggerMode.Edge, false)]
    [InlineData(TriggerMode.Edge, true)]
    [InlineData(TriggerMode.Level, false)]
    [InlineData(TriggerMode.Level, true)]
    public void An_eoi_returns_the_vector_its_tmr_trigger_and_whether_the_ioapic_hears_of_it(TriggerMode trigger, bool handled)
    {
        var apic = TestApic.Create();
        apic.SetIoApicHandled(0x00, true); // vector 0 in the result must not read as "none"
        apic.SetIoApicHandled(0x71, handled);
        apic.PutInService(0x71, trigger);

        var eoi = apic.EndOfInterrupt();

        Assert.False(eoi.IsNone);
        Assert.Equal(0x71, eoi.Vector);
        Assert.Equal(trigger, eoi.Trigger);
        Assert.Equal(handled, eoi.IoApicHandled);
        Assert.False(eoi.LintRemoteIrrCleared);
        List<(byte, TriggerMode)> told = handled ? [(0x71, trigger)] : [];
        Assert.Equal(told, apic.Host().Eois);
    }

    [Fact]
    public void An_eoi_with_nothing_in_service_returns_none_and_tells_nobody()
    {
        var apic = TestApic.Create();
        apic.SetIoApicHandled(0xFF, true);

        Assert.Equal(EoiResult.None, apic.EndOfInterrupt());
        Assert.Empty(apic.Host().Eois);
    }

    [Fact]
    public void The_isr_half_reports_but_neither_clears_a_lint_remote_irr_nor_tells_the_ioapic()
    {
        var apic = LintLevelInService(ApicProfile.Architectural, 0x31);
        apic.SetIoApicHandled(0x31, true);

        var eoi = apic.ClearHighestIsr();

        Assert.Equal((0x31, TriggerMode.Level, true, false), (eoi.Vector, eoi.Trigger, eoi.IoApicHandled, eoi.LintRemoteIrrCleared));
        Assert.False(apic.IsrHas(0x31));
        Assert.NotEqual(0u, apic.Page.Read(ApicOffset.LvtLint0) & Lvt.RemoteIrrBit);
        Assert.Empty(apic.Host().Eois);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_eoi_reports_the_lint_remote_irr_it_cleared_under_the_architectural_profile(bool architectural)
    {
        var apic = LintLevelInService(architectural ? ApicProfile.Architectural : ApicProfile.Kvm, 0x31);

        var eoi = apic.EndOfInterrupt();

        Assert.Equal(0x31, eoi.Vector);
        Assert.Equal(TriggerMode.Level, eoi.Trigger);
        Assert.Equal(architectural, eoi.LintRemoteIrrCleared);
        Assert.Equal(0u, apic.Page.Read(ApicOffset.LvtLint0) & Lvt.RemoteIrrBit);
    }

    [Fact]
    public void The_ioapic_hears_of_an_eoi_only_once_the_apic_is_consistent()
    {
        // The architectural profile adds the one register update after the ISR/PPR half (the LINT
        // Remote IRR); a vector the LINT and the IOAPIC share makes the EOI take both steps.
        var apic = LintLevelInService(ApicProfile.Architectural, 0x31);
        apic.SetIoApicHandled(0x31, true);
        var host = new ObservingHost();
        apic.Host = host;

        var eoi = apic.EndOfInterrupt();

        Assert.True(eoi.LintRemoteIrrCleared);
        Assert.Equal(1, host.Calls);
        Assert.Equal(new ApicView(IsrBit: false, IsrCount: 0, Ppr: 0, LintRemoteIrr: 0, LintRemoteIrrBits: 0), host.SeenAtEoi);
    }

    [Fact]
    public void The_accelerated_eoi_reports_and_forwards_without_touching_isr_or_ppr()
    {
        var apic = TestApic.Create();
        apic.SetIoApicHandled(0x52, true);
        apic.PutInService(0x52, TriggerMode.Level);

        var eoi = apic.EndOfInterruptAccelerated(0x52);

        Assert.Equal((0x52, TriggerMode.Level, true), (eoi.Vector, eoi.Trigger, eoi.IoApicHandled));
        Assert.True(apic.IsrHas(0x52));
        Assert.Equal(0x50u, apic.Ppr);
        Assert.Equal([((byte)0x52, TriggerMode.Level)], apic.Host().Eois);
    }

    // A level-triggered fixed LINT0 interrupt, taken: in service, its Remote IRR set where the profile
    // gives the APIC the LVT status bits.
    private static LocalApic LintLevelInService(ApicProfile profile, byte vector)
    {
        var apic = TestApic.Create(config: new ApicConfig { Profile = profile });
        Assert.True(apic.WriteRegister(ApicOffset.LvtLint0, Lvt.LevelBit | vector));
        Assert.True(apic.DeliverLocal(ApicOffset.LvtLint0));
        Assert.Equal(vector, apic.Acknowledge());
        Assert.Equal(profile.LvtStatusBitsWritable ? 0u : Lvt.RemoteIrrBit, apic.Page.Read(ApicOffset.LvtLint0) & Lvt.RemoteIrrBit);
        return apic;
    }

    private readonly record struct ApicView(bool IsrBit, int IsrCount, uint Ppr, uint LintRemoteIrr, int LintRemoteIrrBits);

    // Records what the EOI'ing APIC looks like at the moment the IOAPIC is told.
    private sealed class ObservingHost : IApicHost
    {
        public int Calls { get; private set; }

        public ApicView SeenAtEoi { get; private set; }

        public void EndOfInterrupt(LocalApic source, byte vector, TriggerMode trigger)
        {
            Calls++;
            SeenAtEoi = new ApicView(
                source.Page.TestVector(ApicOffset.Isr, vector),
                source.IsrCount,
                source.Page.Read(ApicOffset.Ppr),
                source.Page.Read(ApicOffset.LvtLint0) & Lvt.RemoteIrrBit,
                source.LintRemoteIrrBits);
        }

        public void SendIpi(LocalApic source, in InterruptMessage message)
        {
        }

        public void ApicMapChanged(LocalApic source)
        {
        }

        public void Kick(LocalApic target)
        {
        }
    }
}
