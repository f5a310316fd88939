// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>
/// What a register write does after its value has been masked (the register table's effect column;
/// KVM <c>kvm_lapic_reg_write</c>). <c>LocalApic.WriteRegister</c> switches on this and nothing else.
/// </summary>
public enum WriteEffect : byte
{
    /// <summary>Not writable in any mode (read-only or absent).</summary>
    None,
    /// <summary>The masked value is stored; nothing else happens (ICR2).</summary>
    Store,
    /// <summary>Stored, then the APIC map is recomputed: the value routes interrupts (ID, LDR, DFR).</summary>
    Remap,
    /// <summary>TPR: stored, PPR recomputed.</summary>
    Priority,
    /// <summary>EOI: the highest in-service vector is retired; the value is ignored.</summary>
    Eoi,
    /// <summary>SVR: stored; clearing the enable bit masks every LVT entry; an enable change remaps.</summary>
    SoftwareEnable,
    /// <summary>ESR: the write latches the errors detected since the last write; the value is ignored.</summary>
    LatchErrors,
    /// <summary>ICR: the IPI is sent, then the value is stored with BUSY clear.</summary>
    SendIpi,
    /// <summary>An LVT entry: mask forced while software-disabled; status bits per profile.</summary>
    Lvt,
    /// <summary>The LVT timer entry: as <see cref="Lvt"/>, then the timer mode is re-evaluated.</summary>
    LvtTimer,
    /// <summary>TMICT: the count restarts (ignored in TSC-deadline mode).</summary>
    TimerCount,
    /// <summary>TDCR: the divider changes and a running count is rescaled.</summary>
    TimerDivide,
    /// <summary>SELF_IPI (x2APIC): a fixed edge IPI to self; the ICR is untouched.</summary>
    SelfIpi,
}
