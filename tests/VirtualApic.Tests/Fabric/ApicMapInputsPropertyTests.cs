// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Hypervisor;
using VirtualApic.Profiles;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// The APIC map is built from copies of the ID, LDR, DFR and SVR enable bit that each APIC takes at
/// its map changes (<c>LocalApic.MapInputsChanged</c>), not from the register page. A path that
/// changed one of them in the page without that call would leave the map routing by the old value
/// for good: after any sequence of the ways a guest or host changes them (xAPIC and x2APIC writes,
/// APIC_BASE transitions, RESET, INIT, snapshot restore, trap-like replays of writes that already
/// landed in the page), under both profiles, the copies must equal the page.
/// </summary>
public class ApicMapInputsPropertyTests
{
    private const ulong Mmio = ApicBase.DefaultAddress;

    private static readonly int[] MapRegisters = [ApicOffset.Id, ApicOffset.Ldr, ApicOffset.Dfr, ApicOffset.Svr];

    private static readonly uint[] Dfrs = [0xFFFF_FFFF, 0x0FFF_FFFF, 0x5FFF_FFFF];

    private static readonly Gen<(int Op, int Cpu, uint Value)> Step = Gen.Select(Gen.Int[0, 10], Gen.Int[0, 2], Gen.UInt);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_maps_copies_of_the_registers_follow_every_change(bool architectural)
    {
        Step.Array[1, 40].Sample(steps =>
        {
            using var vm = new VirtualMachine(new VmOptions { Cpus = 3, Profile = architectural ? ApicProfile.Architectural : ApicProfile.Kvm });
            var saved = VmSnapshot.Capture(vm);
            foreach (var (op, cpu, value) in steps)
            {
                Apply(vm, ref saved, op, vm.Vcpus[cpu], value);
                foreach (var v in vm.Vcpus)
                {
                    var apic = v.Apic;
                    Assert.Equal(apic.XApicId, apic.MapXApicId);
                    Assert.Equal(apic.Ldr, apic.MapLdr);
                    Assert.Equal(apic.Dfr, apic.MapDfr);
                    Assert.Equal(apic.IsSoftwareEnabled, apic.MapSoftwareEnabled);
                }
            }

            // And so the router's map is the one the registers describe.
            var map = vm.Router.Map;
            foreach (var v in vm.Vcpus)
            {
                var apic = v.Apic;
                if (apic.IsHardwareEnabled && map.PhysicalCount(apic.IsX2Apic ? apic.X2ApicId : apic.XApicId) == 1)
                {
                    Assert.Same(apic, map.Physical(apic.IsX2Apic ? apic.X2ApicId : apic.XApicId));
                }
            }
        }, iter: 500);
    }

    private static void Apply(VirtualMachine vm, ref VmSnapshot saved, int op, Vcpu vcpu, uint value)
    {
        var apic = vcpu.Apic;
        int register = MapRegisters[value % 4];
        switch (op)
        {
            case 0: // the guest's xAPIC write of ID, LDR, DFR or SVR (ignored outside xAPIC mode)
                vcpu.MmioWrite(Mmio + (ulong)register, Value(register, value), 4);
                break;
            case 1: // the guest's x2APIC write of LDR (read-only: refused) or SVR
                vcpu.TryWriteMsr(ApicOffset.ToMsr(register), Value(register, value));
                break;
            case 2: // the guest's APIC_BASE: disabled, xAPIC or x2APIC (invalid transitions refused)
                vcpu.TryWriteMsr(ApicBase.Msr, ApicBase.DefaultAddress | (value % 3) switch
                {
                    0 => 0,
                    1 => ApicBase.EnableBit,
                    _ => ApicBase.EnableBit | ApicBase.ExtdBit,
                });
                break;
            case 3: // the host sets APIC_BASE without the guest's transition rules
                apic.RestoreApicBase(ApicBase.DefaultAddress | ((value & 1) != 0 ? ApicBase.EnableBit : 0) | ((value & 2) != 0 ? ApicBase.ExtdBit | ApicBase.EnableBit : 0));
                break;
            case 4:
                apic.Reset();
                break;
            case 5:
                vcpu.OnInit();
                break;
            case 6:
                saved = VmSnapshot.Capture(vm);
                break;
            case 7:
                saved.Restore(vm);
                break;
            case 8 when apic.Mode == ApicMode.XApic:
                // A trap-like write (AVIC_NOACCEL trap, APIC-write exit): the guest's MMIO store is in the
                // page first, then replayed. Only xAPIC mode has such stores: x2APIC writes are MSRs, and
                // a WRMSR to a read-only one faults before anything lands.
                apic.Page.Write(register, Value(register, value));
                ApicExitHandler.HandleTrapLikeWrite(apic, register);
                break;
            case 8:
                break;
            default: // a value kept by the xAPIC enable path: software-enable, then a flat or cluster LDR
                vcpu.MmioWrite(Mmio + ApicOffset.Svr, 0x1FF, 4);
                vcpu.MmioWrite(Mmio + ApicOffset.Ldr, 1u << (int)(24 + (value % 8)), 4);
                break;
        }
    }

    // Values that exercise the map: an ID below 4 so that APICs alias, DFRs of each model, SVR with
    // and without its enable bit.
    private static uint Value(int register, uint value) => register switch
    {
        ApicOffset.Id => (value >> 8) % 4 << 24,
        ApicOffset.Dfr => Dfrs[(value >> 8) % 3],
        ApicOffset.Svr => 0xFF | ((value >> 8) & 1) << 8,
        _ => value & 0xFF00_0000,
    };
}
