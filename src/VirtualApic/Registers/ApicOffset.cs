// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>
/// Byte offsets of the local APIC registers in the 4 KiB register page (Intel SDM vol. 3A,
/// table 11-1 "Local APIC Register Address Map"; AMD APM vol. 2, table 16-2). Each register
/// occupies the low 32 bits of a 16-byte slot; in x2APIC mode the register at offset <c>o</c> is
/// MSR <c>0x800 + o / 16</c>.
/// </summary>
public static class ApicOffset
{
    /// <summary>Local APIC ID.</summary>
    public const int Id = 0x20;
    /// <summary>Local APIC version (LVR).</summary>
    public const int Version = 0x30;
    /// <summary>Task priority register.</summary>
    public const int Tpr = 0x80;
    /// <summary>Arbitration priority register (xAPIC only).</summary>
    public const int Apr = 0x90;
    /// <summary>Processor priority register.</summary>
    public const int Ppr = 0xA0;
    /// <summary>End of interrupt (write-only).</summary>
    public const int Eoi = 0xB0;
    /// <summary>Remote read register (RRD/RRR; not implemented by modern processors).</summary>
    public const int Rrd = 0xC0;
    /// <summary>Logical destination register.</summary>
    public const int Ldr = 0xD0;
    /// <summary>Destination format register (xAPIC only).</summary>
    public const int Dfr = 0xE0;
    /// <summary>Spurious-interrupt vector register.</summary>
    public const int Svr = 0xF0;
    /// <summary>In-service register, bits 31:0 (ISR0); ISRn is at <c>Isr + 0x10 * n</c>.</summary>
    public const int Isr = 0x100;
    /// <summary>Trigger mode register, bits 31:0 (TMR0); TMRn is at <c>Tmr + 0x10 * n</c>.</summary>
    public const int Tmr = 0x180;
    /// <summary>Interrupt request register, bits 31:0 (IRR0); IRRn is at <c>Irr + 0x10 * n</c>.</summary>
    public const int Irr = 0x200;
    /// <summary>Error status register.</summary>
    public const int Esr = 0x280;
    /// <summary>LVT corrected machine-check interrupt register.</summary>
    public const int LvtCmci = 0x2F0;
    /// <summary>Interrupt command register, low half (the whole 64-bit ICR in x2APIC mode).</summary>
    public const int Icr = 0x300;
    /// <summary>Interrupt command register, high half (xAPIC destination field).</summary>
    public const int Icr2 = 0x310;
    /// <summary>LVT timer register.</summary>
    public const int LvtTimer = 0x320;
    /// <summary>LVT thermal sensor register.</summary>
    public const int LvtThermal = 0x330;
    /// <summary>LVT performance monitoring counters register.</summary>
    public const int LvtPmc = 0x340;
    /// <summary>LVT LINT0 register.</summary>
    public const int LvtLint0 = 0x350;
    /// <summary>LVT LINT1 register.</summary>
    public const int LvtLint1 = 0x360;
    /// <summary>LVT error register.</summary>
    public const int LvtError = 0x370;
    /// <summary>Timer initial count register.</summary>
    public const int Tmict = 0x380;
    /// <summary>Timer current count register (read-only, computed from time).</summary>
    public const int Tmcct = 0x390;
    /// <summary>Timer divide configuration register.</summary>
    public const int Tdcr = 0x3E0;
    /// <summary>Self-IPI register (x2APIC only, write-only).</summary>
    public const int SelfIpi = 0x3F0;

    /// <summary>The x2APIC MSR range base: MSR <c>0x800 + offset / 16</c>.</summary>
    public const uint X2ApicMsrBase = 0x800;
    /// <summary>The last MSR of the x2APIC range.</summary>
    public const uint X2ApicMsrLast = 0x8FF;

    // The x2APIC MSRs of the two registers every interrupt writes. The guest-WRMSR paths test the
    // MSR against these before they make an offset of it: where a caller's MSR is a constant, the
    // JIT folds such a test while it imports the inlinee, so an EOI site does not inline the ICR's
    // path too, nor an ICR site the EOI's. Compared as offsets, the tests were not folded there,
    // and every site spent inlining budget on both paths (docs/performance.md, "Thirty-ninth session").
    internal const uint EoiMsr = X2ApicMsrBase + (Eoi >> 4);
    internal const uint IcrMsr = X2ApicMsrBase + (Icr >> 4);

    /// <summary>IA32_TSC_DEADLINE (MSR 0x6E0), the TSC-deadline timer's register (SDM 11.5.4.1).</summary>
    public const uint TscDeadlineMsr = 0x6E0;

    /// <summary>The x2APIC MSR that maps to register <paramref name="offset"/>.</summary>
    public static uint ToMsr(int offset) => X2ApicMsrBase + (uint)(offset >> 4);

    /// <summary>The register offset that x2APIC MSR <paramref name="msr"/> maps to.</summary>
    public static int FromMsr(uint msr) => (int)(msr - X2ApicMsrBase) << 4;
}
