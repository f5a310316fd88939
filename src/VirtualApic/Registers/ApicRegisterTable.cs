// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>How a register can be accessed in one mode.</summary>
[Flags]
public enum RegisterAccess : byte
{
    /// <summary>Absent: reads and writes fail (#GP through an MSR, dropped through MMIO).</summary>
    None = 0,
    /// <summary>Readable.</summary>
    Read = 1,
    /// <summary>Writable.</summary>
    Write = 2,
    /// <summary>Readable and writable.</summary>
    ReadWrite = Read | Write,
}

/// <summary>One row of the register table: a 16-byte slot of the APIC page and its rules per mode.</summary>
/// <param name="Offset">The page offset.</param>
/// <param name="Name">The register name (<see cref="ApicRegisterNames"/>).</param>
/// <param name="XApic">Access through MMIO in xAPIC mode.</param>
/// <param name="X2Apic">Access through MSR <c>0x800 + Offset/16</c> in x2APIC mode.</param>
/// <param name="WriteMask">The bits a write keeps, before mode-dependent adjustments made by the write handler.</param>
public readonly record struct RegisterRule(int Offset, string Name, RegisterAccess XApic, RegisterAccess X2Apic, uint WriteMask);

/// <summary>
/// The local APIC register map, one row per register, with KVM's access rules (lapic.c
/// <c>kvm_lapic_readable_reg_mask</c> and <c>kvm_lapic_reg_write</c>; SDM vol. 3A tables 11-1 and
/// 11-6). The write side effects live in <c>LocalApic.WriteRegister</c>.
/// </summary>
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
    private const RegisterAccess None = RegisterAccess.None;

    /// <summary>Every architectural register, in page order. CMCI is listed; its presence is a VM option.</summary>
    public static IReadOnlyList<RegisterRule> Rows { get; } = BuildRows();

    private static readonly RegisterRule?[] BySlot = BuildSlots();

    /// <summary>The rule for the 16-byte slot holding <paramref name="offset"/>, or null for a reserved slot.</summary>
    public static RegisterRule? Find(int offset) =>
        (uint)offset < 0x400 ? BySlot[offset >> 4] : null;

    private static RegisterRule[] BuildRows()
    {
        var rows = new List<RegisterRule>
        {
            new(ApicOffset.Id, "ID", RW, R, 0xFF00_0000),
            new(ApicOffset.Version, "VER", R, R, 0),
            new(ApicOffset.Tpr, "TPR", RW, RW, 0xFF),
            new(ApicOffset.Apr, "APR", R, None, 0),
            new(ApicOffset.Ppr, "PPR", R, R, 0),
            new(ApicOffset.Eoi, "EOI", W, W, 0),
            new(ApicOffset.Rrd, "RRD", None, None, 0),
            new(ApicOffset.Ldr, "LDR", RW, R, 0xFF00_0000),
            new(ApicOffset.Dfr, "DFR", RW, None, 0xF000_0000),
            new(ApicOffset.Svr, "SVR", RW, RW, 0x13FF),
        };
        for (int i = 0; i < 8; i++)
        {
            rows.Add(new(ApicOffset.Isr + (i << 4), $"ISR{i}", R, R, 0));
        }

        for (int i = 0; i < 8; i++)
        {
            rows.Add(new(ApicOffset.Tmr + (i << 4), $"TMR{i}", R, R, 0));
        }

        for (int i = 0; i < 8; i++)
        {
            rows.Add(new(ApicOffset.Irr + (i << 4), $"IRR{i}", R, R, 0));
        }

        rows.AddRange(
        [
            new(ApicOffset.Esr, "ESR", RW, RW, 0),
            new(ApicOffset.LvtCmci, "LVT_CMCI", RW, RW, LvtMask | LvtModeMask),
            new(ApicOffset.Icr, "ICR", RW, RW, 0xFFFF_FFFF),
            new(ApicOffset.Icr2, "ICR2", RW, None, 0xFF00_0000),
            new(ApicOffset.LvtTimer, "LVT_TIMER", RW, RW, LvtMask | TimerModeMask),
            new(ApicOffset.LvtThermal, "LVT_THERMAL", RW, RW, LvtMask | LvtModeMask),
            new(ApicOffset.LvtPmc, "LVT_PMC", RW, RW, LvtMask | LvtModeMask),
            new(ApicOffset.LvtLint0, "LVT_LINT0", RW, RW, LintMask),
            new(ApicOffset.LvtLint1, "LVT_LINT1", RW, RW, LintMask),
            new(ApicOffset.LvtError, "LVT_ERROR", RW, RW, LvtMask),
            new(ApicOffset.Tmict, "TMICT", RW, RW, 0xFFFF_FFFF),
            new(ApicOffset.Tmcct, "TMCCT", R, R, 0),
            new(ApicOffset.Tdcr, "TDCR", RW, RW, 0xB),
            new(ApicOffset.SelfIpi, "SELF_IPI", None, W, 0xFF),
        ]);
        return [.. rows];
    }

    private static RegisterRule?[] BuildSlots()
    {
        var slots = new RegisterRule?[0x40];
        foreach (var row in Rows)
        {
            slots[row.Offset >> 4] = row;
        }

        return slots;
    }
}
