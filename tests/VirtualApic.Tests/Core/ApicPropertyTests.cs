// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using CsCheck;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Snapshot;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>
/// Random guest programs against one vCPU: whatever the guest does, nothing throws and the
/// priority bookkeeping stays consistent with the page (design.md: "No guest action can crash the
/// host process"; SDM 11.8.3.1 for PPR).
/// </summary>
public class ApicPropertyTests
{
    public enum OpKind
    {
        ReadMsr,
        WriteMsr,
        HostWriteMsr,
        MmioRead,
        MmioWrite,
        Sti,
        Cli,
        Hlt,
        Take,
        Iret,
        WriteCr8,
        ReadCr8,
        Accept,
        Advance,
        SetLint,
        PicRaise,
    }

    /// <summary>One guest or device action. <c>A</c>, <c>B</c> and <c>C</c> are its operands.</summary>
    public readonly record struct Op(OpKind Kind, ulong A = 0, ulong B = 0, int C = 0)
    {
        public override string ToString() => Kind switch
        {
            OpKind.ReadMsr or OpKind.ReadCr8 or OpKind.Sti or OpKind.Cli or OpKind.Hlt or OpKind.Take or OpKind.Iret =>
                string.Create(CultureInfo.InvariantCulture, $"{Kind} 0x{A:x}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{Kind} 0x{A:x} 0x{B:x} {C}"),
        };
    }

    /// <summary>The VM configuration and how far the guest has booted before the random program starts.</summary>
    public sealed record Setup(bool Architectural, bool X2Apic, bool TscDeadline, bool Cmci, bool DirectedEoi, bool SplitIcr, long BusMhz, int Index, bool WaitForSipi, int Boot)
    {
        public ApicConfig Config => new()
        {
            Profile = Architectural ? ApicProfile.Architectural : ApicProfile.Kvm,
            X2ApicSupported = X2Apic,
            TscDeadlineSupported = TscDeadline,
            CmciSupported = Cmci,
            DirectedEoiSupported = DirectedEoi,
            X2ApicIcrSplit = SplitIcr,
            BusMhz = BusMhz,
        };
    }

    private static readonly Gen<bool> Mostly = Gen.Frequency((3, Gen.Const(true)), (1, Gen.Const(false)));

    private static readonly Gen<Setup> GenSetup =
        Gen.Select(Gen.Bool, Mostly, Mostly, Gen.Bool, Gen.Bool, Gen.Bool, Gen.OneOf(Gen.Const(100L), Gen.Const(1000L)), Gen.Int[0, 2], Gen.Bool, Gen.Int[0, 2],
            (arch, x2, tsc, cmci, deoi, split, bus, index, wait, boot) => new Setup(arch, x2, tsc, cmci, deoi, split, bus, index, wait, boot));

    /// <summary>Brings the vCPU to the setup's boot stage: 0 RESET, 1 xAPIC enabled with IF=1, 2 x2APIC enabled with IF=1.</summary>
    private static void Boot(Vcpu vcpu, Setup setup)
    {
        if (setup.Boot == 0)
        {
            return;
        }

        if (setup.Boot == 2 && setup.X2Apic)
        {
            Check(vcpu.TryWriteMsr(ApicBase.Msr, (ApicBase.DefaultAddress | ApicBase.EnableBit | ApicBase.ExtdBit) | (vcpu.Apic.ApicBaseMsr & ApicBase.BspBit)), "boot to x2APIC");
        }

        Check(vcpu.Apic.WriteRegister(ApicOffset.Svr, 0x1FF), "software enable");
        vcpu.SetRunState(VcpuRunState.Running);
        vcpu.Sti();
    }

    private static readonly uint[] InterestingMsrs = [0x808, 0x80B, 0x80B, 0x80F, 0x828, 0x830, 0x832, 0x835, 0x837, 0x838, 0x839, 0x83E, 0x83F, 0x80A];

    private static readonly int[] InterestingOffsets =
        [ApicOffset.Tpr, ApicOffset.Eoi, ApicOffset.Eoi, ApicOffset.Svr, ApicOffset.Esr, ApicOffset.Icr, ApicOffset.LvtTimer, ApicOffset.LvtLint0, ApicOffset.LvtError, ApicOffset.Tmict, ApicOffset.Tmcct, ApicOffset.Tdcr, ApicOffset.Ppr, ApicOffset.Isr + 0x20];

    private static readonly Gen<uint> GenMsr = Gen.Frequency(
        (6, Gen.Int[0, InterestingMsrs.Length - 1].Select(i => InterestingMsrs[i])),
        (4, Gen.UInt[0x800, 0x8FF]),
        (2, Gen.Const(0x1Bu)),
        (2, Gen.Const(0x6E0u)),
        (1, Gen.Const(0x10u)),
        (1, Gen.UInt));

    private static readonly Gen<ulong> GenApicBase =
        Gen.Select(Gen.Int[0, 3], Gen.Bool, Gen.Bool, Gen.Int[0, 3], (mode, bsp, move, junk) =>
            (move ? 0xFEC0_0000ul : ApicBase.DefaultAddress)
            | ((ulong)mode << 10)
            | (bsp ? ApicBase.BspBit : 0)
            | (junk == 0 ? 1ul << 9 : 0)
            | (junk == 1 ? 1ul << 60 : 0));

    private static readonly Gen<ulong> GenValue = Gen.Frequency(
        (4, Gen.ULong[0, 0x1FF]),
        (2, Gen.UInt.Select(u => (ulong)u)),
        (2, GenApicBase),
        (1, Gen.ULong),
        (2, Gen.OneOf(Gen.Const(0x1FFul), Gen.Const(0x2_0040ul), Gen.Const(0x4_0041ul), Gen.Const(0x700ul), Gen.Const(0x400ul), Gen.Const(0xBul))));

    private static readonly Gen<int> GenOffset = Gen.Frequency(
        (5, Gen.Int[0, InterestingOffsets.Length - 1].Select(i => InterestingOffsets[i])),
        (3, Gen.Int[0, 0x3F].Select(i => i << 4)),
        (1, Gen.Int[0, 0xFFF]));

    private static readonly Gen<int> GenDeliveryMode = Gen.Frequency((12, Gen.Const(0)), (3, Gen.Const(1)), (1, Gen.Int[2, 7]));

    // Bit 0 level trigger, bit 1 assert (mostly set), bit 2 logical destination.
    private static readonly Gen<int> GenMessageFlags = Gen.Frequency((5, Gen.Int[0, 7].Select(f => f | 2)), (1, Gen.Int[0, 7]));

    private static readonly Gen<int> GenSize = Gen.OneOf(Gen.Const(4), Gen.Const(4), Gen.Const(1), Gen.Const(2), Gen.Const(3), Gen.Const(8));

    private static readonly Gen<Op> GenOp = Gen.Frequency(
        (8, GenMsr.Select(m => new Op(OpKind.ReadMsr, m))),
        (12, Gen.Select(GenMsr, GenValue, (m, v) => new Op(OpKind.WriteMsr, m, v))),
        (1, Gen.Select(GenMsr, GenValue, (m, v) => new Op(OpKind.HostWriteMsr, m, v))),
        (6, Gen.Select(GenOffset, GenSize, (o, s) => new Op(OpKind.MmioRead, (ulong)o, 0, s))),
        (10, Gen.Select(GenOffset, GenValue, GenSize, (o, v, s) => new Op(OpKind.MmioWrite, (ulong)o, v, s))),
        (3, Gen.Const(new Op(OpKind.Sti))),
        (1, Gen.Const(new Op(OpKind.Cli))),
        (1, Gen.Const(new Op(OpKind.Hlt))),
        (10, Gen.Const(new Op(OpKind.Take))),
        (4, Gen.Const(new Op(OpKind.Iret))),
        (2, Gen.Frequency((4, Gen.ULong[0, 0xF]), (1, Gen.ULong)).Select(v => new Op(OpKind.WriteCr8, v))),
        (1, Gen.Const(new Op(OpKind.ReadCr8))),
        (14, Gen.Select(Gen.Byte, GenDeliveryMode, GenMessageFlags, (v, mode, flags) => new Op(OpKind.Accept, v, (ulong)mode, flags))),
        (6, Gen.Frequency((3, Gen.Long[0, 2_000]), (2, Gen.Long[0, 300_000])).Select(ns => new Op(OpKind.Advance, (ulong)ns))),
        (2, Gen.Select(Gen.Int[0, 1], Gen.Bool, (pin, level) => new Op(OpKind.SetLint, (ulong)pin, level ? 1ul : 0))),
        (1, Gen.Byte.Select(v => new Op(OpKind.PicRaise, v))));

    private static void Apply(Vcpu vcpu, FakePic pic, VirtualClock clock, Op op)
    {
        var apic = vcpu.Apic;
        switch (op.Kind)
        {
            case OpKind.ReadMsr:
                vcpu.TryReadMsr((uint)op.A, out _);
                break;
            case OpKind.WriteMsr:
                vcpu.TryWriteMsr((uint)op.A, op.B);
                break;
            case OpKind.HostWriteMsr:
                vcpu.HostWriteMsr((uint)op.A, op.B);
                break;
            case OpKind.MmioRead:
                apic.MmioRead((int)op.A, op.C);
                break;
            case OpKind.MmioWrite:
                apic.MmioWrite((int)op.A, (uint)op.B, op.C);
                break;
            case OpKind.Sti:
                vcpu.Sti();
                break;
            case OpKind.Cli:
                vcpu.Cli();
                break;
            case OpKind.Hlt:
                vcpu.Hlt();
                break;
            case OpKind.Take:
                TakeChecked(vcpu);
                break;
            case OpKind.Iret:
                vcpu.Iret();
                break;
            case OpKind.WriteCr8:
                Check(vcpu.WriteCr8(op.A) == (op.A <= 0xF), "CR8 reserved-bit check");
                break;
            case OpKind.ReadCr8:
                Check(vcpu.ReadCr8() == apic.Tpr >> 4, "CR8 reads TPR[7:4]");
                break;
            case OpKind.Accept:
                var message = new InterruptMessage(
                    (byte)op.A, (DeliveryMode)op.B, (op.C & 4) != 0 ? DestinationMode.Logical : DestinationMode.Physical, 0,
                    (op.C & 1) != 0 ? TriggerMode.Level : TriggerMode.Edge, (op.C & 2) != 0, DestinationShorthand.None, InterruptSource.Msi, -1);
                bool accepted = apic.AcceptInterrupt(message);
                if (accepted && message.DeliveryMode is DeliveryMode.Fixed or DeliveryMode.LowestPriority)
                {
                    Check(apic.IrrHas(message.Vector), "an accepted fixed vector is in the IRR");
                    Check(apic.TmrHas(message.Vector) == (message.TriggerMode == TriggerMode.Level), "TMR follows the trigger");
                }

                break;
            case OpKind.Advance:
                clock.Advance((long)op.A);
                break;
            case OpKind.SetLint:
                vcpu.SetLint((int)op.A, op.B != 0);
                break;
            case OpKind.PicRaise:
                pic.Pending.Enqueue((byte)op.A);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    private static void TakeChecked(Vcpu vcpu)
    {
        var apic = vcpu.Apic;
        uint pprBefore = apic.Ppr;
        int highestIrr = TestApic.ScanHighest(apic.Page, ApicOffset.Irr);
        var taken = vcpu.Take();
        if (taken.Kind == GuestEventKind.Vector)
        {
            Check((taken.Vector & 0xF0u) > pprBefore, $"took vector 0x{taken.Vector:x} at PPR 0x{pprBefore:x}");
            Check(taken.Vector == highestIrr, $"took 0x{taken.Vector:x}, not the highest IRR 0x{highestIrr:x}");
            Check(apic.IsrHas(taken.Vector) && !apic.IrrHas(taken.Vector), "the taken vector moved from IRR to ISR");
            Check(!vcpu.InterruptFlag, "taking an interrupt clears IF");
        }
    }

    private static void CheckInvariants(Vcpu vcpu)
    {
        var apic = vcpu.Apic;
        var page = apic.Page;
        int highestIsr = TestApic.ScanHighest(page, ApicOffset.Isr);
        uint tpr = page.Read(ApicOffset.Tpr);
        Check(tpr <= 0xFF, $"TPR 0x{tpr:x} has bits above 7");
        Check(apic.Ppr == TestApic.ExpectedPpr(tpr, highestIsr), $"PPR 0x{apic.Ppr:x} but TPR 0x{tpr:x} and ISR 0x{highestIsr:x} give 0x{TestApic.ExpectedPpr(tpr, highestIsr):x}");
        Check(apic.IsrCount == TestApic.ScanCount(page, ApicOffset.Isr), $"ISR count {apic.IsrCount} but {TestApic.ScanCount(page, ApicOffset.Isr)} bits in the page");
        Check(apic.HighestIsr == highestIsr, $"cached highest ISR {apic.HighestIsr} but the page says {highestIsr}");
        int pending = apic.PendingVector();
        Check(pending < 0 || (pending & 0xF0) > apic.Ppr, $"vector 0x{pending:x} offered at PPR 0x{apic.Ppr:x}");
        Check(vcpu.NmiQueued is >= 0 and <= 2, $"{vcpu.NmiQueued} NMIs queued");
        Check(apic.Mode != ApicMode.Invalid, "APIC_BASE reached the invalid mode");
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException("invariant broken: " + what);
        }
    }

    private static string Print((Setup Setup, Op[] Prefix, Op[] Suffix) sample) =>
        sample.Setup + Environment.NewLine + string.Join(Environment.NewLine, sample.Prefix) + Environment.NewLine + "-- snapshot --"
        + Environment.NewLine + string.Join(Environment.NewLine, sample.Suffix);

    /// <summary>
    /// Snapshot anywhere, restore onto a fresh vCPU through the binary form, run the same program on
    /// both: they stay indistinguishable (VcpuSnapshot's contract: "restoring it ... gives the guest
    /// the same machine").
    /// </summary>
    [Fact]
    public void A_restored_snapshot_behaves_like_the_original_under_any_program()
    {
        Gen.Select(GenSetup, GenOp.Array[0, 50], GenOp.Array[1, 40]).Sample(sample =>
        {
            var (setup, prefix, suffix) = sample;
            var clockA = new VirtualClock();
            var a = new Vcpu(setup.Index, setup.Config, clockA, setup.WaitForSipi);
            var picA = new FakePic();
            a.Pic = picA;
            Boot(a, setup);
            foreach (var op in prefix)
            {
                Apply(a, picA, clockA, op);
            }

            // Unlatched ESR errors travel in the snapshot (format v2), so nothing is latched first.
            byte[] bytes = VcpuSnapshot.Capture(a).Serialize();
            var clockB = new VirtualClock();
            clockB.SetTime(clockA.NowNs);
            var b = new Vcpu(setup.Index, setup.Config, clockB);
            var picB = new FakePic();
            foreach (byte v in picA.Pending)
            {
                picB.Pending.Enqueue(v);
            }

            b.Pic = picB;
            VcpuSnapshot.Deserialize(bytes).Restore(b);

            Check(GuestView.Observe(a).SequenceEqual(GuestView.Observe(b)), "restored state differs: " + Diff(a, b));
            for (int i = 0; i < suffix.Length; i++)
            {
                Apply(a, picA, clockA, suffix[i]);
                Apply(b, picB, clockB, suffix[i]);
                Check(GuestView.Observe(a).SequenceEqual(GuestView.Observe(b)), $"after suffix step {i} ({suffix[i]}): " + Diff(a, b));
            }
        }, iter: 300, print: Print);
    }

    private static string Diff(Vcpu a, Vcpu b) =>
        string.Join("; ", GuestView.Observe(a).Zip(GuestView.Observe(b)).Where(p => p.First != p.Second).Select(p => $"{p.First} vs {p.Second}"));

    private static string Print((Setup Setup, Op[] Ops) sample) =>
        sample.Setup + Environment.NewLine + string.Join(Environment.NewLine, sample.Ops);

    [Fact]
    public void Random_guest_programs_never_throw_and_keep_the_priority_invariants()
    {
        Gen.Select(GenSetup, GenOp.Array[1, 80]).Sample(sample =>
        {
            var (setup, ops) = sample;
            var clock = new VirtualClock();
            var vcpu = new Vcpu(setup.Index, setup.Config, clock, setup.WaitForSipi);
            var pic = new FakePic();
            vcpu.Pic = pic;
            Boot(vcpu, setup);
            CheckInvariants(vcpu);
            foreach (var op in ops)
            {
                Apply(vcpu, pic, clock, op);
                CheckInvariants(vcpu);
            }
        }, iter: 400, print: Print);
    }
}
