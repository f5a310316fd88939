// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Fabric;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The statistics that deliveries count (AVIC's doorbells, the router's slow-path deliveries) are
/// kept per vCPU (<c>Core/StripedCounters</c>), so vCPU threads that send at the same time share no
/// counter: none of their counts is lost, and no delivery writes a line another vCPU's delivery uses.
/// The router's map path counts nothing.
/// </summary>
public class ConcurrentStatisticsTests
{
    private const int PerThread = 100_000;

    [Theory]
    [InlineData(AccelKind.Avic)]
    [InlineData(AccelKind.X2Avic)]
    public void Ipis_sent_on_two_vcpu_threads_at_once_are_all_counted(AccelKind accel)
    {
        // Thread t owns vCPUs 2t (sender) and 2t + 1 (target): it sends, takes, EOIs and IRETs.
        // A VM-wide counter incremented without atomics loses counts here (the first form did).
        using var vm = AssistTestKit.EnabledVm(accel, cpus: 4);
        AssistTestKit.EnterX2Apic(vm);
        var avic = Assert.IsType<AvicModel>(vm.Accelerator);
        long slow = vm.Router.SlowPathDeliveries;
        long doorbells = avic.Doorbells;
        using var start = new Barrier(2);
        int[] taken = new int[2];
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            var sender = vm.Vcpus[2 * t];
            var target = vm.Vcpus[(2 * t) + 1];
            start.SignalAndWait();
            for (int i = 0; i < PerThread; i++)
            {
                sender.SendFixed(0x50, (uint)target.Index);
                taken[t] += target.TakeAndEoi() == 0x50 ? 1 : 0;
            }
        })).ToArray();
        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        Assert.Equal([PerThread, PerThread], taken);
        Assert.Equal(slow, vm.Router.SlowPathDeliveries);

        // Every target was running in guest mode: each IPI rang its doorbell (x2avic: the hardware's
        // own IPI; avic: the emulated one after the x2APIC ICR write exits).
        Assert.Equal(doorbells + (2 * PerThread), avic.Doorbells);
    }

    [Fact]
    public void Slow_path_deliveries_are_counted_for_vcpus_devices_and_strangers_alike()
    {
        using var vm = TestGuest.Vm(2, x2Apic: true);
        long slow = vm.Router.SlowPathDeliveries;
        var stranger = new LocalApic(7, isBsp: false, new ApicConfig(), new VirtualClock());
        var broadcast = InterruptMessage.Fixed(0x61, destination: 0xFF);

        // A broadcast is resolved by a scan of every APIC: from a vCPU, a device (no sender), and an
        // APIC of another VM, which names a vCPU index this router has no slot for.
        foreach (var source in new[] { vm.Vcpus[1].Apic, null, stranger })
        {
            Assert.Equal(2, vm.Router.Deliver(broadcast, source));
            Assert.Equal(0x61, vm.Vcpus[0].TakeAndEoi());
            Assert.Equal(0x61, vm.Vcpus[1].TakeAndEoi());
        }

        // A unicast the map resolves is not counted.
        vm.DeliverMsi(Msi.EncodeAddress(1), 0x62);
        Assert.Equal(0x62, vm.Vcpus[1].TakeAndEoi());

        Assert.Equal(slow + 3, vm.Router.SlowPathDeliveries);
        TestGuest.AssertQuiet(vm);
    }
}
