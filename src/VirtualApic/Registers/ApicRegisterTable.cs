// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>
/// The local APIC register table: one row per register, the single source of the register rules.
/// Architectural columns follow KVM (lapic.c <c>kvm_lapic_readable_reg_mask</c>,
/// <c>kvm_lapic_reg_write</c>; SDM vol. 3A tables 11-1 and 11-6). The assist columns say what AMD
/// AVIC/x2AVIC and Intel APICv do with a guest access, before any hypervisor runs. The side effects
/// themselves live in <c>LocalApic.WriteRegister</c>, which switches on <see cref="WriteEffect"/>.
/// </summary>
/// <remarks>
/// <para>Assist columns, with their sources:</para>
/// <list type="bullet">
/// <item>AVIC MMIO: reads of the backing-page registers are served without an exit; TMCCT, APR,
/// LVT CMCI and the reserved offsets fault (AVIC_NOACCEL, fault-like). Writes: TPR and ICR2 complete;
/// EOI is accelerated unless the in-service vector is level-triggered (APM vol. 2 15.29.9.2); the ICR
/// sends in hardware or exits AVIC_INCOMPLETE_IPI (15.29.9.1); the offsets of KVM
/// <c>is_avic_unaccelerated_access_trap</c> trap; everything else faults.</item>
/// <item>x2AVIC and APICv MSRs: KVM passes reads of the readable set through except TMCCT (computed;
/// x2AVIC hardware faults it, VMX intercepts it, KVM 02efd818a6c0), and writes only for TPR, EOI, ICR
/// and SELF_IPI (KVM <c>avic_set_x2apic_msr_interception</c>, <c>vmx_update_msr_bitmap_x2apic</c>).</item>
/// <item>APICv MMIO: SDM 30.4.2 lists the virtualized reads (PPR, APR, TMCCT and CMCI are not among
/// them); SDM 30.4.3.1 the virtualized writes, of which TPR, EOI and ICR are emulated by the
/// processor (30.4.3.2, with virtual-interrupt delivery and IPI virtualization; ICR2 then clears
/// bits 23:0 without an exit) and the others end in an APIC-write VM exit (30.4.3.3).</item>
/// </list>
/// <para>Lookups index static arrays by <c>offset &gt;&gt; 4</c>: constant time, no allocation.</para>
/// </remarks>
public static class ApicRegisterTable
{
    /// <summary>LVT bits kept by every LVT write: vector, delivery status, mask (KVM <c>LVT_MASK</c>).</summary>
    public const uint LvtMask = 0x0001_10FF;
    /// <summary>LVT delivery-mode field, bits 10:8.</summary>
    public const uint LvtModeMask = 0x0000_0700;
    /// <summary>LINT0/1 bits: LVT_MASK plus mode, polarity, remote IRR and trigger (KVM <c>LINT_MASK</c>).</summary>
    public const uint LintMask = 0x0001_F7FF;
    /// <summary>Timer mode bit 17 (periodic); bit 18 joins it when TSC-deadline is supported.</summary>
    public const uint TimerModeMask = 0x0006_0000;

    private const RegisterAccess R = RegisterAccess.Read;
    private const RegisterAccess W = RegisterAccess.Write;
    private const RegisterAccess RW = RegisterAccess.ReadWrite;
    private const RegisterAccess No = RegisterAccess.None;

    private const uint DeliveryStatus = 1u << 12;
    private const uint RemoteIrr = 1u << 14;

    // Assist cells: (read, write). F fault-like, A accelerated, T trap-like, V virtualized.
    private static readonly AssistHandling FF = new(AssistAccess.FaultLike, AssistAccess.FaultLike);
    private static readonly AssistHandling AF = new(AssistAccess.Accelerated, AssistAccess.FaultLike);
    private static readonly AssistHandling AA = new(AssistAccess.Accelerated, AssistAccess.Accelerated);
    private static readonly AssistHandling AT = new(AssistAccess.Accelerated, AssistAccess.TrapLike);
    private static readonly AssistHandling AV = new(AssistAccess.Accelerated, AssistAccess.Virtualized);
    private static readonly AssistHandling FT = new(AssistAccess.FaultLike, AssistAccess.TrapLike);
    private static readonly AssistHandling FV = new(AssistAccess.FaultLike, AssistAccess.Virtualized);

    private static readonly RegisterRule[] RowArray = BuildRows();
    private static readonly RegisterRule[] Slots = BuildSlots();

    // CompileWrites' answers, by (features, mode): at most 2^7 small arrays, built on first use.
    private static readonly RegisterWrite[]?[] CompiledWrites = new RegisterWrite[]?[1 << 7];

    /// <summary>Every architectural register, in page order. CMCI is listed; its presence is a VM option.</summary>
    public static IReadOnlyList<RegisterRule> Rows => RowArray;

    /// <summary>The rule for the 16-byte slot holding <paramref name="offset"/>, or null for a reserved slot.</summary>
    public static RegisterRule? Find(int offset) =>
        (uint)offset < 0x400 && Slots[offset >> 4].Name.Length != 0 ? Slots[offset >> 4] : null;

    /// <summary>
    /// The row of the slot holding <paramref name="offset"/> (0x000-0x3FF); a reserved slot has an
    /// empty name, no access, no effect and fault-like assist cells.
    /// </summary>
    public static ref readonly RegisterRule Rule(int offset) => ref Slots[(offset >> 4) & 0x3F];

    /// <summary>The bits a write to <paramref name="offset"/> (0x000-0x3FF) keeps with <paramref name="features"/>.</summary>
    public static uint WriteMask(int offset, RegisterFeatures features) => Slots[(offset >> 4) & 0x3F].WriteMaskFor(features);

    /// <summary>
    /// The table's write columns compiled for one mode and feature set: 64 slots indexed by
    /// <c>offset &gt;&gt; 4</c>, shared by every APIC with the same answers (read-only).
    /// </summary>
    internal static RegisterWrite[] CompileWrites(bool x2Apic, RegisterFeatures features)
    {
        int key = ((int)features << 1) | (x2Apic ? 1 : 0);
        return CompiledWrites[key] ??= BuildWrites(x2Apic, features); // a racing twin builds equal contents
    }

    private static RegisterWrite[] BuildWrites(bool x2Apic, RegisterFeatures features)
    {
        var writes = new RegisterWrite[Slots.Length];
        for (int i = 0; i < Slots.Length; i++)
        {
            ref readonly var rule = ref Slots[i];
            if (rule.IsPresent(features) && ((x2Apic ? rule.X2Apic : rule.XApic) & W) == W)
            {
                uint faults = x2Apic ? X2ApicFaultBits(rule, features) : 0;
                writes[i] = new RegisterWrite(rule.WriteMaskFor(features), rule.ForcedOnes, faults, rule.Effect);
            }
        }

        return writes;
    }

    // SDM vol. 3A 11.12.1.3: which bits of an x2APIC WRMSR's low half #GP, by the row's rule.
    private static uint X2ApicFaultBits(in RegisterRule rule, RegisterFeatures features) => rule.X2ApicReserved switch
    {
        X2ApicReservedRule.Icr => (uint)Icr.X2ApicReservedBits,
        X2ApicReservedRule.MustBeZero => ~rule.WriteMask,
        X2ApicReservedRule.EoiMustBeZero => (features & RegisterFeatures.X2ApicEoiNonZeroFaults) != 0 ? ~0u : 0,
        _ => (features & RegisterFeatures.X2ApicReservedBitsFault) != 0 ? ~rule.DefinedBitsFor(features) : 0,
    };

    /// <summary>What the assist's hardware does with a read or a write at <paramref name="offset"/>; offsets past 0x3FF fault.</summary>
    public static AssistAccess Handling(AssistPath path, int offset, bool write)
    {
        if ((uint)offset >= 0x400)
        {
            return AssistAccess.FaultLike;
        }

        var cell = Slots[offset >> 4].Handling(path);
        return write ? cell.Write : cell.Read;
    }

    /// <summary>
    /// One bit per slot (bit n for offset n * 0x10) of the registers present with
    /// <paramref name="features"/> whose access in the mode includes <paramref name="access"/>
    /// (KVM <c>APIC_REG_MASK</c> sets).
    /// </summary>
    public static ulong AccessMask(bool x2Apic, RegisterAccess access, RegisterFeatures features)
    {
        ulong mask = 0;
        foreach (var row in RowArray)
        {
            if (row.IsPresent(features) && ((x2Apic ? row.X2Apic : row.XApic) & access) == access)
            {
                mask |= 1ul << (row.Offset >> 4);
            }
        }

        return mask;
    }

    private static RegisterRule Row(
        int offset, string name, RegisterAccess xApic, RegisterAccess x2Apic, uint mask, WriteEffect effect,
        ReplayShadow shadow, AssistHandling avic, AssistHandling x2Avic, AssistHandling apicv, AssistHandling apicvX2) =>
        new(offset, name, xApic, x2Apic, mask, effect)
        {
            Shadow = shadow,
            AvicMmio = avic,
            X2AvicMsr = x2Avic,
            ApicvMmio = apicv,
            ApicvMsr = apicvX2,
        };

    private static RegisterRule Lvt(int offset, string name, uint mask, WriteEffect effect = WriteEffect.Lvt) =>
        Row(offset, name, RW, RW, mask, effect, ReplayShadow.LvtStatus, AT, AF, AT, AF) with { StatusBits = mask & (DeliveryStatus | RemoteIrr) };

    private static RegisterRule[] BuildRows()
    {
        // The APICv EOI read cell is the SDM's (30.4.2 virtualizes reads of 0B0H); the model still
        // faults it, because EOI is not readable (kvm_lapic_readable_reg_mask) on any path.
        var rows = new List<RegisterRule>
        {
            //  offset             name    xAPIC x2APIC write mask   effect                       old value on replay         AVIC x2AVIC APICv APICv-x2
            Row(ApicOffset.Id,      "ID",  RW,   R,     0xFF00_0000, WriteEffect.Remap,           ReplayShadow.ApicMap,        AT,  AF,    AT,   AF),
            Row(ApicOffset.Version, "VER", R,    R,     0,           WriteEffect.None,            ReplayShadow.None,           AF,  AF,    AF,   AF),
            Row(ApicOffset.Tpr,     "TPR", RW,   RW,    0xFF,        WriteEffect.Priority,        ReplayShadow.None,           AA,  AA,    AA,   AA),
            Row(ApicOffset.Apr,     "APR", R,    No,    0,           WriteEffect.None,            ReplayShadow.None,           FF,  FF,    FF,   FF),
            Row(ApicOffset.Ppr,     "PPR", R,    R,     0,           WriteEffect.None,            ReplayShadow.None,           AF,  AF,    FF,   AF),
            Row(ApicOffset.Eoi,     "EOI", W,    W,     0,           WriteEffect.Eoi,             ReplayShadow.None,           FV,  FV,    AV,   FV)
                with { X2ApicReserved = X2ApicReservedRule.EoiMustBeZero },
            Row(ApicOffset.Rrd,     "RRD", No,   No,    0,           WriteEffect.None,            ReplayShadow.None,           FT,  FF,    FF,   FF),
            Row(ApicOffset.Ldr,     "LDR", RW,   R,     0xFF00_0000, WriteEffect.Remap,           ReplayShadow.ApicMap,        AT,  AF,    AT,   AF),
            Row(ApicOffset.Dfr,     "DFR", RW,   No,    0xF000_0000, WriteEffect.Remap,           ReplayShadow.ApicMap,        AT,  FF,    AT,   FF)
                with { ForcedOnes = 0x0FFF_FFFF },
            Row(ApicOffset.Svr,     "SVR", RW,   RW,    0x13FF,      WriteEffect.SoftwareEnable,  ReplayShadow.SoftwareEnable, AT,  AF,    AT,   AF)
                with { OptionalBits = 0x1000, OptionalBitsNeed = RegisterFeatures.DirectedEoi },
        };
        for (int i = 0; i < 8; i++)
        {
            rows.Add(Row(ApicOffset.Isr + (i << 4), $"ISR{i}", R, R, 0, WriteEffect.None, ReplayShadow.None, AF, AF, AF, AF));
        }

        for (int i = 0; i < 8; i++)
        {
            rows.Add(Row(ApicOffset.Tmr + (i << 4), $"TMR{i}", R, R, 0, WriteEffect.None, ReplayShadow.None, AF, AF, AF, AF));
        }

        for (int i = 0; i < 8; i++)
        {
            rows.Add(Row(ApicOffset.Irr + (i << 4), $"IRR{i}", R, R, 0, WriteEffect.None, ReplayShadow.None, AF, AF, AF, AF));
        }

        rows.AddRange(
        [
            //  offset              name        xAPIC x2APIC write mask   effect                   old value on replay      AVIC x2AVIC APICv APICv-x2
            Row(ApicOffset.Esr,     "ESR",      RW,   RW,    0,           WriteEffect.LatchErrors, ReplayShadow.ErrorLatch, AT,  AF,    AT,   AF)
                with { X2ApicReserved = X2ApicReservedRule.MustBeZero },
            Lvt(ApicOffset.LvtCmci, "LVT_CMCI", LvtMask | LvtModeMask) with { Requires = RegisterFeatures.Cmci, AvicMmio = FF, ApicvMmio = FF },
            Row(ApicOffset.Icr,     "ICR",      RW,   RW,    ~Icr.BusyBit, WriteEffect.SendIpi,    ReplayShadow.None,       AV,  AV,    AV,   AV)
                with { X2ApicReserved = X2ApicReservedRule.Icr },
            Row(ApicOffset.Icr2,    "ICR2",     RW,   No,    0xFF00_0000, WriteEffect.Store,       ReplayShadow.None,       AA,  FF,    AA,   FF),
            Lvt(ApicOffset.LvtTimer, "LVT_TIMER", LvtMask | TimerModeMask, WriteEffect.LvtTimer)
                with { Shadow = ReplayShadow.Timer, OptionalBits = 1u << 18, OptionalBitsNeed = RegisterFeatures.TscDeadline },
            Lvt(ApicOffset.LvtThermal, "LVT_THERMAL", LvtMask | LvtModeMask),
            Lvt(ApicOffset.LvtPmc,  "LVT_PMC",  LvtMask | LvtModeMask),
            Lvt(ApicOffset.LvtLint0, "LVT_LINT0", LintMask),
            Lvt(ApicOffset.LvtLint1, "LVT_LINT1", LintMask),
            Lvt(ApicOffset.LvtError, "LVT_ERROR", LvtMask),
            Row(ApicOffset.Tmict,   "TMICT",    RW,   RW,    0xFFFF_FFFF, WriteEffect.TimerCount,  ReplayShadow.Timer,      AT,  AF,    AT,   AF),
            Row(ApicOffset.Tmcct,   "TMCCT",    R,    R,     0,           WriteEffect.None,        ReplayShadow.None,       FF,  FF,    FF,   FF),
            Row(ApicOffset.Tdcr,    "TDCR",     RW,   RW,    0xB,         WriteEffect.TimerDivide, ReplayShadow.Timer,      AT,  AF,    AT,   AF),
            Row(ApicOffset.SelfIpi, "SELF_IPI", No,   W,     0xFF,        WriteEffect.SelfIpi,     ReplayShadow.None,       FF,  FV,    FF,   FV)
                with { X2ApicReserved = X2ApicReservedRule.MustBeZero },
        ]);
        return [.. rows];
    }

    private static RegisterRule[] BuildSlots()
    {
        var slots = new RegisterRule[0x40];
        for (int i = 0; i < slots.Length; i++)
        {
            slots[i] = new RegisterRule(i << 4, string.Empty, No, No, 0, WriteEffect.None);
        }

        foreach (var row in RowArray)
        {
            slots[row.Offset >> 4] = row;
        }

        return slots;
    }
}
