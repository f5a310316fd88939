// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Hypervisor;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// KVM's inhibit policy in the hypervisor room: the inputs are counted per APIC change and always equal
/// what a freshly built map says; a bring-up costs no map rebuild on the writer's thread; the toggle's
/// kicks reach the embedder outside the policy's lock.
/// </summary>
public class InhibitPolicyTests
{
    public static TheoryData<AccelKind, bool, bool> Configurations()
    {
        var data = new TheoryData<AccelKind, bool, bool>();
        foreach (var accel in Backends.Assisted)
        {
            data.Add(accel, false, true);
            data.Add(accel, false, false);
            data.Add(accel, true, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Counted_inputs_equal_a_rebuilt_map_after_every_change(AccelKind accel, bool use32BitIds, bool kvmProfile)
    {
        // Random ID, LDR, DFR, SVR and APIC_BASE writes (the inputs of kvm_recalculate_apic_map), with
        // values drawn from a few so that aliases and collisions come and go; fixed seed per case.
        var options = new VmOptions
        {
            Cpus = 6,
            Accel = accel,
            Profile = kvmProfile ? ApicProfile.Kvm : ApicProfile.Architectural,
            X2ApicApi = use32BitIds ? X2ApicApiFlags.Use32BitIds : X2ApicApiFlags.None,
        };
        using var vm = new VirtualMachine(options);
        var policy = Assert.IsType<ApicvInhibitPolicy>(vm.InhibitPolicy);
        var random = new Random(12 + (int)accel * 3 + (use32BitIds ? 1 : 0));
        var seen = new HashSet<(bool, bool, bool)>();
        for (int step = 0; step < 3000; step++)
        {
            var cpu = vm.Vcpus[random.Next(vm.Vcpus.Count)];
            switch (random.Next(6))
            {
                case 0:
                    cpu.MmioWrite(cpu.Apic.BaseAddress + ApicOffset.Id, (uint)random.Next(8) << 24, 4);
                    break;
                case 1:
                    cpu.MmioWrite(cpu.Apic.BaseAddress + ApicOffset.Ldr, (uint)(random.Next(3) == 0 ? random.Next(256) : 1 << random.Next(8)) << 24, 4);
                    break;
                case 2:
                    cpu.MmioWrite(cpu.Apic.BaseAddress + ApicOffset.Dfr, random.Next(3) switch { 0 => 0x0FFF_FFFFu, 1 => 0x5FFF_FFFFu, _ => 0xFFFF_FFFFu }, 4);
                    break;
                case 3:
                    cpu.MmioWrite(cpu.Apic.BaseAddress + ApicOffset.Svr, random.Next(2) == 0 ? 0xFFu : 0x1FFu, 4);
                    break;
                case 4:
                    // xAPIC <-> disabled <-> x2APIC, as the guest may move (invalid transitions #GP).
                    ulong mode = random.Next(3) switch { 0 => 0, 1 => ApicBase.EnableBit, _ => ApicBase.EnableBit | ApicBase.ExtdBit };
                    cpu.TryWriteMsr(ApicBase.Msr, ApicBase.DefaultAddress | mode | (cpu.Apic.ApicBaseMsr & ApicBase.BspBit));
                    break;
                default:
                    if (random.Next(2) == 0)
                    {
                        cpu.Apic.Reset();
                    }
                    else
                    {
                        cpu.Apic.InitReset();
                    }

                    break;
            }

            var fresh = ApicMap.Build([.. vm.Vcpus.Select(v => v.Apic)], use32BitIds, options.Profile.LogicalMapShortcuts);
            var counted = policy.Inputs;
            Assert.True(
                (counted.ApicIdModified, counted.PhysicalIdAliased, counted.LogicalIdAliased) == (fresh.ApicIdModified, fresh.PhysicalIdAliased, fresh.LogicalIdAliased),
                $"step {step}: counted {(counted.ApicIdModified, counted.PhysicalIdAliased, counted.LogicalIdAliased)}, rebuilt {(fresh.ApicIdModified, fresh.PhysicalIdAliased, fresh.LogicalIdAliased)}");
            seen.Add((fresh.ApicIdModified, fresh.PhysicalIdAliased, fresh.LogicalIdAliased));
        }

        // The walk visited both answers of every fact (so the comparison could have failed each way).
        Assert.Contains(seen, s => s.Item1);
        Assert.Contains(seen, s => !s.Item1);
        Assert.Contains(seen, s => s.Item3);
        Assert.Contains(seen, s => !s.Item3);
        if (!use32BitIds)
        {
            Assert.Contains(seen, s => s.Item2);
        }

        Assert.Contains(seen, s => !s.Item2);
    }

    [Theory]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.Avic)]
    [InlineData(AccelKind.X2Avic)]
    public void Bringing_up_4096_vcpus_rebuilds_no_map(AccelKind accel)
    {
        // Issue 12 item 7: SVR and LDR on every vCPU used to rebuild the whole map (O(n)) on every
        // write to re-evaluate the inhibits: 8192 rebuilds. The map is now rebuilt once, lazily.
        using var vm = new VirtualMachine(new VmOptions { Cpus = 4096, Accel = accel });
        long before = vm.Router.MapRebuilds;
        foreach (var v in vm.Vcpus)
        {
            v.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Svr, 0x1FF, 4);
            v.MmioWrite(ApicBase.DefaultAddress + ApicOffset.Ldr, (1u << (v.Index & 7)) << 24, 4);
        }

        Assert.Equal(before, vm.Router.MapRebuilds);

        // 4096 xAPIC IDs alias (8 bits), so every assist is inhibited, as a rebuilt map says.
        Assert.True(vm.InhibitPolicy!.Inhibits.HasFlag(ApicvInhibit.PhysicalIdAliased));
        Assert.False(vm.Accelerator.IsActive);
        Assert.Equal(16, vm.DeliverMsi(Msi.EncodeAddress(5), 0x41)); // ID 5: vCPUs 5, 261, ... 3845; one rebuild
        Assert.Equal(before + 1, vm.Router.MapRebuilds);
        Assert.True(vm.Router.Map.PhysicalIdAliased);
    }

    [Theory]
    [InlineData(AccelKind.Apicv)]
    [InlineData(AccelKind.Avic)]
    [InlineData(AccelKind.X2Avic)]
    public void A_kick_handler_that_runs_a_vcpu_changing_its_apic_does_not_deadlock_a_toggle(AccelKind accel)
    {
        // An embedder's VcpuKicked handler hands the kicked vCPU to its own thread and waits for it;
        // that vCPU rewrites its LDR, which the inhibit policy must count. Raised under the policy's
        // lock, the handler would wait for a thread that waits for the lock.
        using var vm = EnabledVm(accel, cpus: 2);
        Assert.True(vm.Accelerator.IsActive);
        bool? completed = null;
        vm.VcpuKicked += index =>
        {
            if (index != 0 || completed is not null)
            {
                return;
            }

            var run = Task.Run(() => Write(vm.Vcpus[0], ApicOffset.Ldr, 0x0100_0000));
            completed = run.Wait(TimeSpan.FromSeconds(10));
        };

        Write(vm.Vcpus[1], ApicOffset.Id, 0x0500_0000); // APIC_ID_MODIFIED: the assist toggles off, kicks all

        Assert.False(vm.Accelerator.IsActive);
        Assert.True(completed, "the kicked vCPU's LDR write waited for the toggle's lock");
        Assert.Equal(0x0100_0000u, vm.Vcpus[0].Apic.Ldr);
    }

    [Fact]
    public void A_kick_handler_may_call_back_into_the_vm_on_the_toggling_thread()
    {
        // The handler re-enters the VM on the same thread (it runs the kicked vCPU inline, which
        // changes its APIC and so re-evaluates the inhibits): every toggle still completes in order.
        using var vm = EnabledVm(AccelKind.Apicv, cpus: 2);
        int reentered = 0;
        vm.VcpuKicked += index =>
        {
            if (index == 1 && reentered++ == 0)
            {
                Write(vm.Vcpus[1], ApicOffset.Id, 0x0100_0000); // the ID back: reactivates
            }
        };

        Write(vm.Vcpus[1], ApicOffset.Id, 0x0500_0000);

        Assert.True(vm.Accelerator.IsActive);
        Assert.Equal(ApicvInhibit.None, vm.InhibitPolicy!.Inhibits);
        Assert.Equal(2, vm.InhibitPolicy.Toggles);
    }
}
