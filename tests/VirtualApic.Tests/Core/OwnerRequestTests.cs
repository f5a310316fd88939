// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>
/// The requests other threads hand to the vCPU that owns an APIC (KVM kvm_make_request /
/// kvm_check_request): each is done once, on the owner's next evaluation or EOI, and only when asked.
/// </summary>
public class OwnerRequestTests
{
    [Fact]
    public void An_ioapic_scan_request_is_done_once_at_the_next_evaluation()
    {
        var apic = TestApic.Create();
        Assert.Equal(-1, apic.PendingVector());
        Assert.Empty(apic.Host().IoApicScans); // nothing asked, nothing done

        apic.RequestIoApicScan();
        Assert.True(apic.IoApicScanRequested);
        Assert.Equal(-1, apic.PendingVector());
        Assert.Equal(-1, apic.PendingVector());

        Assert.Single(apic.Host().IoApicScans);
        Assert.False(apic.IoApicScanRequested);
    }

    [Fact]
    public void An_owed_ioapic_scan_runs_before_the_eoi_takes_the_vector_out_of_service()
    {
        // KVM runs vcpu_scan_ioapic before the guest can EOI: the rescan must still see the vector
        // in service, or a level vector whose entry changed would lose its EOI to the IOAPIC.
        var apic = TestApic.Create();
        apic.PutInService(0x61, TriggerMode.Level);
        apic.RequestIoApicScan();

        Assert.Equal(0x61, apic.EndOfInterrupt().Vector);

        Assert.Equal([0x61], apic.Host().IoApicScans);
        Assert.False(apic.IoApicScanRequested);
    }

    [Fact]
    public void An_eoi_with_no_scan_owed_does_not_rescan()
    {
        var apic = TestApic.Create();
        apic.PutInService(0x62);

        Assert.Equal(0x62, apic.EndOfInterrupt().Vector);

        Assert.Empty(apic.Host().IoApicScans);
    }

    [Fact]
    public void A_refresh_request_re_derives_ppr_from_an_isr_changed_outside_the_apic()
    {
        // KVM_REQ_APICV_UPDATE: after a hardware assist retired 0x61 in the page (a virtual EOI),
        // the owner's caches still say 0x61 is in service until it handles the request.
        var apic = TestApic.Create();
        apic.PutInService(0x61);
        Assert.True(apic.Raise(0x45));
        apic.Page.ClearVector(ApicOffset.Isr, 0x61);
        Assert.Equal(-1, apic.PendingVector()); // no request yet: PPR is still 0x60

        apic.RequestRefresh();

        Assert.Equal(0x45, apic.PendingVector());
        Assert.Equal(0u, apic.Ppr);
        Assert.Equal(0, apic.IsrCount);
        Assert.Empty(apic.Host().IoApicScans); // only what was asked
    }

    [Fact]
    public void A_reset_drops_a_timer_expiry_handed_to_the_owner_and_not_yet_injected()
    {
        // KVM kvm_lapic_reset zeroes lapic_timer.pending: the tick handed over before the reset is
        // not injected afterwards, even with the timer LVT unmasked again and the request still owed.
        var clock = new VirtualClock();
        var apic = TestApic.Create(clock: clock);
        var owner = new Thread(apic.BindOwnerToCurrentThread);
        owner.Start();
        owner.Join(); // bound to a thread that has exited: this thread is another thread
        Assert.True(apic.Write(ApicOffset.LvtTimer, 0x72));
        Assert.True(apic.Write(ApicOffset.Tmict, 100));
        clock.Advance(1_000);
        Assert.Equal(1, apic.Timer.PendingInjections);

        apic.Reset();
        Assert.True(apic.Write(ApicOffset.Svr, TestApic.SvrEnabled));
        Assert.True(apic.Write(ApicOffset.LvtTimer, 0x72));

        Assert.Equal(-1, apic.PendingVector());
        Assert.False(apic.IrrHas(0x72));
        Assert.Equal(0, apic.Timer.PendingInjections);
    }
}
