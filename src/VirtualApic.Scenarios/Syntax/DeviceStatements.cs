// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;

namespace VirtualApic.Scenarios.Syntax;

/// <summary><c>ioapic write INDEX VALUE</c>: selects register INDEX through IOREGSEL and writes VALUE through IOWIN; observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Index">The 32-bit register index (redirection entry n is 0x10+2n low, 0x11+2n high).</param>
/// <param name="Value">The 32-bit value written.</param>
public sealed record IoApicWriteStatement(SourceLine Source, uint Index, uint Value)
    : Statement(Source);

/// <summary><c>ioapic read INDEX</c>: selects register INDEX through IOREGSEL and reads IOWIN; observes the 32-bit value.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Index">The 32-bit register index.</param>
/// <param name="Expect">The expectation on the observation, or <c>null</c> to only record it.</param>
public sealed record IoApicReadStatement(SourceLine Source, uint Index, Expectation? Expect)
    : Statement(Source), IObservingStatement;

/// <summary><c>ioapic route PIN vector=V [dest=ID] [logical] [trigger=edge|level] [polarity=high|low] [mode=fixed|lowest|smi|nmi|init|extint] [masked]</c>: writes both halves of redirection entry PIN; observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Pin">The IOAPIC pin, 0..23.</param>
/// <param name="Vector"><c>vector=</c> (required).</param>
/// <param name="Destination"><c>dest=</c>, default 0: 0..255, or 0..32767 with <c>ext-dest-id=on</c>.</param>
/// <param name="DestinationMode"><see cref="DestinationMode.Logical"/> with the <c>logical</c> flag, else physical.</param>
/// <param name="Trigger"><c>trigger=</c>, default <c>edge</c>.</param>
/// <param name="Polarity"><c>polarity=</c>, default <c>high</c>.</param>
/// <param name="Mode"><c>mode=</c>, default <c>fixed</c> (<c>lowest</c> is <see cref="DeliveryMode.LowestPriority"/>).</param>
/// <param name="Masked">True with the <c>masked</c> flag.</param>
public sealed record IoApicRouteStatement(SourceLine Source, int Pin, byte Vector, uint Destination, DestinationMode DestinationMode, TriggerMode Trigger, PinPolarity Polarity, DeliveryMode Mode, bool Masked)
    : Statement(Source);

/// <summary><c>irq PIN assert|deassert|pulse</c>: drives the input line of IOAPIC pin PIN; observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Pin">The IOAPIC pin, 0..23.</param>
/// <param name="Action">What is done to the line.</param>
public sealed record IrqStatement(SourceLine Source, int Pin, LineAction Action)
    : Statement(Source);

/// <summary>
/// <c>msi-route GSI ADDR DATA</c>: the VMM sets GSI's MSI route (a KVM_IRQ_ROUTING_MSI entry of
/// KVM_SET_GSI_ROUTING); with <c>split-irqchip=on</c> a level-triggered route (DATA bit 15) at a GSI
/// below 24 puts its vector in the EOI-exit set of the vCPUs it addresses. Observes nothing.
/// </summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Gsi">The GSI, 0..4095.</param>
/// <param name="Address">The MSI address.</param>
/// <param name="Data">The 32-bit MSI data.</param>
public sealed record MsiRouteStatement(SourceLine Source, int Gsi, ulong Address, uint Data)
    : Statement(Source);

/// <summary><c>gsi GSI</c>: the VMM raises GSI (KVM_IRQ_LINE, an irqfd): its MSI route is delivered. Observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Gsi">The GSI, 0..4095.</param>
public sealed record GsiStatement(SourceLine Source, int Gsi)
    : Statement(Source);

/// <summary><c>msi ADDR DATA</c>: a device's MSI write in the x86 address/data format; observes nothing.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Address">The MSI address.</param>
/// <param name="Data">The 32-bit MSI data.</param>
public sealed record MsiStatement(SourceLine Source, ulong Address, uint Data)
    : Statement(Source);

/// <summary><c>advance DURATION</c>: virtual time passes; timers that fall due fire in order.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Nanoseconds">The duration in nanoseconds, 0 or more.</param>
public sealed record AdvanceStatement(SourceLine Source, long Nanoseconds)
    : Statement(Source);

/// <summary><c>pic raise VECTOR</c>: the external 8259 raises INTR (wired to every LINT0) and will answer the acknowledge with VECTOR.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Vector">The vector the 8259 answers with.</param>
public sealed record PicRaiseStatement(SourceLine Source, byte Vector)
    : Statement(Source);

/// <summary><c>pic lower</c>: the external 8259 lowers INTR.</summary>
/// <param name="Source">Where the statement is written.</param>
public sealed record PicLowerStatement(SourceLine Source)
    : Statement(Source);
