// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Fabric;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The statistics that deliveries count (the router's path counts, AVIC's doorbells) are kept per
/// vCPU (<c>Core/StripedCounters</c>), so vCPU threads that send at the same time share no counter:
/// none of their counts is lost, and no delivery writes a line another vCPU's delivery uses.
/// </summary>
public class ConcurrentStatisticsTests
{
    private const int PerThread = 100_000;

    [Theory]
    [InlineData(AccelKind.None)]
    [InlineData(AccelKind.Avic)]
    [InlineData(AccelKind.X2Avic)]
    public void Ipis_sent_on_two_vcpu_threads_at_once_are_all_counted(AccelKind accel)
    {
        // Thread t owns vCPUs 2t (sender) and 2t + 1 (target): it sends, takes, EOIs and IRETs.
        // A VM-wide counter incremented without atomics loses counts here (the first forms did).
        using var vm = new VirtualMachine(new VmOptions { Cpus = 4, Accel = accel });
        foreach (var v in vm.Vcpus)
        {
            v.EnterX2Apic();
            v.SoftwareEnable();
        }

        var avic = vm.Accelerator as AvicModel;
        var paths = vm.Router.PathCounts;
        long doorbells = avic?.Doorbells ?? 0;
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
        Assert.Equal(paths.Slow, vm.Router.PathCounts.Slow);
        if (accel == AccelKind.X2Avic)
        {
            // The hardware sends x2APIC IPIs itself (AVIC's physical table, not the router).
            Assert.Equal(paths.Fast, vm.Router.PathCounts.Fast);
        }
        else
        {
            Assert.Equal(paths.Fast + (2 * PerThread), vm.Router.PathCounts.Fast);
        }

        if (avic is not null)
        {
            // Every target was running in guest mode: each IPI rang its doorbell.
            Assert.Equal(doorbells + (2 * PerThread), avic.Doorbells);
        }
    }

    [Fact]
    public void Messages_without_a_sending_apic_of_the_vm_are_counted_with_the_devices()
    {
        using var vm = TestGuest.Vm(2, x2Apic: true);
        var before = vm.Router.PathCounts;

        vm.DeliverMsi(Msi.EncodeAddress(1), 0x61);
        Assert.Equal(0x61, vm.Vcpus[1].TakeAndEoi());

        // An APIC of another VM names a vCPU index this router has no slot for.
        var stranger = new LocalApic(7, isBsp: false, new ApicConfig(), new VirtualClock());
        Assert.Equal(1, vm.Router.Deliver(InterruptMessage.Fixed(0x62, destination: 1), stranger));
        Assert.Equal(0x62, vm.Vcpus[1].TakeAndEoi());

        // A broadcast is resolved by a scan of every APIC, whoever sends it.
        Assert.Equal(2, vm.Router.Deliver(InterruptMessage.Fixed(0x63, destination: 0xFF), source: null));
        Assert.Equal(0x63, vm.Vcpus[0].TakeAndEoi());
        Assert.Equal(0x63, vm.Vcpus[1].TakeAndEoi());

        Assert.Equal((before.Fast + 2, before.Slow + 1), vm.Router.PathCounts);
        TestGuest.AssertQuiet(vm);
    }
}
