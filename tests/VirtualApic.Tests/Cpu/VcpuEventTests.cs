// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Cpu;

/// <summary>
/// INIT, SIPI, NMI, SMI, ExtINT and maskable interrupts through the vCPU surface
/// (kvm-reference.md 2 "RESET and INIT", 3.1; SDM vol. 3A 6.9 and 9.4).
/// </summary>
public class VcpuEventTests
{
    private static Vcpu Create(int index = 0, ApicProfile? profile = null, bool waitForSipi = false, VirtualClock? clock = null)
    {
        var vcpu = new Vcpu(index, new ApicConfig { Profile = profile ?? ApicProfile.Kvm }, clock ?? new VirtualClock(), waitForSipi);
        vcpu.Apic.Host = new RecordingHost();
        Assert.True(vcpu.Apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled));
        return vcpu;
    }

    private static void Send(Vcpu vcpu, DeliveryMode mode, byte vector = 0) =>
        Assert.True(vcpu.Apic.AcceptInterrupt(new InterruptMessage(
            vector, mode, DestinationMode.Physical, 0, TriggerMode.Edge, true, DestinationShorthand.None, InterruptSource.Ipi, 0)));

    // ------------------------------------------------------------------ INIT

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Init_keeps_the_apic_id_and_apic_base_but_resets_everything_else(int index)
    {
        var clock = new VirtualClock();
        var vcpu = Create(index, clock: clock);
        var apic = vcpu.Apic;
        ulong relocated = 0xFED0_0000ul | ApicBase.EnableBit | (index == 0 ? ApicBase.BspBit : 0);
        Assert.True(vcpu.TryWriteMsr(ApicBase.Msr, relocated));
        apic.MmioWrite(ApicOffset.Id, 0x2A00_0000, 4);
        apic.MmioWrite(ApicOffset.Tpr, 0x20, 4);
        apic.MmioWrite(ApicOffset.Ldr, 0x0400_0000, 4);
        apic.MmioWrite(ApicOffset.Dfr, 0x0FFF_FFFF, 4);
        apic.MmioWrite(ApicOffset.LvtLint1, 0x42, 4);
        apic.MmioWrite(ApicOffset.LvtTimer, 0x2_0031, 4);
        apic.MmioWrite(ApicOffset.Tdcr, 0xB, 4);
        apic.MmioWrite(ApicOffset.Tmict, 500_000, 4);
        apic.MmioWrite(ApicOffset.Icr2, 0x0700_0000, 4);
        apic.PutInService(0x61, TriggerMode.Level);
        apic.Raise(0x71);
        vcpu.Sti();

        vcpu.OnInit();
        Assert.Equal(GuestEventKind.Init, vcpu.Take().Kind);

        Assert.Equal(relocated, apic.ApicBaseMsr);
        Assert.Equal(0x2A00_0000u, apic.Read(ApicOffset.Id));
        Assert.Equal(0u, apic.Read(ApicOffset.Tpr));
        Assert.Equal(0u, apic.Read(ApicOffset.Ppr));
        Assert.Equal(0u, apic.Read(ApicOffset.Ldr));
        Assert.Equal(0xFFFF_FFFFu, apic.Read(ApicOffset.Dfr));
        Assert.Equal(0xFFu, apic.Read(ApicOffset.Svr));
        Assert.Equal(0u, apic.Read(ApicOffset.Tdcr));
        Assert.Equal(0u, apic.Read(ApicOffset.Tmict));
        Assert.Equal(0u, apic.Read(ApicOffset.Icr2));
        Assert.Equal(0x0001_0000u, apic.Read(ApicOffset.LvtTimer));
        Assert.Equal(0x0001_0000u, apic.Read(ApicOffset.LvtLint1));
        Assert.Equal(index == 0 ? 0x700u : 0x0001_0000u, apic.Read(ApicOffset.LvtLint0)); // kvm: the reset BSP's LINT0 quirk
        Assert.Equal(-1, apic.HighestIrr);
        Assert.Equal(-1, apic.HighestIsr);
        Assert.Equal(0, TestApic.ScanCount(apic.Page, ApicOffset.Tmr));
        Assert.False(vcpu.InterruptFlag);
        clock.Advance(10_000_000);
        Assert.Equal(0, apic.Timer.Expirations);
    }

    [Fact]
    public void Init_in_x2apic_mode_keeps_x2apic_mode_its_id_and_ldr()
    {
        var vcpu = Create(index: 21);
        Assert.True(vcpu.TryWriteMsr(ApicBase.Msr, TestApic.X2ApicBase));
        Assert.True(vcpu.TryWriteMsr(0x808, 0x40));

        vcpu.OnInit();
        Assert.Equal(GuestEventKind.Init, vcpu.Take().Kind);

        Assert.Equal(ApicMode.X2Apic, vcpu.Apic.Mode);
        Assert.True(vcpu.TryReadMsr(0x802, out ulong id));
        Assert.Equal(21ul, id);
        Assert.True(vcpu.TryReadMsr(0x80D, out ulong ldr));
        Assert.Equal(0x0001_0020ul, ldr);
        Assert.True(vcpu.TryReadMsr(0x808, out ulong tpr));
        Assert.Equal(0ul, tpr);
    }

    [Fact]
    public void After_init_the_bsp_runs_and_an_ap_waits_for_sipi()
    {
        var bsp = Create(0);
        var ap = Create(1);
        bsp.OnInit();
        ap.OnInit();
        Assert.Equal(GuestEventKind.Init, bsp.Take().Kind);
        Assert.Equal(GuestEventKind.Init, ap.Take().Kind);
        Assert.Equal(VcpuRunState.Running, bsp.State);
        Assert.Equal(VcpuRunState.WaitForSipi, ap.State);
    }

    [Fact]
    public void An_ap_waiting_for_sipi_takes_nothing_else()
    {
        var ap = Create(1, waitForSipi: true);
        ap.Sti();
        Send(ap, DeliveryMode.Nmi);
        Send(ap, DeliveryMode.Smi);
        ap.Apic.Raise(0x40);
        Assert.Equal(GuestEvent.None, ap.Take());
        Assert.Equal(VcpuRunState.WaitForSipi, ap.State);
    }

    [Fact]
    public void An_ap_waiting_for_sipi_with_interrupts_enabled_leaves_a_fixed_vector_pending()
    {
        // Only a fixed vector pending and IF=1: what Take's fast path handles for a running vCPU.
        var ap = Create(1, waitForSipi: true);
        ap.Sti();
        ap.Apic.Raise(0x40);

        Assert.Equal(GuestEvent.None, ap.Take());
        Assert.Equal(VcpuRunState.WaitForSipi, ap.State);
        Assert.Equal(0x40, ap.Apic.HighestIrr);
        Assert.Equal(-1, ap.Apic.HighestIsr);
    }

    [Fact]
    public void Restoring_the_event_state_brings_back_every_field_and_the_wait_that_goes_with_the_run_state()
    {
        // Stryker's Cpu run: a restore that forgot the SIPI vector, a LINT level or the halted
        // vCPU's wait passed every test (docs/reliability.md, "Cpu, twenty-ninth session").
        var source = Create(1, waitForSipi: true);
        Send(source, DeliveryMode.StartUp, 0x9A);
        source.SetLint(0, true);
        source.SetLint(1, true);
        var saved = source.SaveEvents();
        Assert.Equal(VcpuRunState.WaitForSipi, saved.State);

        var target = Create(1);
        Assert.False(target.IsBlocking);
        target.RestoreEvents(saved);

        Assert.Equal((byte)0x9A, target.SipiVector);
        Assert.True(target.GetLint(0));
        Assert.True(target.GetLint(1));
        Assert.Equal(saved.Pending, target.PendingEvents);
        Assert.Equal(new GuestEvent(GuestEventKind.Sipi, 0x9A), target.Take());

        target.RestoreEvents(saved with { State = VcpuRunState.Halted, Pending = PendingEvents.None });
        Assert.True(target.IsBlocking); // a restored HLT waits for a kick
        target.RestoreEvents(saved with { State = VcpuRunState.Running, Pending = PendingEvents.None });
        Assert.False(target.IsBlocking);
        Assert.Throws<ArgumentNullException>("state", () => target.RestoreEvents(null!));
    }

    [Fact]
    public void A_sipi_starts_a_waiting_ap_with_its_vector()
    {
        var ap = Create(1, waitForSipi: true);
        Send(ap, DeliveryMode.StartUp, 0x9A);

        var taken = ap.Take();

        Assert.Equal(new GuestEvent(GuestEventKind.Sipi, 0x9A), taken);
        Assert.Equal("sipi 0x9a", taken.ToString());
        Assert.Equal(VcpuRunState.Running, ap.State);
        Assert.Equal((byte)0x9A, ap.SipiVector);
        Assert.Equal(GuestEvent.None, ap.Take());
    }

    [Fact]
    public void Init_overwrites_a_pending_sipi()
    {
        var ap = Create(1, waitForSipi: true);
        Send(ap, DeliveryMode.StartUp, 0x9A);
        Send(ap, DeliveryMode.Init);

        Assert.Equal(PendingEvents.Init, ap.PendingEvents);
        Assert.Equal(GuestEventKind.Init, ap.Take().Kind);
        Assert.Equal(GuestEvent.None, ap.Take());
        Assert.Equal(VcpuRunState.WaitForSipi, ap.State);
    }

    [Fact]
    public void A_sipi_sent_after_a_pending_init_starts_the_ap_once_the_init_is_taken()
    {
        // KVM kvm_apic_accept_events: INIT and then SIPI are both processed from one snapshot of
        // pending_events; the SIPI finds the AP in INIT_RECEIVED and starts it.
        var ap = Create(1);
        Send(ap, DeliveryMode.Init);
        Send(ap, DeliveryMode.StartUp, 0x10);

        Assert.Equal(GuestEventKind.Init, ap.Take().Kind);
        Assert.Equal(new GuestEvent(GuestEventKind.Sipi, 0x10), ap.Take());
        Assert.Equal(VcpuRunState.Running, ap.State);
    }

    [Fact]
    public void A_sipi_to_a_running_vcpu_is_dropped()
    {
        var vcpu = Create(1);
        Assert.Equal(VcpuRunState.Running, vcpu.State);
        Send(vcpu, DeliveryMode.StartUp, 0x9A);

        Assert.Equal(PendingEvents.None, vcpu.PendingEvents);
        Assert.Equal(GuestEvent.None, vcpu.Take());
        Assert.Equal(VcpuRunState.Running, vcpu.State);
    }

    [Fact]
    public void A_sipi_left_pending_by_init_on_the_bsp_is_dropped()
    {
        var bsp = Create(0);
        Send(bsp, DeliveryMode.Init);
        Send(bsp, DeliveryMode.StartUp, 0x10);
        Assert.Equal(GuestEventKind.Init, bsp.Take().Kind);
        Assert.Equal(PendingEvents.Sipi, bsp.PendingEvents);
        Assert.Equal(GuestEvent.None, bsp.Take());
        Assert.Equal(VcpuRunState.Running, bsp.State);
        Assert.Equal(PendingEvents.None, bsp.PendingEvents); // dropped, not left to keep every take on the slow path
    }

    [Fact]
    public void Init_drops_a_pending_smi_and_queued_nmis_ends_nmi_blocking_and_forgets_every_handler()
    {
        // KVM kvm_vcpu_reset(init_event): smi_pending, nmi_queued and nmi_pending are zeroed and NMIs
        // are unmasked; the handlers the guest was in are gone with the state it had.
        var bsp = Create(0);
        bsp.Sti();
        bsp.Apic.Raise(0x40);
        Assert.Equal(0x40, bsp.Take().Vector);
        Send(bsp, DeliveryMode.Nmi);
        Assert.Equal(GuestEventKind.Nmi, bsp.Take().Kind);
        Send(bsp, DeliveryMode.Nmi); // queued behind the blocked one
        Send(bsp, DeliveryMode.Smi);
        Send(bsp, DeliveryMode.Init);
        Assert.Equal(PendingEvents.Init | PendingEvents.Smi | PendingEvents.Nmi, bsp.PendingEvents);

        Assert.Equal(GuestEventKind.Init, bsp.Take().Kind);

        Assert.Equal(PendingEvents.None, bsp.PendingEvents);
        Assert.Equal(0, bsp.NmiQueued);
        Assert.False(bsp.NmiBlocked);
        Assert.Empty(bsp.SaveEvents().HandlerStack);
        Assert.False(bsp.InterruptFlag);
        Send(bsp, DeliveryMode.Nmi);
        Assert.Equal(GuestEventKind.Nmi, bsp.Take().Kind); // not blocked by the handler INIT ended
    }

    [Theory]
    [InlineData(GuestEventKind.None, 0, "none")]
    [InlineData(GuestEventKind.Vector, 0x41, "vector 0x41")]
    [InlineData(GuestEventKind.ExtInt, 0x08, "extint 0x08")]
    [InlineData(GuestEventKind.Sipi, 0x9A, "sipi 0x9a")]
    [InlineData(GuestEventKind.Nmi, 0, "nmi")]
    [InlineData(GuestEventKind.Smi, 0, "smi")]
    [InlineData(GuestEventKind.Init, 0, "init")]
    public void A_taken_event_prints_as_the_scenario_format_writes_it(GuestEventKind kind, byte vector, string text)
    {
        var taken = new GuestEvent(kind, vector);

        Assert.Equal(text, taken.ToString());
        Assert.Equal((kind, vector), (taken.Kind, taken.Vector));
    }

    [Fact]
    public void Restoring_the_event_state_replaces_the_handlers_and_wakes_a_restored_hlt_that_has_an_event()
    {
        var source = Create(0);
        source.Sti();
        source.Apic.Raise(0x40);
        Assert.Equal(0x40, source.Take().Vector);
        var saved = source.SaveEvents();
        Assert.Equal([GuestEventKind.Vector], saved.HandlerStack);

        var target = Create(0);
        Send(target, DeliveryMode.Nmi);
        Assert.Equal(GuestEventKind.Nmi, target.Take().Kind);
        target.RestoreEvents(saved);
        Assert.Equal(saved.HandlerStack, target.SaveEvents().HandlerStack);

        // A halted vCPU restored with IF set and a vector waiting (KVM_SET_MP_STATE then KVM_RUN
        // asks kvm_vcpu_has_events): it must not sleep on the vector.
        target.Apic.Raise(0x50);
        target.RestoreEvents(saved with { State = VcpuRunState.Halted, InterruptFlag = false });
        Assert.False(target.WaitForKick(TimeSpan.Zero));
        target.RestoreEvents(saved with { State = VcpuRunState.Halted, InterruptFlag = true });
        Assert.True(target.WaitForKick(TimeSpan.Zero));
    }

    // ------------------------------------------------------------------ NMI

    [Fact]
    public void An_nmi_blocks_further_nmis_until_iret()
    {
        var vcpu = Create();
        Send(vcpu, DeliveryMode.Nmi);
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
        Assert.True(vcpu.NmiBlocked);

        Send(vcpu, DeliveryMode.Nmi);
        Assert.Equal(GuestEvent.None, vcpu.Take());
        Assert.Equal(PendingEvents.Nmi, vcpu.PendingEvents);

        vcpu.Iret();
        Assert.False(vcpu.NmiBlocked);
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
        vcpu.Iret();
        Assert.Equal(GuestEvent.None, vcpu.Take());
    }

    [Fact]
    public void Nested_handlers_unwind_in_reverse_order_and_stop_being_remembered_at_the_depth_bound()
    {
        // ExtINT ignores PPR, so a guest that re-enables IF inside each handler nests without bound;
        // one level is an NMI handler. The snapshot lists the handlers oldest first.
        var vcpu = Create(1);
        var pic = new FakePic();
        vcpu.Pic = pic;
        vcpu.Apic.MmioWrite(ApicOffset.LvtLint0, 0x700, 4);
        var entered = new List<GuestEventKind>();
        for (int i = 0; i < Vcpu.MaxHandlerDepth + 10; i++)
        {
            if (i == 4)
            {
                Send(vcpu, DeliveryMode.Nmi);
                Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
                entered.Add(GuestEventKind.Nmi);
                continue;
            }

            pic.Pending.Enqueue(0x20);
            vcpu.Sti();
            Assert.Equal(GuestEventKind.ExtInt, vcpu.Take().Kind);
            entered.Add(GuestEventKind.Vector);
            Assert.Equal(Math.Min(i + 1, Vcpu.MaxHandlerDepth), vcpu.SaveEvents().HandlerStack.Count);
        }

        Assert.Equal(entered.Take(Vcpu.MaxHandlerDepth), vcpu.SaveEvents().HandlerStack);

        // Leaving the remembered handlers newest first: a maskable one sets IF, the NMI one unblocks NMIs.
        for (int depth = Vcpu.MaxHandlerDepth; depth > 0; depth--)
        {
            vcpu.Cli();
            Assert.Equal(depth > 4, vcpu.NmiBlocked);
            vcpu.Iret();
            Assert.Equal(entered[depth - 1] == GuestEventKind.Vector, vcpu.InterruptFlag);
            Assert.Equal(depth > 5, vcpu.NmiBlocked);
        }

        vcpu.Cli();
        vcpu.Iret(); // nothing entered: IRET leaves IF alone
        Assert.False(vcpu.InterruptFlag);
        Assert.Empty(vcpu.SaveEvents().HandlerStack);
    }

    [Fact]
    public void Nmis_arriving_while_blocked_collapse_to_one()
    {
        var vcpu = Create();
        Send(vcpu, DeliveryMode.Nmi);
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
        for (int i = 0; i < 5; i++)
        {
            Send(vcpu, DeliveryMode.Nmi);
        }

        Assert.Equal(1, vcpu.NmiQueued);
        vcpu.Iret();
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
        vcpu.Iret();
        Assert.Equal(GuestEvent.None, vcpu.Take());
    }

    [Fact]
    public void At_most_two_nmis_wait_while_unblocked()
    {
        var vcpu = Create();
        for (int i = 0; i < 5; i++)
        {
            Send(vcpu, DeliveryMode.Nmi);
        }

        Assert.Equal(2, vcpu.NmiQueued);
    }

    [Fact]
    public void Nmis_ignore_if()
    {
        var vcpu = Create();
        vcpu.Cli();
        Send(vcpu, DeliveryMode.Nmi);
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
    }

    // ------------------------------------------------------------------ order

    public static TheoryData<DeliveryMode, DeliveryMode> HigherBeatsLower() => new()
    {
        { DeliveryMode.Init, DeliveryMode.Smi },
        { DeliveryMode.Init, DeliveryMode.Nmi },
        { DeliveryMode.Init, DeliveryMode.Fixed },
        { DeliveryMode.Init, DeliveryMode.ExtInt },
        { DeliveryMode.Smi, DeliveryMode.Nmi },
        { DeliveryMode.Smi, DeliveryMode.Fixed },
        { DeliveryMode.Smi, DeliveryMode.ExtInt },
        { DeliveryMode.Nmi, DeliveryMode.Fixed },
        { DeliveryMode.Nmi, DeliveryMode.ExtInt },
        { DeliveryMode.ExtInt, DeliveryMode.Fixed },
    };

    private static GuestEventKind KindOf(DeliveryMode mode) => mode switch
    {
        DeliveryMode.Init => GuestEventKind.Init,
        DeliveryMode.Smi => GuestEventKind.Smi,
        DeliveryMode.Nmi => GuestEventKind.Nmi,
        DeliveryMode.ExtInt => GuestEventKind.ExtInt,
        _ => GuestEventKind.Vector,
    };

    [Theory]
    [MemberData(nameof(HigherBeatsLower))]
    public void Events_are_taken_init_then_smi_then_nmi_then_extint_then_fixed(DeliveryMode first, DeliveryMode second)
    {
        var vcpu = Create();
        var pic = new FakePic();
        vcpu.Pic = pic;
        vcpu.Sti();
        foreach (var mode in new[] { second, first })
        {
            if (mode == DeliveryMode.ExtInt)
            {
                pic.Pending.Enqueue(0x08);
            }
            else
            {
                Send(vcpu, mode, 0x40);
            }
        }

        Assert.Equal(KindOf(first), vcpu.Take().Kind);
        if (first != DeliveryMode.Init)
        {
            // INIT wipes the lower event; otherwise it is next (after IRET for a maskable one).
            vcpu.Iret();
            Assert.Equal(KindOf(second), vcpu.Take().Kind);
        }
    }

    [Fact]
    public void A_fixed_interrupt_waits_for_if()
    {
        var vcpu = Create();
        vcpu.Apic.Raise(0x40);
        Assert.Equal(GuestEvent.None, vcpu.Take());
        Assert.True(vcpu.Apic.IrrHas(0x40));

        vcpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x40), vcpu.Take());
        Assert.True(vcpu.Apic.IsrHas(0x40));
    }

    [Fact]
    public void Taking_a_maskable_interrupt_clears_if_and_iret_sets_it()
    {
        var vcpu = Create();
        vcpu.Sti();
        vcpu.Apic.Raise(0x40);
        vcpu.Apic.Raise(0x80);

        Assert.Equal(0x80, vcpu.Take().Vector);
        Assert.False(vcpu.InterruptFlag);
        Assert.Equal(GuestEvent.None, vcpu.Take());

        vcpu.Apic.EndOfInterrupt();
        vcpu.Iret();
        Assert.True(vcpu.InterruptFlag);
        Assert.Equal(0x40, vcpu.Take().Vector);
    }

    [Fact]
    public void Iret_after_an_nmi_leaves_if_alone()
    {
        var vcpu = Create();
        Send(vcpu, DeliveryMode.Nmi);
        vcpu.Take();
        vcpu.Iret();
        Assert.False(vcpu.InterruptFlag);
        Assert.False(vcpu.NmiBlocked);
    }

    [Fact]
    public void Architectural_iret_from_an_exception_inside_an_nmi_handler_ends_nmi_blocking()
    {
        // SDM vol. 3A 6.7.1: the first IRET ends NMI blocking, even when it returns from an exception
        // handler the NMI handler ran into (the library never saw that exception).
        var vcpu = Create();
        Send(vcpu, DeliveryMode.Nmi);
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
        Send(vcpu, DeliveryMode.Nmi);
        Assert.Equal(GuestEvent.None, vcpu.Take());

        vcpu.Iret(interruptFlagAfter: false);
        Assert.False(vcpu.NmiBlocked);
        Assert.False(vcpu.InterruptFlag);
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Architectural_iret_takes_if_from_the_popped_rflags(bool poppedIf)
    {
        var vcpu = Create();
        vcpu.Apic.Raise(0x40);
        vcpu.Sti();
        Assert.Equal(0x40, vcpu.Take().Vector);
        Assert.False(vcpu.InterruptFlag);

        vcpu.Iret(poppedIf);
        Assert.Equal(poppedIf, vcpu.InterruptFlag);
        Assert.Empty(vcpu.SaveEvents().HandlerStack);

        // With no handler entry left it still sets IF and stays consistent.
        vcpu.Iret(!poppedIf);
        Assert.Equal(!poppedIf, vcpu.InterruptFlag);
    }

    [Fact]
    public void Hlt_then_an_event_wakes_the_vcpu()
    {
        var vcpu = Create();
        vcpu.Sti();
        vcpu.Hlt();
        Assert.Equal(VcpuRunState.Halted, vcpu.State);
        Assert.Equal(GuestEvent.None, vcpu.Take());
        Assert.Equal(VcpuRunState.Halted, vcpu.State);

        vcpu.Apic.Raise(0x50);
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, 0x50), vcpu.Take());
        Assert.Equal(VcpuRunState.Running, vcpu.State);
    }

    [Fact]
    public void Hlt_with_if_clear_is_woken_only_by_nmi()
    {
        var vcpu = Create();
        vcpu.Hlt();
        vcpu.Apic.Raise(0x50);
        Assert.Equal(GuestEvent.None, vcpu.Take());
        Assert.Equal(VcpuRunState.Halted, vcpu.State);
        Send(vcpu, DeliveryMode.Nmi);
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
        Assert.Equal(VcpuRunState.Running, vcpu.State);
    }

    // ------------------------------------------------------------------ ExtINT

    [Theory]
    [InlineData("kvm", 0, true)]
    [InlineData("kvm", 1, false)]
    [InlineData("architectural", 0, false)]
    [InlineData("architectural", 1, false)]
    public void The_pic_reaches_a_vcpu_through_lint0_only_when_unmasked_extint(string profile, int index, bool reaches)
    {
        var vcpu = Create(index, TestApic.Profile(profile));
        var pic = new FakePic();
        pic.Pending.Enqueue(0x21);
        vcpu.Pic = pic;
        vcpu.Sti();

        Assert.Equal(reaches ? 0x700u : 0x1_0000u, vcpu.Apic.Read(ApicOffset.LvtLint0));
        Assert.Equal(reaches, vcpu.PendingEvents.HasFlag(PendingEvents.ExtInt));
        Assert.Equal(reaches ? new GuestEvent(GuestEventKind.ExtInt, 0x21) : GuestEvent.None, vcpu.Take());
        Assert.Equal(reaches ? 1 : 0, pic.Acknowledged);
    }

    [Fact]
    public void Programming_lint0_as_extint_opens_the_pic_path()
    {
        var vcpu = Create(1);
        var pic = new FakePic();
        pic.Pending.Enqueue(0x23);
        vcpu.Pic = pic;
        vcpu.Sti();
        Assert.Equal(GuestEvent.None, vcpu.Take());

        vcpu.Apic.MmioWrite(ApicOffset.LvtLint0, 0x700, 4);

        var taken = vcpu.Take();
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x23), taken);
        Assert.Equal("extint 0x23", taken.ToString());
        Assert.False(vcpu.InterruptFlag);
        Assert.Equal(-1, vcpu.Apic.HighestIsr); // the PIC's vector never touches the ISR
    }

    [Fact]
    public void A_hardware_disabled_apic_passes_the_pic_straight_through()
    {
        var vcpu = Create(1);
        Assert.True(vcpu.TryWriteMsr(ApicBase.Msr, TestApic.DisabledBase));
        var pic = new FakePic();
        pic.Pending.Enqueue(0x24);
        vcpu.Pic = pic;
        vcpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.ExtInt, 0x24), vcpu.Take());
    }

    [Fact]
    public void Extint_waits_for_if()
    {
        var vcpu = Create(0);
        var pic = new FakePic();
        pic.Pending.Enqueue(0x20);
        vcpu.Pic = pic;
        Assert.Equal(GuestEvent.None, vcpu.Take());
        Assert.Equal(0, pic.Acknowledged);
    }

    // ------------------------------------------------------------------ misc surface

    [Theory]
    [InlineData(true, true, (1u << 21) | (1u << 24))]
    [InlineData(false, true, 1u << 24)]
    [InlineData(true, false, 1u << 21)]
    public void Cpuid_reports_x2apic_and_tsc_deadline_from_the_config(bool x2, bool deadline, uint ecx)
    {
        var vcpu = new Vcpu(3, new ApicConfig { X2ApicSupported = x2, TscDeadlineSupported = deadline }, new VirtualClock());
        Assert.Equal(ecx, vcpu.Cpuid(1, 0, CpuidRegister.Ecx));
        Assert.Equal(3u << 24, vcpu.Cpuid(1, 0, CpuidRegister.Ebx));
        Assert.Equal(3u, vcpu.Cpuid(0xB, 0, CpuidRegister.Edx));
    }

    [Fact]
    public void A_lint1_nmi_entry_delivers_an_nmi_on_the_rising_edge()
    {
        var vcpu = Create();
        vcpu.Apic.MmioWrite(ApicOffset.LvtLint1, 0x400, 4);
        vcpu.SetLint(1, true);
        vcpu.SetLint(1, true); // no new edge
        Assert.Equal(1, vcpu.NmiQueued);
        Assert.Equal(GuestEventKind.Nmi, vcpu.Take().Kind);
    }

    [Fact]
    public void Unknown_msrs_fault()
    {
        var vcpu = Create();
        Assert.False(vcpu.TryReadMsr(0xC000_0080, out _));
        Assert.False(vcpu.TryWriteMsr(0xC000_0080, 0));
    }

    [Fact]
    public void Nmis_racing_in_from_many_threads_still_collapse_to_two()
    {
        var vcpu = Create();
        using var start = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < 1000; i++)
            {
                vcpu.OnNmi();
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(2, vcpu.NmiQueued);
    }
}
