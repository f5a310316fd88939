// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// The hardware paths the other assist tests leave out: AVIC's broadcast IPIs and x2AVIC's logical
/// (cluster) IPIs through the physical table (APM 15.29.9.1, 15.29.10), and APICv's narrow loads
/// served from the virtual-APIC page (SDM 30.4.1: a read of 1, 2 or 4 bytes inside one register).
/// </summary>
public class AssistIpiAndReadEdgeTests
{
    private const ulong X2Logical = 1ul << 11;

    private static AvicModel Model(VirtualMachine vm) => Assert.IsType<AvicModel>(vm.Accelerator);

    private static List<int>[] TakeEach(VirtualMachine vm) => [.. vm.Vcpus.Select(TakeAll)];

    [Theory]
    [InlineData(DestinationShorthand.AllExcludingSelf, false)]
    [InlineData(DestinationShorthand.AllIncludingSelf, true)]
    public void An_avic_broadcast_shorthand_rings_each_running_target_without_an_exit(DestinationShorthand shorthand, bool self)
    {
        using var vm = EnabledVm(AccelKind.Avic, cpus: 3);
        long doorbells = Model(vm).Doorbells;

        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x51, shorthand: shorthand));

        Assert.Equal(0, vm.Vcpus[0].Exits.Total);
        Assert.Equal(doorbells + (self ? 3 : 2), Model(vm).Doorbells);
        var taken = TakeEach(vm);
        Assert.Equal(self ? [0x51] : [], taken[0]);
        Assert.Equal([0x51], taken[1]);
        Assert.Equal([0x51], taken[2]);
    }

    [Fact]
    public void An_avic_physical_broadcast_reaches_every_vcpu_and_a_halted_one_makes_the_sender_exit()
    {
        using var vm = EnabledVm(AccelKind.Avic, cpus: 3);
        vm.Vcpus[2].Hlt();
        long kicks = vm.Vcpus[2].Kicks;

        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x52, destinationHigh: 0xFFu << 24));

        Assert.Equal(1, vm.Vcpus[0].Exits[ExitReason.AvicIncompleteIpi]);
        Assert.True(vm.Vcpus[2].Kicks > kicks);
        Assert.All(TakeEach(vm), taken => Assert.Equal([0x52], taken));
    }

    [Fact]
    public void An_x2avic_logical_ipi_reaches_the_cluster_members_of_its_mask()
    {
        using var vm = EnabledVm(AccelKind.X2Avic, cpus: 3);
        EnterX2Apic(vm);
        long doorbells = Model(vm).Doorbells;

        Assert.True(vm.Vcpus[0].TryWriteMsr(0x830, (0x6ul << 32) | X2Logical | 0x53)); // cluster 0, IDs 1 and 2

        Assert.Equal(0, vm.Vcpus[0].Exits.Total);
        Assert.Equal(doorbells + 2, Model(vm).Doorbells);
        var taken = TakeEach(vm);
        Assert.Empty(taken[0]);
        Assert.Equal([0x53], taken[1]);
        Assert.Equal([0x53], taken[2]);
    }

    [Theory]
    [InlineData(0x0000_0012ul)] // cluster 0, IDs 1 and 4: no vCPU 4
    [InlineData(0x0000_000Aul)] // cluster 0, IDs 1 and 3: one past the table
    [InlineData(0x0001_0001ul)] // cluster 1, ID 16: beyond the VM
    public void An_x2avic_logical_ipi_naming_a_missing_id_exits_and_is_emulated_to_the_rest(ulong destination)
    {
        using var vm = EnabledVm(AccelKind.X2Avic, cpus: 3);
        EnterX2Apic(vm);

        Assert.True(vm.Vcpus[0].TryWriteMsr(0x830, (destination << 32) | X2Logical | 0x54));

        Assert.Equal(1, vm.Vcpus[0].Exits[ExitReason.AvicIncompleteIpi]);
        var taken = TakeEach(vm);
        Assert.Empty(taken[0]);
        Assert.Equal(destination < 0x1_0000 ? [0x54] : [], taken[1]);
        Assert.Empty(taken[2]);
    }

    [Fact]
    public void An_avic_cluster_broadcast_is_not_in_the_logical_table_and_exits()
    {
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        foreach (var v in vm.Vcpus)
        {
            Write(v, ApicOffset.Dfr, 0x0FFF_FFFF);
        }

        Write(vm.Vcpus[1], ApicOffset.Ldr, 0x1100_0000); // cluster 1, bit 0
        vm.Vcpus[0].Exits.Clear();

        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x55, destinationMode: DestinationMode.Logical, destinationHigh: 0xF1u << 24));

        Assert.Equal(1, vm.Vcpus[0].Exits[ExitReason.AvicIncompleteIpi]);
    }

    [Fact]
    public void An_avic_cluster_ipi_uses_the_entry_of_its_cluster_and_bit()
    {
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        foreach (var v in vm.Vcpus)
        {
            Write(v, ApicOffset.Dfr, 0x0FFF_FFFF);
        }

        Write(vm.Vcpus[1], ApicOffset.Ldr, 0x2400_0000); // cluster 2, bit 2: index 10
        vm.Vcpus[0].Exits.Clear();

        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x56, destinationMode: DestinationMode.Logical, destinationHigh: 0x24u << 24));

        Assert.Equal(0, vm.Vcpus[0].Exits.Total);
        Assert.Equal([0x56], TakeAll(vm.Vcpus[1]));
    }

    [Theory]
    [InlineData(0x320, 1, 0xECul)]
    [InlineData(0x321, 1, 0x00ul)]
    [InlineData(0x322, 1, 0x02ul)]
    [InlineData(0x320, 2, 0x00ECul)]
    [InlineData(0x322, 2, 0x0002ul)]
    [InlineData(0x320, 4, 0x0002_00ECul)]
    public void An_apicv_narrow_read_is_served_from_the_page_with_its_byte_lanes(int offset, int size, ulong expected)
    {
        using var vm = EnabledVm(AccelKind.Apicv, cpus: 1);
        var cpu = vm.Vcpus[0];
        Write(cpu, ApicOffset.LvtTimer, 0x0002_00EC);
        cpu.Exits.Clear();

        Assert.Equal(expected, Read(cpu, offset, size));
        Assert.Equal(0, cpu.Exits.Total);
    }

    [Theory]
    [InlineData(0x322, 4)] // straddles the register
    [InlineData(0x323, 2)]
    [InlineData(0x320, 8)]
    public void An_apicv_read_that_leaves_the_register_exits_to_the_hypervisor(int offset, int size)
    {
        using var vm = EnabledVm(AccelKind.Apicv, cpus: 1);
        var cpu = vm.Vcpus[0];
        cpu.Exits.Clear();

        Read(cpu, offset, size);

        Assert.Equal(1, cpu.Exits[ExitReason.ApicAccess]);
    }
    [Fact]
    public void Vector_16_is_the_lowest_vector_avic_sends_in_hardware()
    {
        using var vm = EnabledVm(AccelKind.Avic, cpus: 2);
        long doorbells = Model(vm).Doorbells;

        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x10, destinationHigh: 1u << 24));

        Assert.Equal(0, vm.Vcpus[0].Exits.Total);
        Assert.Equal(doorbells + 1, Model(vm).Doorbells);
        Assert.Equal([0x10], TakeAll(vm.Vcpus[1]));
    }
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Two_halted_targets_of_one_ipi_still_make_the_sender_exit(bool logical)
    {
        // Each not-running target is a reason to exit; two of them must not cancel out.
        using var vm = EnabledVm(AccelKind.Avic, cpus: 3);
        Write(vm.Vcpus[1], ApicOffset.Ldr, 0x0200_0000);
        Write(vm.Vcpus[2], ApicOffset.Ldr, 0x0400_0000);
        vm.Vcpus[1].Hlt();
        vm.Vcpus[2].Hlt();
        vm.Vcpus[0].Exits.Clear();
        var icr = logical
            ? Icr.Create(0x57, destinationMode: DestinationMode.Logical, destinationHigh: 0x06u << 24)
            : Icr.Create(0x57, shorthand: DestinationShorthand.AllExcludingSelf);

        SendXApicIpi(vm.Vcpus[0], icr);

        Assert.Equal(1, vm.Vcpus[0].Exits[ExitReason.AvicIncompleteIpi]);
        Assert.Equal([0x57], TakeAll(vm.Vcpus[1]));
        Assert.Equal([0x57], TakeAll(vm.Vcpus[2]));
    }

    [Fact]
    public void An_avic_physical_ipi_one_past_the_table_exits_and_reaches_nobody()
    {
        using var vm = EnabledVm(AccelKind.Avic, cpus: 3);

        SendXApicIpi(vm.Vcpus[0], Icr.Create(0x58, destinationHigh: 3u << 24));

        Assert.Equal(1, vm.Vcpus[0].Exits[ExitReason.AvicIncompleteIpi]);
        Assert.All(TakeEach(vm), Assert.Empty);
    }
}
