// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// A VMM-side IOAPIC (KVM_CAP_SPLIT_IRQCHIP) in a 288-vCPU x2APIC VM with KVM_X2APIC_API_USE_32BIT_IDS:
/// level interrupts and MSIs reach vCPUs above 255 (the IOAPIC's extended destination in entry
/// bits 55:49, Linux virt_destid_8_14; MSI address-hi), and their EOIs exit to the VMM
/// (KVM_EXIT_IOAPIC_EOI, kvm_ioapic_send_eoi) once each, under every backend.
/// </summary>
public class SplitIrqchipTests
{
    private static VirtualMachine Vm(AccelKind accel, bool split)
    {
        var vm = new VirtualMachine(new VmOptions
        {
            Cpus = 288,
            Accel = accel,
            IoApicVersion = 0x20,
            ExtendedDestinationId = true,
            SplitIrqchip = split,
            X2ApicApi = X2ApicApiFlags.Use32BitIds | X2ApicApiFlags.DisableBroadcastQuirk,
        });
        foreach (var v in vm.Vcpus)
        {
            v.EnterX2Apic();
            v.SoftwareEnable();
        }

        return vm;
    }

    // Destination 287 = 0x11F: bits 7:0 (0x1F) in entry bits 63:56, bits 14:8 (0x1) in entry bits 55:49.
    private static RedirectionEntry LevelTo287(byte vector) =>
        new(RedirectionEntry.Create(vector, trigger: TriggerMode.Level, destination: 0x1F).Raw | (1ul << 49));

    [Theory]
    [MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]
    public void Level_ioapic_interrupt_reaches_vcpu_287_and_its_eoi_exits_to_the_vmm(AccelKind accel)
    {
        using var vm = Vm(accel, split: true);
        vm.IoApic.WriteEntry(7, LevelTo287(0x61));
        for (int round = 1; round <= 2; round++)
        {
            vm.IoApic.SetLine(7, true);
            vm.IoApic.SetLine(7, false); // Remote IRR holds the entry until the EOI
            Assert.True(vm.IoApic.GetRemoteIrr(7));
            Assert.Equal([287], TestGuest.Receivers(vm, 0x61)); // taken and EOIed
            Assert.False(vm.IoApic.GetRemoteIrr(7));
            Assert.Equal(round, vm.Vcpus[287].Exits[ExitReason.IoApicEoi]);
        }

        // An edge MSI to vCPU 287 through address-hi: no EOI exit, since the vector is not IOAPIC-handled.
        Assert.Equal(1, vm.DeliverMsi(Msi.EncodeAddress32(287), 0x62));
        Assert.Equal([287], TestGuest.Receivers(vm, 0x62));
        Assert.Equal(2, vm.Vcpus[287].Exits[ExitReason.IoApicEoi]);
        Assert.Equal(0, vm.Vcpus[0].Exits[ExitReason.IoApicEoi]);
    }

    [Theory]
    [MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]
    public void The_in_kernel_ioapic_delivers_to_the_8_bit_destination_and_its_eois_do_not_exit(AccelKind accel)
    {
        using var vm = Vm(accel, split: false);
        vm.IoApic.WriteEntry(7, LevelTo287(0x61));
        vm.IoApic.SetLine(7, true);
        vm.IoApic.SetLine(7, false);
        Assert.Equal([0x1F], TestGuest.Receivers(vm, 0x61));
        Assert.False(vm.IoApic.GetRemoteIrr(7));
        Assert.Equal(0, vm.Vcpus[0x1F].Exits[ExitReason.IoApicEoi]);
    }

    // A level-triggered MSI (data bit 15) to vCPU 287 through address-hi (32-bit IDs).
    private static readonly ulong To287 = Msi.EncodeAddress32(287);
    private const uint LevelMsi = 0xC000;

    [Theory]
    [MemberData(nameof(Backends.Each), MemberType = typeof(Backends))]
    public void A_level_msi_route_at_a_reserved_ioapic_gsi_puts_its_vector_in_the_eoi_exit_set(AccelKind accel)
    {
        using var vm = Vm(accel, split: true);
        vm.SetMsiRoute(5, To287, LevelMsi | 0x63);

        Assert.Equal(1, vm.SignalGsi(5));
        Assert.Equal([287], TestGuest.Receivers(vm, 0x63));

        Assert.True(vm.Vcpus[287].Apic.IsIoApicHandled(0x63));
        Assert.Equal(1, vm.Vcpus[287].Exits[ExitReason.IoApicEoi]);
        Assert.False(vm.Vcpus[0].Apic.IsIoApicHandled(0x63));
    }

    [Theory]
    [InlineData(VirtualMachine.ReservedIoApicPins, LevelMsi | 0x64, true)]   // beyond the reserved pins: not scanned
    [InlineData(5, 0x64u, true)]                                             // edge
    [InlineData(5, LevelMsi | 0x64, false)]                                  // in-kernel irqchip: no VMM EOIs
    public void Other_msi_routes_make_no_eoi_exit(int gsi, uint data, bool split)
    {
        using var vm = Vm(AccelKind.None, split);
        vm.SetMsiRoute(gsi, To287, data);

        Assert.Equal(1, vm.SignalGsi(gsi));
        Assert.Equal([287], TestGuest.Receivers(vm, 0x64));

        Assert.False(vm.Vcpus[287].Apic.IsIoApicHandled(0x64));
        Assert.Equal(0, vm.Vcpus[287].Exits[ExitReason.IoApicEoi]);
    }

    [Fact]
    public void Removing_a_route_takes_its_vector_out_of_the_set_and_its_gsi_delivers_nothing()
    {
        using var vm = Vm(AccelKind.None, split: true);
        vm.SetMsiRoute(5, To287, LevelMsi | 0x63);
        Assert.Equal(1, vm.SignalGsi(5));
        Assert.Equal([287], TestGuest.Receivers(vm, 0x63));

        Assert.True(vm.RemoveMsiRoute(5));
        Assert.False(vm.RemoveMsiRoute(5));
        Assert.Equal(-1, vm.SignalGsi(5));
        vm.Vcpus[287].Take(); // evaluates: the rescan runs
        Assert.False(vm.Vcpus[287].Apic.IsIoApicHandled(0x63));
    }

    [Fact]
    public void Bad_routes_are_refused_naming_the_gsi()
    {
        using var vm = Vm(AccelKind.None, split: true);
        Assert.Throws<ArgumentOutOfRangeException>(() => vm.SetMsiRoute(-1, To287, 0x63));
        Assert.Throws<ArgumentOutOfRangeException>(() => vm.SetMsiRoute(VirtualMachine.MaxGsi, To287, 0x63));
        var ex = Assert.Throws<ArgumentException>(() => vm.SetMsiRoute(7, 0xFED0_0000, 0x63));
        Assert.Contains("GSI 7", ex.Message, StringComparison.Ordinal);
        Assert.Empty(vm.MsiRoutes);
    }
}
