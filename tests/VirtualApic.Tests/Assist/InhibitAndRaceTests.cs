// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Hypervisor;
using VirtualApic.Registers;
using VirtualApic.Snapshot;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// Inhibits and live toggling (kvm-reference.md 6.5), posted-interrupt races and snapshots, exit
/// statistics of the fast paths and the tracer.
/// </summary>
public class InhibitAndRaceTests
{
    private static ApicvInhibitPolicy Assist(VirtualMachine vm) => Assert.IsType<ApicvInhibitPolicy>(vm.InhibitPolicy);

    [Theory]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.Avic)]
    [InlineData(AccelKind.X2Avic)]
    public void Apic_id_modified_deactivates_and_restoring_the_id_reactivates(AccelKind accel)
    {
        using var vm = EnabledVm(accel, cpus: 2);
        var assist = Assist(vm);
        Assert.True(assist.IsActive);
        Assert.Equal(ApicvInhibit.None, assist.Inhibits);

        Write(vm.Vcpus[1], ApicOffset.Id, 0x0500_0000);
        Assert.False(vm.Accelerator.IsActive);
        Assert.True(assist.Inhibits.HasFlag(ApicvInhibit.ApicIdModified));
        Assert.Equal(1, assist.Toggles);

        Write(vm.Vcpus[1], ApicOffset.Id, 0x0100_0000); // clearable (KVM d471bd853d38)
        Assert.True(vm.Accelerator.IsActive);
        Assert.Equal(ApicvInhibit.None, assist.Inhibits);
        Assert.Equal(2, assist.Toggles);
    }

    [Theory]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.Avic)]
    public void Apic_base_relocation_is_sticky(AccelKind accel)
    {
        using var vm = EnabledVm(accel);
        var cpu = vm.Vcpus[0];
        ulong original = cpu.Apic.ApicBaseMsr;
        Assert.True(cpu.TryWriteMsr(ApicBase.Msr, (original & 0xFFF) | 0xFED0_0000));

        // Each later change recounts the APIC: the relocation must not count as if it toggled.
        foreach (uint ldr in new[] { 0x0100_0000u, 0x0200_0000u })
        {
            Write(cpu, ApicOffset.Ldr, ldr);

            Assert.Equal(ldr, cpu.Apic.Ldr);
            Assert.True(Assist(vm).Inhibits.HasFlag(ApicvInhibit.ApicBaseModified));
            Assert.False(vm.Accelerator.IsActive);
        }

        Assert.True(cpu.TryWriteMsr(ApicBase.Msr, original));
        Assert.True(Assist(vm).Inhibits.HasFlag(ApicvInhibit.ApicBaseModified));
        Assert.False(vm.Accelerator.IsActive);
    }

    [Theory]
    [InlineData(AccelKind.Apicv, false)]
    [InlineData(AccelKind.Avic, true)]
    public void Two_xapic_flat_logical_ids_claimed_twice_alias_for_avic_only(AccelKind accel, bool inhibited)
    {
        // KVM kvm_recalculate_apic_map disables the logical map when two APICs claim one logical ID;
        // LOGICAL_ID_ALIASED is in AVIC's required inhibits only.
        using var vm = EnabledVm(accel, cpus: 3);
        Write(vm.Vcpus[0], ApicOffset.Ldr, 0x0100_0000);
        Write(vm.Vcpus[1], ApicOffset.Ldr, 0x0200_0000);
        Assert.True(vm.Accelerator.IsActive);

        Write(vm.Vcpus[2], ApicOffset.Ldr, 0x0200_0000);

        Assert.Equal(inhibited, Assist(vm).Inhibits.HasFlag(ApicvInhibit.LogicalIdAliased));
        Assert.Equal(!inhibited, vm.Accelerator.IsActive);
        Write(vm.Vcpus[2], ApicOffset.Ldr, 0x0400_0000);
        Assert.True(vm.Accelerator.IsActive);
    }

    [Theory]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.Avic)]
    public void Two_vcpus_with_one_xapic_id_alias_and_both_accept(AccelKind accel)
    {
        using var vm = EnabledVm(accel, cpus: 3);
        Write(vm.Vcpus[2], ApicOffset.Id, 0x0100_0000);

        Assert.True(Assist(vm).Inhibits.HasFlag(ApicvInhibit.PhysicalIdAliased));
        Assert.False(vm.Accelerator.IsActive);
        Assert.Equal(2, vm.DeliverMsi(Msi.EncodeAddress(1), 0x70)); // KVM 5b84b0291702
        Assert.Equal([0x70], TakeAll(vm.Vcpus[1]));
        Assert.Equal([0x70], TakeAll(vm.Vcpus[2]));
    }

    [Fact]
    public void Multi_bit_logical_ids_inhibit_avic_but_not_apicv()
    {
        using var avic = EnabledVm(AccelKind.Avic, cpus: 2);
        using var apicv = EnabledVm(AccelKind.Apicv, cpus: 2);
        foreach (var vm in new[] { avic, apicv })
        {
            Write(vm.Vcpus[0], ApicOffset.Ldr, 0x0300_0000);
        }

        Assert.True(Assist(avic).Inhibits.HasFlag(ApicvInhibit.LogicalIdAliased));
        Assert.False(avic.Accelerator.IsActive);
        Assert.Equal(ApicvInhibit.None, Assist(apicv).Inhibits); // LOGICAL_ID_ALIASED is SVM-only
        Assert.True(apicv.Accelerator.IsActive);
    }

    [Theory]
    [InlineData(AccelKind.Avic, false)]
    [InlineData(AccelKind.X2Avic, true)]
    [InlineData(AccelKind.Apicv, true)]
    public void Two_hundred_fifty_six_vcpus_are_too_many_for_xavic_only(AccelKind accel, bool active)
    {
        using var vm = new VirtualMachine(new VmOptions { Cpus = 256, Accel = accel });

        Assert.Equal(active, vm.Accelerator.IsActive);
        Assert.Equal(!active, Assist(vm).Inhibits.HasFlag(ApicvInhibit.PhysicalIdTooBig));
    }

    [Fact]
    public void Xapic_cluster_members_of_different_clusters_do_not_alias()
    {
        // Cluster 1 member 0 (LDR 0x11) is a different logical ID from cluster 0 member 0 (0x01).
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        foreach (var cpu in vm.Vcpus)
        {
            Write(cpu, ApicOffset.Dfr, 0x0FFF_FFFF);
        }

        Write(vm.Vcpus[0], ApicOffset.Ldr, 0x0100_0000);
        Write(vm.Vcpus[1], ApicOffset.Ldr, 0x1100_0000);

        Assert.Equal(ApicvInhibit.None, Assist(vm).Inhibits);
        Assert.True(vm.Accelerator.IsActive);
        Write(vm.Vcpus[1], ApicOffset.Ldr, 0x0100_0000);
        Assert.True(Assist(vm).Inhibits.HasFlag(ApicvInhibit.LogicalIdAliased));
    }

    [Fact]
    public void A_multi_bit_logical_id_and_a_duplicate_one_each_keep_avic_inhibited()
    {
        // Two different reasons the logical map is disabled must add up, not cancel.
        using var vm = EnabledVm(AccelKind.Avic, cpus: 3);
        Write(vm.Vcpus[0], ApicOffset.Ldr, 0x0300_0000);
        Write(vm.Vcpus[1], ApicOffset.Ldr, 0x0400_0000);
        Write(vm.Vcpus[2], ApicOffset.Ldr, 0x0400_0000);

        Assert.True(Assist(vm).Inhibits.HasFlag(ApicvInhibit.LogicalIdAliased));
        Write(vm.Vcpus[2], ApicOffset.Ldr, 0x0800_0000);
        Assert.True(Assist(vm).Inhibits.HasFlag(ApicvInhibit.LogicalIdAliased)); // 0x03 still
        Write(vm.Vcpus[0], ApicOffset.Ldr, 0x0100_0000);
        Assert.Equal(ApicvInhibit.None, Assist(vm).Inhibits);
    }

    [Theory]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.Avic)]
    public void An_apic_base_relocated_while_the_assist_is_inhibited_for_another_reason_still_counts(AccelKind accel)
    {
        using var vm = EnabledVm(accel, cpus: 2);
        Write(vm.Vcpus[1], ApicOffset.Id, 0x0500_0000);
        Assert.False(vm.Accelerator.IsActive);
        var cpu0 = vm.Vcpus[0];

        Assert.True(cpu0.TryWriteMsr(ApicBase.Msr, (cpu0.Apic.ApicBaseMsr & 0xFFF) | 0xFED0_0000));
        Write(vm.Vcpus[1], ApicOffset.Id, 0x0100_0000);

        Assert.Equal(ApicvInhibit.ApicBaseModified, Assist(vm).Inhibits);
        Assert.False(vm.Accelerator.IsActive);
    }

    [Fact]
    public void An_avic_inhibit_switches_every_vcpu_to_emulated_delivery_and_reactivation_back_to_the_doorbell()
    {
        // KVM_REQ_APICV_UPDATE on every vCPU: while inhibited, a delivery to a running vCPU is an
        // IRR write and a kick, never a doorbell; once active again, the doorbell without an exit.
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        var model = Assert.IsType<AvicModel>(vm.Accelerator);
        Write(vm.Vcpus[1], ApicOffset.Id, 0x0700_0000);
        Assert.False(model.IsActive);
        long doorbells = model.Doorbells;

        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x44, destinationHigh: 7u << 24));

        Assert.Equal(doorbells, model.Doorbells);
        Assert.Equal([0x44], TakeAll(vm.Vcpus[1]));
        Write(vm.Vcpus[1], ApicOffset.Id, 0x0100_0000);
        Assert.True(model.IsActive);
        vm.Vcpus[0].Exits.Clear();

        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x55, destinationHigh: 1u << 24)); // above 0x44, still in service

        Assert.Equal(doorbells + 1, model.Doorbells);
        Assert.Equal(0, vm.Vcpus[0].Exits.Total);
        Assert.Equal([0x55], TakeAll(vm.Vcpus[1]));
    }

    [Fact]
    public void Two_hundred_fifty_five_vcpus_fill_xavics_physical_ids_and_stay_active()
    {
        // xAVIC's largest physical ID is 0xFE (0xFF is the broadcast): IDs 0-254 fit.
        using var vm = new VirtualMachine(new VmOptions { Cpus = 255, Accel = AccelKind.Avic });

        Assert.True(vm.Accelerator.IsActive);
        Assert.Equal(ApicvInhibit.None, Assist(vm).Inhibits);
    }

    [Theory]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.Avic)]
    [InlineData(AccelKind.X2Avic)]
    public void A_toggle_with_pending_and_in_service_vectors_loses_nothing(AccelKind accel)
    {
        // KVM 97a71c444a14: the ISR cache is purged on every toggle; the vCPU syncs its PIR when it next evaluates.
        using var vm = EnabledVm(accel, cpus: 2);
        var cpu = vm.Vcpus[0];
        var assist = Assist(vm);
        for (int round = 0; round < 2; round++)
        {
            Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x41));
            Assert.Equal([0x41], TakeAll(cpu));
            Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x93));
            Assert.Equal([0x93], TakeAll(cpu));
            Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0xA7)); // pending (IF=0): PIR or IRR
            Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x32)); // pending, below PPR

            // Toggle: deactivate in round 0, reactivate in round 1.
            Write(vm.Vcpus[1], ApicOffset.Id, round == 0 ? 0x0900_0000u : 0x0100_0000u);
            Assert.Equal(round == 1, vm.Accelerator.IsActive);
            Assert.Equal(round + 1, assist.Toggles);

            Assert.Equal(0x93, cpu.Apic.HighestIsr);
            Assert.Equal(0x90u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
            Assert.Equal(0xA7, cpu.Apic.HighestIrr);
            Assert.Equal([0xA7], TakeAll(cpu));
            Write(cpu, ApicOffset.Eoi, 0); // 0xA7
            Assert.Equal(0x93, cpu.Apic.HighestIsr);
            Write(cpu, ApicOffset.Eoi, 0); // 0x93
            Assert.Equal(0x41, cpu.Apic.HighestIsr);
            Assert.Equal(0x40u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
            Write(cpu, ApicOffset.Eoi, 0); // 0x41
            Assert.Equal(0u, cpu.Apic.ReadRegisterRaw(ApicOffset.Ppr));
            Assert.Equal([0x32], TakeAll(cpu));
            Write(cpu, ApicOffset.Eoi, 0);
            Assert.Equal(-1, cpu.Apic.HighestIsr);
            Assert.Equal(-1, cpu.Apic.HighestIrr);
            Assert.Equal(0, cpu.Apic.IsrCount);
        }
    }

    // ------------------------------------------------------------------ races

    [Theory]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.Avic)]
    public void Concurrent_senders_every_interrupt_is_received_exactly_once(AccelKind accel)
    {
        const int Rounds = 200;
        using var vm = EnabledVm(accel, cpus: 1);
        var cpu = vm.Vcpus[0];
        int[] counts = new int[256];
        int[][] vectorsOf = [[.. Enumerable.Range(0x30, 24)], [.. Enumerable.Range(0x80, 24)]];
        var deadline = Stopwatch.StartNew();
        var limit = TimeSpan.FromSeconds(5);
        bool failed = false;

        var senders = vectorsOf.Select(vectors => new Thread(() =>
        {
            for (int r = 0; r < Rounds && !Volatile.Read(ref failed); r++)
            {
                foreach (int v in vectors)
                {
                    vm.DeliverMsi(Msi.EncodeAddress(0), (uint)v);
                }

                foreach (int v in vectors)
                {
                    while (Volatile.Read(ref counts[v]) <= r)
                    {
                        if (deadline.Elapsed > limit)
                        {
                            Volatile.Write(ref failed, true);
                            return;
                        }

                        Thread.Yield();
                    }
                }
            }
        })).ToArray();

        int expected = Rounds * vectorsOf.Sum(v => v.Length);
        var receiver = new Thread(() =>
        {
            int received = 0;
            cpu.Sti();
            while (received < expected && deadline.Elapsed < limit)
            {
                cpu.PrepareToWait();
                var e = cpu.Take();
                if (e.Kind != GuestEventKind.Vector)
                {
                    cpu.Hlt();
                    e = cpu.Take(); // re-check after blocking, as KVM does for racing posts
                    if (e.Kind != GuestEventKind.Vector)
                    {
                        cpu.WaitForKick(TimeSpan.FromMilliseconds(5));
                        continue;
                    }
                }

                Interlocked.Increment(ref counts[e.Vector]);
                received++;
                Write(cpu, ApicOffset.Eoi, 0);
                cpu.Iret();
            }
        });

        foreach (var t in senders)
        {
            t.Start();
        }

        receiver.Start();
        receiver.Join();
        foreach (var t in senders)
        {
            t.Join();
        }

        Assert.False(failed, "a sender timed out waiting for its vector");
        for (int v = 0; v < 256; v++)
        {
            Assert.Equal(vectorsOf.Any(s => s.Contains(v)) ? Rounds : 0, counts[v]);
        }

        Assert.Equal(cpu.Exits[ExitReason.Hlt], cpu.Exits.Total); // EOIs and deliveries never exit
        Assert.Equal(-1, cpu.Apic.HighestIsr);
    }

    [Fact]
    public void A_snapshot_taken_with_vectors_in_the_pir_carries_them_to_a_none_vm()
    {
        using var apicv = EnabledVm(AccelKind.Apicv);
        using var none = EnabledVm(AccelKind.None);
        var pid = Assert.IsType<ApicvModel>(apicv.Accelerator).Descriptor(0);
        Assert.Equal(1, apicv.DeliverMsi(Msi.EncodeAddress(0), 0x41));
        Assert.Equal(1, apicv.DeliverMsi(Msi.EncodeAddress(0), 0x52));
        Assert.True(pid.TestPir(0x41) && pid.TestPir(0x52));

        var snapshot = VcpuSnapshot.Capture(apicv.Vcpus[0]);
        uint irr2 = BitConverter.ToUInt32(snapshot.LapicImage, ApicOffset.Irr + 0x20);
        Assert.Equal((1u << 1) | (1u << 0x12), irr2); // vectors 0x41 and 0x52

        snapshot.Restore(none.Vcpus[0]);
        Assert.Equal([0x52], TakeAll(none.Vcpus[0]));
        Write(none.Vcpus[0], ApicOffset.Eoi, 0);
        Assert.Equal([0x41], TakeAll(none.Vcpus[0]));
    }

    [Fact]
    public void Restoring_onto_an_apicv_vcpu_drops_stale_posted_vectors_first()
    {
        // KVM 9cfec6d097c6: PIR and ON are cleared at the start of KVM_SET_LAPIC.
        using var vm = EnabledVm(AccelKind.Apicv);
        var cpu = vm.Vcpus[0];
        var snapshot = VcpuSnapshot.Capture(cpu);
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x66));
        var pid = Assert.IsType<ApicvModel>(vm.Accelerator).Descriptor(0);
        Assert.True(pid.OutstandingNotification);

        snapshot.Restore(cpu);

        Assert.False(pid.TestPir(0x66));
        Assert.False(pid.OutstandingNotification);
        Assert.Empty(TakeAll(cpu));
    }

    // ------------------------------------------------------------------ statistics and tracer

    [Theory]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.Avic)]
    [InlineData(AccelKind.X2Avic)]
    public void Accepted_and_eoied_edge_interrupts_and_fixed_ipis_make_no_exit(AccelKind accel)
    {
        using var vm = EnabledVm(accel, cpus: 2);
        bool x2 = accel == AccelKind.X2Avic;
        if (x2)
        {
            EnterX2Apic(vm);
        }

        var a = vm.Vcpus[0];
        var b = vm.Vcpus[1];
        for (int i = 0; i < 100; i++)
        {
            byte vector = (byte)(0x20 + (i % 0xD0));
            Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), vector));
            Assert.Equal([vector], TakeAll(a));
            Eoi(a);

            if (x2)
            {
                Assert.True(a.TryWriteMsr(0x830, Icr.Create(vector, destinationHigh: 1).Raw));
            }
            else
            {
                SendXApicIpi(a, Icr.Create(vector, destinationHigh: 1u << 24));
            }

            Assert.Equal([vector], TakeAll(b));
            Eoi(b);
        }

        Assert.Equal(0, a.Exits.Total);
        Assert.Equal(0, b.Exits.Total);

        void Eoi(Vcpu cpu)
        {
            if (x2)
            {
                Assert.True(cpu.TryWriteMsr(0x80B, 0));
            }
            else
            {
                Write(cpu, ApicOffset.Eoi, 0);
            }
        }
    }

    [Theory]
    [InlineData(AccelKind.Avic, ExitReason.AvicNoAccel, false)]
    [InlineData(AccelKind.Apicv, ExitReason.ApicWrite, true)]
    public void The_tracer_sees_exits_deliveries_and_eois(AccelKind accel, ExitReason trapReason, bool posted)
    {
        using var vm = EnabledVm(accel);
        var tracer = new RecordingTracer();
        vm.Tracer = tracer;
        var cpu = vm.Vcpus[0];

        Write(cpu, ApicOffset.Ldr, 0x0100_0000);
        _ = Read(cpu, ApicOffset.Tmcct);
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress(0), 0x5A));
        Assert.Equal([0x5A], TakeAll(cpu));
        Write(cpu, ApicOffset.Eoi, 0);

        var faultReason = accel == AccelKind.Avic ? ExitReason.AvicNoAccel : ExitReason.ApicAccess;
        Assert.Equal([(0, trapReason, ApicOffset.Ldr, true), (0, faultReason, ApicOffset.Tmcct, false)], tracer.Exits);
        Assert.Equal([(0, 0x5A, posted)], tracer.Deliveries);
        Assert.Equal([(0, 0x5A)], tracer.Eois);
    }
}
