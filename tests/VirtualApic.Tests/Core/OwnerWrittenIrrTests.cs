// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Core;

/// <summary>
/// An IRR that only the evaluating thread writes although it is not bound to a thread
/// (LocalApic.KeepIrrOwnerWritten, what APICv sets up): every set from outside goes through the
/// inbox, so the owner's PIR sync and acknowledge can be plain. These pin where each write lands;
/// the threaded stress (ThreadedStressTests, apicv with inhibit toggles) counts that none is lost.
/// </summary>
public class OwnerWrittenIrrTests
{
    [Fact]
    public void Every_set_of_an_owner_written_unbound_irr_waits_in_the_inbox_until_an_evaluation()
    {
        var apic = TestApic.Create();
        apic.KeepIrrOwnerWritten();
        Assert.False(apic.IsBound);

        apic.AssertInboxedUntilEvaluated(0x51);
    }

    [Fact]
    public void An_owner_written_irr_takes_a_word_of_vectors_plainly_from_its_evaluating_thread()
    {
        var apic = TestApic.Create();
        apic.KeepIrrOwnerWritten();

        apic.OrIrrWord(2, 0x8000_0001); // a PIR sync: vectors 0x40 and 0x5F

        Assert.Equal(0x8000_0001u, apic.Page.Read(ApicOffset.Irr + 0x20));
        Assert.Equal(0u, apic.InboxWord(2));
    }

    [Fact]
    public void Bound_to_another_thread_an_owner_written_irr_still_takes_that_threads_sets_only()
    {
        var apic = TestApic.Create();
        apic.KeepIrrOwnerWritten();
        var owner = new Thread(apic.BindOwnerToCurrentThread);
        owner.Start();
        owner.Join();

        apic.OrIrrWord(1, 1u << 3); // vector 0x23, from a thread that is not the owner

        Assert.Equal(0u, apic.Page.Read(ApicOffset.Irr + 0x10));
        Assert.Equal(1u << 3, apic.InboxWord(1));
    }

    [Theory]
    [InlineData(AccelKind.None, false)]
    [InlineData(AccelKind.Apicv, true)]
    [InlineData(AccelKind.Avic, false)] // AVIC's hardware IPI sets a target's IRR from the sender's thread
    [InlineData(AccelKind.X2Avic, false)]
    public void Only_apicv_keeps_its_vcpus_irrs_owner_written(AccelKind accel, bool ownerWritten)
    {
        using var vm = EnabledVm(accel, cpus: 2);

        Assert.All(vm.Vcpus, cpu => Assert.Equal(ownerWritten, cpu.Apic.IsIrrOwnerWritten));
    }

    [Fact]
    public void Inhibited_apicv_delivers_through_the_inbox_and_the_vcpu_takes_it()
    {
        using var vm = EnabledVm(AccelKind.Apicv, cpus: 2);
        Write(vm.Vcpus[1], ApicOffset.Id, 0x0900_0000); // APIC ID modified: inhibited
        Assert.False(vm.Accelerator.IsActive);
        var apic = vm.Vcpus[0].Apic;

        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x61));

        Assert.True(apic.IsInboxed(0x61));
        Assert.False(apic.IrrHas(0x61));
        Assert.Equal([0x61], TakeAll(vm.Vcpus[0]));
    }

    [Fact]
    public void A_toggle_leaves_posted_vectors_for_their_own_vcpu_to_sync()
    {
        // KVM syncs the PIR on the vCPU's thread (vcpu_enter_guest, sync_pir_to_irr); a toggle made
        // on another vCPU's thread must not write this IRR, which only its vCPU writes.
        using var vm = EnabledVm(AccelKind.Apicv, cpus: 2);
        var apicv = Assert.IsType<ApicvModel>(vm.Accelerator);
        var apic = vm.Vcpus[0].Apic;
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x62));
        Assert.True(apicv.Descriptor(0).TestPir(0x62));

        Write(vm.Vcpus[1], ApicOffset.Id, 0x0900_0000);

        Assert.False(vm.Accelerator.IsActive);
        Assert.True(apicv.Descriptor(0).TestPir(0x62));
        Assert.False(apic.IrrHas(0x62));
        Assert.Equal([0x62], TakeAll(vm.Vcpus[0]));
        Assert.False(apicv.Descriptor(0).TestPir(0x62));
    }
}
