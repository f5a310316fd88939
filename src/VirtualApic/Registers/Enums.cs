// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>The 3-bit delivery mode of an ICR, LVT entry, redirection entry or MSI (SDM 11.6.1).</summary>
public enum DeliveryMode : byte
{
    /// <summary>000: deliver the vector to every destination.</summary>
    Fixed = 0,
    /// <summary>001: deliver to the lowest-priority destination.</summary>
    LowestPriority = 1,
    /// <summary>010: system management interrupt.</summary>
    Smi = 2,
    /// <summary>011: remote read (reserved on modern processors; KVM reuses it for PV unhalt).</summary>
    RemoteRead = 3,
    /// <summary>100: non-maskable interrupt.</summary>
    Nmi = 4,
    /// <summary>101: INIT (assert or de-assert by the level bit).</summary>
    Init = 5,
    /// <summary>110: start-up IPI.</summary>
    StartUp = 6,
    /// <summary>111: external interrupt (the vector comes from an 8259).</summary>
    ExtInt = 7,
}

/// <summary>Physical or logical destination mode (ICR bit 11, RTE bit 11, MSI address bit 2).</summary>
public enum DestinationMode : byte
{
    /// <summary>The destination is an APIC ID.</summary>
    Physical = 0,
    /// <summary>The destination is matched against LDR (and DFR in xAPIC mode).</summary>
    Logical = 1,
}

/// <summary>Edge or level trigger (ICR bit 15, LVT bit 15, RTE bit 15, MSI data bit 15).</summary>
public enum TriggerMode : byte
{
    /// <summary>Edge-triggered.</summary>
    Edge = 0,
    /// <summary>Level-triggered.</summary>
    Level = 1,
}

/// <summary>The ICR destination shorthand, bits 19:18.</summary>
public enum DestinationShorthand : byte
{
    /// <summary>00: the destination field selects the targets.</summary>
    None = 0,
    /// <summary>01: the sender only.</summary>
    Self = 1,
    /// <summary>10: every APIC, the sender included.</summary>
    AllIncludingSelf = 2,
    /// <summary>11: every APIC but the sender.</summary>
    AllExcludingSelf = 3,
}

/// <summary>The operating mode of a local APIC, from IA32_APIC_BASE bits EN and EXTD (SDM 11.12.1).</summary>
public enum ApicMode : byte
{
    /// <summary>EN=0, EXTD=0: hardware-disabled.</summary>
    Disabled = 0,
    /// <summary>EN=0, EXTD=1: not a legal state.</summary>
    Invalid = 1,
    /// <summary>EN=1, EXTD=0: xAPIC mode, MMIO interface.</summary>
    XApic = 2,
    /// <summary>EN=1, EXTD=1: x2APIC mode, MSR interface.</summary>
    X2Apic = 3,
}

/// <summary>The LVT timer mode field, bits 18:17 (SDM 11.5.4).</summary>
public enum TimerMode : byte
{
    /// <summary>00: one-shot countdown.</summary>
    OneShot = 0,
    /// <summary>01: periodic, reloaded from TMICT.</summary>
    Periodic = 1,
    /// <summary>10: fires when the TSC reaches IA32_TSC_DEADLINE.</summary>
    TscDeadline = 2,
    /// <summary>11: reserved.</summary>
    Reserved = 3,
}
