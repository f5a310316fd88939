// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The EOI of a level-triggered IOAPIC interrupt whose line is still asserted: the IOAPIC delivers the
/// vector again from inside the EOI (KVM <c>kvm_ioapic_update_eoi_one</c>), re-entering the APIC that
/// is EOIing. That re-delivery must find the EOI complete, whichever path the guest's EOI took.
/// </summary>
public class EoiOrderTests
{
    private const int Pin = 7;
    private const byte Vector = 0x61;

    [Theory]
    [InlineData(AccelKind.None, false)]   // MMIO write, emulated
    [InlineData(AccelKind.None, true)]    // WRMSR, emulated
    [InlineData(AccelKind.Apicv, false)]  // EOI virtualization, then the EOI-induced exit
    [InlineData(AccelKind.Apicv, true)]
    [InlineData(AccelKind.Avic, false)]   // the level EOI traps after landing in the page: trap-like replay
    [InlineData(AccelKind.X2Avic, true)]  // the seed bug's path
    public void A_redelivery_from_inside_the_eoi_finds_the_apic_consistent(AccelKind accel, bool x2Apic)
    {
        var vm = new VirtualMachine(new VmOptions { Cpus = 1, Accel = accel });
        var cpu = vm.Vcpus[0];
        if (x2Apic)
        {
            Assert.True(cpu.TryWriteMsr(ApicBase.Msr, cpu.Apic.ApicBaseMsr | ApicBase.ExtdBit));
            Assert.True(cpu.TryWriteMsr(0x80F, 0x1FF));
        }
        else
        {
            cpu.MmioWrite(cpu.Apic.BaseAddress + ApicOffset.Svr, 0x1FF, 4);
        }

        vm.IoApic.WriteEntry(Pin, RedirectionEntry.Create(Vector, trigger: TriggerMode.Level, destination: 0));
        vm.IoApic.SetLine(Pin, true);
        cpu.Sti();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, Vector), cpu.Take());
        Assert.Equal(0x60u, cpu.Apic.Ppr);
        var tracer = new RedeliveryObserver(cpu.Apic);
        vm.Tracer = tracer;

        // The guest's EOI, line still high.
        if (x2Apic)
        {
            Assert.True(cpu.TryWriteMsr(0x80B, 0));
        }
        else
        {
            cpu.MmioWrite(cpu.Apic.BaseAddress + ApicOffset.Eoi, 0, 4);
        }

        Assert.Equal(["eoi 61", "delivery 61"], tracer.Events);
        Assert.Equal(new ApicView(IsrBit: false, IsrCount: 0, Ppr: 0), tracer.SeenAtRedelivery);
        Assert.True(vm.IoApic.GetRemoteIrr(Pin)); // delivered again, awaiting the next EOI
        cpu.Iret();
        Assert.Equal(new GuestEvent(GuestEventKind.Vector, Vector), cpu.Take());
    }

    private readonly record struct ApicView(bool IsrBit, int IsrCount, uint Ppr);

    // Records the delivery and EOI events, and the APIC as a re-delivery after its EOI finds it.
    private sealed class RedeliveryObserver(LocalApic apic) : IVmTracer
    {
        public List<string> Events { get; } = [];

        public ApicView? SeenAtRedelivery { get; private set; }

        public void OnDelivery(int vcpu, int vector, bool posted)
        {
            Events.Add($"delivery {vector:x2}");
            SeenAtRedelivery = new ApicView(apic.Page.TestVector(ApicOffset.Isr, vector), apic.IsrCount, apic.Page.Read(ApicOffset.Ppr));
        }

        public void OnEoi(int vcpu, int vector) => Events.Add($"eoi {vector:x2}");

        public void OnExit(int vcpu, ExitReason reason, int offsetOrMsr, bool trapLike)
        {
        }
    }
}
