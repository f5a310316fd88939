// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using static VirtualApic.Tests.Support.AssistTestKit;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// The register table's per-assist columns against the manuals' and KVM's lists, written out here
/// independently of the table, and the models against the columns: every slot, every path.
/// </summary>
public class AssistColumnTests
{
    private const AssistAccess F = AssistAccess.FaultLike;
    private const AssistAccess A = AssistAccess.Accelerated;
    private const AssistAccess T = AssistAccess.TrapLike;
    private const AssistAccess V = AssistAccess.Virtualized;

    private static readonly int[] Lvts = [0x320, 0x330, 0x340, 0x350, 0x360, 0x370];

    private static bool IsIsrTmrIrr(int offset) => offset is >= 0x100 and <= 0x270;

    // SDM vol. 3C 30.4.2: reads virtualized with APIC-register virtualization.
    private static bool SdmVirtualizedRead(int offset) =>
        offset is 0x20 or 0x30 or 0x80 or 0xB0 or 0xD0 or 0xE0 or 0xF0 or 0x280 or 0x300 or 0x310 or 0x380 or 0x3E0
        || IsIsrTmrIrr(offset) || Lvts.Contains(offset);

    // SDM vol. 3C 30.4.3.1/30.4.3.2: virtualized writes; TPR virtualization, EOI virtualization and IPI
    // virtualization (ICR low; ICR high only clears bits 23:0) finish in the processor, the others
    // end in an APIC-write VM exit (30.4.3.3).
    private static AssistAccess SdmWrite(int offset) => offset switch
    {
        0x80 or 0x310 => A,
        0xB0 or 0x300 => V,
        0x20 or 0xD0 or 0xE0 or 0xF0 or 0x280 or 0x380 or 0x3E0 => T,
        _ => Lvts.Contains(offset) ? T : F,
    };

    // AMD AVIC (APM vol. 2 15.29.3, kvm-reference.md 6.2): the backing-page registers are read without
    // an exit (TMCCT, APR, RRR, EOI, LVT CMCI and reserved offsets fault).
    private static bool AvicAcceleratedRead(int offset) =>
        offset is 0x20 or 0x30 or 0x80 or 0xA0 or 0xD0 or 0xE0 or 0xF0 or 0x280 or 0x300 or 0x310 or 0x380 or 0x3E0
        || IsIsrTmrIrr(offset) || Lvts.Contains(offset);

    // KVM is_avic_unaccelerated_access_trap: ID, EOI, RRR, LDR, DFR, SVR, ESR, ICR, the six LVTs,
    // TMICT, TDCR trap; of these EOI (edge) and ICR (fixed IPIs) are done in hardware (APM 15.29.9);
    // TPR and ICR2 writes are accelerated; everything else faults.
    private static AssistAccess AvicWrite(int offset) => offset switch
    {
        0x80 or 0x310 => A,
        0xB0 or 0x300 => V,
        0x20 or 0xC0 or 0xD0 or 0xE0 or 0xF0 or 0x280 or 0x380 or 0x3E0 => T,
        _ => Lvts.Contains(offset) ? T : F,
    };

    // KVM avic_set_x2apic_msr_interception and vmx_update_msr_bitmap_x2apic: reads of the x2APIC
    // readable set pass through except TMCCT; writes pass through for TPR, EOI, ICR and SELF_IPI only.
    private static AssistAccess MsrRead(int offset) =>
        RegisterSpec.Readable(offset, x2Apic: true, cmci: true) && offset != 0x390 ? A : F;

    private static AssistAccess MsrWrite(int offset) => offset switch
    {
        0x80 => A,
        0xB0 or 0x300 or 0x3F0 => V,
        _ => F,
    };

    private static (AssistAccess Read, AssistAccess Write) Expected(AssistPath path, int offset) => path switch
    {
        AssistPath.AvicMmio => (AvicAcceleratedRead(offset) ? A : F, AvicWrite(offset)),
        AssistPath.ApicvMmio => (SdmVirtualizedRead(offset) ? A : F, SdmWrite(offset)),
        _ => (MsrRead(offset), MsrWrite(offset)),
    };

    public static TheoryData<AssistPath> Paths => new(Enum.GetValues<AssistPath>());

    [Theory]
    [MemberData(nameof(Paths))]
    public void The_column_agrees_with_the_manuals_and_kvm_at_every_slot(AssistPath path)
    {
        for (int offset = 0; offset < 0x400; offset += 0x10)
        {
            var (read, write) = Expected(path, offset);
            Assert.True(read == ApicRegisterTable.Handling(path, offset, write: false), $"{path} read of {RegisterSpec.Name(offset)}");
            Assert.True(write == ApicRegisterTable.Handling(path, offset, write: true), $"{path} write of {RegisterSpec.Name(offset)}");
        }

        Assert.Equal(F, ApicRegisterTable.Handling(path, 0x400, write: false));
        Assert.Equal(F, ApicRegisterTable.Handling(path, 0xFF0, write: true));
    }

    public static TheoryData<AssistPath, int> EverySlotEveryPath()
    {
        var data = new TheoryData<AssistPath, int>();
        foreach (var path in Enum.GetValues<AssistPath>())
        {
            for (int offset = 0; offset < 0x400; offset += 0x10)
            {
                data.Add(path, offset);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EverySlotEveryPath))]
    public void The_model_does_what_its_column_says(AssistPath path, int offset)
    {
        var accel = path switch
        {
            AssistPath.AvicMmio => AccelKind.Avic,
            AssistPath.X2AvicMsr => AccelKind.X2Avic,
            _ => AccelKind.Apicv,
        };
        bool msr = path is AssistPath.X2AvicMsr or AssistPath.ApicvMsr;
        var faultReason = path switch
        {
            AssistPath.AvicMmio => ExitReason.AvicNoAccel,
            AssistPath.ApicvMmio => ExitReason.ApicAccess,
            _ => ExitReason.MsrWrite,
        };

        using var vm = EnabledVm(accel);
        if (msr)
        {
            EnterX2Apic(vm);
        }

        var apic = vm.Vcpus[0].Apic;
        var model = vm.Accelerator;
        Assert.True(model.IsActive);
        uint msrIndex = ApicOffset.ToMsr(offset);

        var read = msr ? model.ReadX2ApicMsr(apic, msrIndex, out _) : model.ReadMmio(apic, offset, 4, out _);
        bool servable = ApicRegisterTable.Handling(path, offset, write: false) == A && apic.IsReadable(offset);
        Assert.Equal(servable, read.Outcome == AssistOutcome.Completed);
        Assert.True(servable || !read.TrapLike, "a read never traps");

        // A write of 0x10: vector 16, a legal fixed vector for the ICR and SELF_IPI.
        var write = msr ? model.WriteX2ApicMsr(apic, msrIndex, 0x10) : model.WriteMmio(apic, offset, 0x10, 4);
        switch (ApicRegisterTable.Handling(path, offset, write: true))
        {
            case AssistAccess.FaultLike:
                Assert.True(write.IsExit && !write.TrapLike && write.Reason == faultReason, $"{write.Reason}");
                break;
            case AssistAccess.TrapLike:
                Assert.True(write.IsExit && write.TrapLike, $"{write.Reason}");
                Assert.Equal(0x10u, apic.Page.Read(offset)); // the store landed before the exit
                break;
            case AssistAccess.Accelerated:
                Assert.Equal(AssistOutcome.Completed, write.Outcome);
                break;
            default:
                // Virtualized: done in hardware, or an exit the hypervisor finishes, never the fault of the access.
                Assert.False(write.IsExit && !write.TrapLike && write.Reason == faultReason, $"{write.Reason}");
                break;
        }
    }

    [Fact]
    public void The_trap_like_write_tests_cover_every_trap_like_register_of_the_column()
    {
        // AvicNoAccelTests and ApicvTests replay a trap-like write of each register and compare it
        // with emulation (the ReplayShadow rule); a register added to a column must join them.
        var avicTraps = ApicRegisterTable.Rows.Where(r => r.AvicMmio.Write == T).Select(r => r.Offset).Order();
        var apicvTraps = ApicRegisterTable.Rows.Where(r => r.ApicvMmio.Write == T).Select(r => r.Offset).Order();
        Assert.Equal(avicTraps, AvicNoAccelTests.TrapWrites.Select(row => row.Data.Item1).Order());
        Assert.Equal(apicvTraps, ApicvTests.TrapWrites.Select(row => row.Data.Item1).Order());
    }
}
