// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Immutable;
using System.Numerics;
using VirtualApic.Core;
using VirtualApic.Registers;
using VirtualApic.Time;

namespace VirtualApic.Devices;

// What this model leaves out (KVM's in-kernel IOAPIC has these; none changes what a guest sees through
// the registers below):
// - RTC (pin 8) EOI tracking, which KVM keeps only to report coalesced ticks to userspace
//   (KVM_IRQ_LINE_STATUS with rtc_status.pending_eoi).
// - IRQ ack notifiers and mask notifiers (assigned devices, PIT re-injection).
// - Several interrupt sources per pin (KVM ORs its per-source irq_states); the caller drives the
//   combined line.
// - The lazy EOI update for edge interrupts under AVIC (RTC only).
// - Moving the base address at run time (kvm_ioapic_state.base_address).
// - The I/O xAPIC's IRQ pin assertion register (0x20) and boot configuration register (index 0x03).

/// <summary>
/// A 24-pin IOAPIC in the 82093AA style, modelled on Linux KVM's in-kernel IOAPIC
/// (arch/x86/kvm/ioapic.c). Version 0x20 adds the EOI register of the I/O xAPIC.
/// </summary>
/// <remarks>
/// <para>
/// <b>Registers.</b> IOREGSEL at offset 0x00 (8 bits), IOWIN at 0x10, and with version 0x20 the write-only
/// EOI register at 0x40. Through IOWIN: index 0x00 ID (bits 27:24 writable), 0x01 VER (read-only:
/// version in 7:0, 23 = highest entry in 23:16), 0x02 ARB (read-only, reads as the ID register, as KVM
/// does), 0x10+2n / 0x11+2n the low / high half of redirection entry n. Other indexes read 0xFFFFFFFF
/// and ignore writes, as KVM does. Every RTE bit is stored as written except delivery status and
/// Remote IRR, which are read-only; writing an entry as edge-triggered clears Remote IRR.
/// </para>
/// <para>
/// <b>MMIO access sizes</b> (KVM <c>ioapic_mmio_read</c> / <c>ioapic_mmio_write</c>): the offset is decoded
/// exactly, so only 0x00, 0x10 and 0x40 do anything; any other offset, unaligned ones included, reads 0
/// and ignores writes. A write of 1, 2, 4 or 8 bytes writes its low 1, 2, 4 or 4 bytes, zero-extended,
/// to the whole 32-bit register (so a byte write to IOWIN clears bits 31:8 of the selected register). A
/// read of 1, 2, 4 or 8 bytes returns the low 1, 2, 4 or 4 bytes of the register. Other sizes read 0 and
/// are ignored on write.
/// </para>
/// <para>
/// <b>Lines.</b> <see cref="SetLine"/> takes the logical level (asserted or not). Like KVM, the IOAPIC does
/// not apply the polarity bit itself: the bit is stored and read back, and the caller (the board
/// model) is the one that knows a line is active low. An edge-triggered pin delivers on a rising edge
/// only; a level-triggered pin delivers while asserted, unmasked and Remote IRR clear.
/// </para>
/// <para>
/// <b>Threading.</b> One lock guards all state. Deliveries to the <see cref="IIoApicSink"/> happen with the
/// lock held (as in KVM), so Remote IRR is set atomically with the delivery it records. Any thread may
/// call any member; the sink may read but not change the IOAPIC from inside
/// <see cref="IIoApicSink.Deliver"/>. <see cref="IIoApicSink.DeliveriesCompleted"/> and
/// <see cref="IIoApicSink.RedirectionTableChanged"/> are called after the lock is released (the VM raises
/// the kicks of its deliveries there). The delayed re-injection after an EOI storm runs on the thread
/// that advances the <see cref="VirtualClock"/>, which is safe to arm from any thread.
/// </para>
/// <para>
/// <b>Allocation.</b> Line changes, deliveries, EOIs and register accesses allocate nothing.
/// </para>
/// </remarks>
public sealed class IoApic
{
    /// <summary>The number of input pins and redirection entries.</summary>
    public const int PinCount = 24;

    /// <summary>The usual guest-physical base, 0xFEC00000.</summary>
    public const ulong DefaultBaseAddress = 0xFEC0_0000;

    /// <summary>The size of the register window in bytes (KVM's <c>IOAPIC_MEM_LENGTH</c>).</summary>
    public const ulong MmioLength = 0x100;

    /// <summary>Offset of IOREGSEL, the register index.</summary>
    public const ulong RegisterSelectOffset = 0x00;

    /// <summary>Offset of IOWIN, the data window onto the selected register.</summary>
    public const ulong WindowOffset = 0x10;

    /// <summary>Offset of the EOI register (version 0x20 only; write-only, bits 7:0 the vector).</summary>
    public const ulong EoiOffset = 0x40;

    /// <summary>Register index of the ID register.</summary>
    public const uint IdIndex = 0x00;

    /// <summary>Register index of the version register.</summary>
    public const uint VersionIndex = 0x01;

    /// <summary>Register index of the arbitration register.</summary>
    public const uint ArbitrationIndex = 0x02;

    /// <summary>Register index of the low half of redirection entry 0; entry n is at 0x10+2n and 0x11+2n.</summary>
    public const uint RedirectionTableIndex = 0x10;

    /// <summary>What a read of an index that names no register returns (KVM reads all-ones).</summary>
    public const uint UnimplementedRegisterValue = 0xFFFF_FFFF;

    /// <summary>
    /// EOI-storm threshold (KVM's <c>IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT</c>): the 10 000th EOI in a row that
    /// finds a pin's level line still asserted does not re-deliver at once but schedules a delayed
    /// injection.
    /// </summary>
    public const int StormThreshold = 10_000;

    /// <summary>The delay of a throttled re-injection: 10 ms (KVM's <c>HZ / 100</c>).</summary>
    public const long StormDelayNs = 10_000_000;

    /// <summary>The ID register's writable bits, 27:24.</summary>
    public const uint IdWriteMask = 0x0F00_0000;

    private const uint LowHalfMask = 0xFFFF_FFFF;
    private const uint AllPinsMask = (1u << PinCount) - 1;
    private const int NoChange = -2;
    private const int WholeTable = -1;

    private readonly IoApicLock _lock = new();
    private readonly IIoApicSink _sink;
    private readonly VirtualClock _clock;
    private readonly ClockTimer _delayedInjection;
    private readonly ulong[] _entries = new ulong[PinCount];
    private readonly uint[] _eoiCounters = new uint[PinCount];

    // The pins whose entry has each vector (bits 7:0), so that an EOI visits only its own pins, not
    // all 24. Kept with _entries, under the lock.
    private readonly uint[] _pinsOfVector = new uint[256];

    // KVM's ioapic->irr: the asserted input lines. For edge pins the line stays high until deasserted,
    // which is what makes a second assert of a high line a coalesced no-op. A deassert lowers its line
    // without the lock (SetLine); one byte per pin lets both it and a level assert be a plain store.
    private LineLevels _lines;

    // KVM's irr_delivered: edge pins delivered since their line last rose. Kept only for KvmIrr.
    private uint _irrDelivered;
    private byte _id;
    private byte _ioRegSel;

    /// <summary>Creates an IOAPIC in its reset state: every entry masked, every line deasserted.</summary>
    /// <param name="sink">Where messages go, and who hears about redirection-table changes.</param>
    /// <param name="clock">The VM's clock, for the throttled re-injection after an EOI storm.</param>
    /// <param name="options">Version and base address; null for the defaults (0x11 at 0xFEC00000).</param>
    /// <exception cref="ArgumentNullException"><paramref name="sink"/> or <paramref name="clock"/> is null.</exception>
    /// <exception cref="ArgumentException">The version is not 0x11 or 0x20, or the base address is not
    /// 256-byte aligned.</exception>
    public IoApic(IIoApicSink sink, VirtualClock clock, IoApicOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(clock);
        options ??= new IoApicOptions();
        if (options.Version is not (IoApicVersion.Version11 or IoApicVersion.Version20))
        {
            throw new ArgumentException(
                $"IoApicOptions.Version must be 0x11 or 0x20; got 0x{(byte)options.Version:x2}.", nameof(options));
        }

        if ((options.BaseAddress & (MmioLength - 1)) != 0)
        {
            throw new ArgumentException(
                $"IoApicOptions.BaseAddress must be 256-byte aligned; got 0x{options.BaseAddress:x}.", nameof(options));
        }

        _sink = sink;
        _clock = clock;
        Version = options.Version;
        ExtendedDestinationId = options.ExtendedDestinationId;
        _extendedDestinationId = options.ExtendedDestinationId;
        BaseAddress = options.BaseAddress;
        _delayedInjection = new ClockTimer(clock, OnDelayedInjection);
        _entries.AsSpan().Fill(RedirectionEntry.ResetValue);
        IndexVectorsLocked();
    }

    /// <summary>Whether redirection-entry bits 55:49 are destination bits 14:8 (<see cref="IoApicOptions.ExtendedDestinationId"/>).</summary>
    public bool ExtendedDestinationId { get; }

    private readonly bool _extendedDestinationId;

    /// <summary>The version this IOAPIC reports; 0x20 also has the EOI register.</summary>
    public IoApicVersion Version { get; }

    /// <summary>The guest-physical base of the register window.</summary>
    public ulong BaseAddress { get; }

    /// <summary>True while a throttled re-injection is scheduled on the clock.</summary>
    public bool IsDelayedInjectionPending
    {
        get
        {
            using (_lock.EnterScope())
            {
                return _delayedInjection.IsArmed;
            }
        }
    }

    /// <summary>True when <paramref name="address"/> falls in this IOAPIC's 256-byte window.</summary>
    /// <param name="address">A guest-physical address.</param>
    /// <returns>Whether the fabric should route the access here (at offset address - base).</returns>
    public bool ContainsAddress(ulong address) => address - BaseAddress < MmioLength;

    /// <summary>A guest load from the register window (see the type's remarks for sizes and offsets).</summary>
    /// <param name="offset">The offset from <see cref="BaseAddress"/>, below <see cref="MmioLength"/>.</param>
    /// <param name="size">The access size in bytes.</param>
    /// <returns>The value loaded, zero-extended.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is outside the window (a
    /// routing error in the caller, not something a guest can cause).</exception>
    public uint MmioRead(ulong offset, int size)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(offset, MmioLength);
        uint value;
        using (_lock.EnterScope())
        {
            value = offset switch
            {
                RegisterSelectOffset => _ioRegSel,
                WindowOffset => ReadIndirectLocked(_ioRegSel),
                _ => 0, // unaligned offsets, the write-only EOI register and unused space
            };
        }

        return size switch
        {
            1 => value & 0xFF,
            2 => value & 0xFFFF,
            4 or 8 => value,
            _ => 0, // KVM leaves the caller's buffer untouched; a zero is our "nothing"
        };
    }

    /// <summary>A guest store to the register window (see the type's remarks for sizes and offsets).</summary>
    /// <param name="offset">The offset from <see cref="BaseAddress"/>, below <see cref="MmioLength"/>.</param>
    /// <param name="value">The value stored; only its low <paramref name="size"/> bytes (at most 4) count.</param>
    /// <param name="size">The access size in bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is outside the window.</exception>
    /// <exception cref="InvalidOperationException">Called from inside <see cref="IIoApicSink.Deliver"/>.</exception>
    public void MmioWrite(ulong offset, ulong value, int size)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(offset, MmioLength);
        uint data;
        switch (size)
        {
            case 8:
            case 4:
                data = (uint)value;
                break;
            case 2:
                data = (ushort)value;
                break;
            case 1:
                data = (byte)value;
                break;
            default:
                return;
        }

        int changed = NoChange;
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();
            switch (offset)
            {
                case RegisterSelectOffset:
                    _ioRegSel = (byte)data;
                    break;
                case WindowOffset:
                    changed = WriteIndirectLocked(_ioRegSel, data);
                    break;
                case EoiOffset:
                    EoiRegisterLocked(data);
                    break;
                default:
                    break;
            }
        }

        Notify(changed);
    }

    /// <summary>Reads the register at <paramref name="index"/> directly, as IOWIN would with IOREGSEL = index.
    /// IOREGSEL itself is not changed and the read has no side effects.</summary>
    /// <param name="index">The register index; indexes that name no register read
    /// <see cref="UnimplementedRegisterValue"/>.</param>
    /// <returns>The register value.</returns>
    public uint ReadRegister(uint index)
    {
        using (_lock.EnterScope())
        {
            return ReadIndirectLocked(index);
        }
    }

    /// <summary>Writes the register at <paramref name="index"/> directly, as IOWIN would with IOREGSEL = index.
    /// IOREGSEL itself is not changed.</summary>
    /// <param name="index">The register index; writes to indexes that name no writable register are ignored.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="InvalidOperationException">Called from inside <see cref="IIoApicSink.Deliver"/>.</exception>
    public void WriteRegister(uint index, uint value)
    {
        int changed;
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();
            changed = WriteIndirectLocked(index, value);
        }

        Notify(changed);
    }

    /// <summary>
    /// Writes redirection entry <paramref name="pin"/> the way Linux does: high half first, then low half,
    /// each with the effects of a register write (including a delivery the low half may cause), under one
    /// lock acquisition, with one <see cref="IIoApicSink.RedirectionTableChanged"/> at the end.
    /// </summary>
    /// <param name="pin">The pin, 0..23.</param>
    /// <param name="entry">The entry; its read-only bits are ignored.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pin"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">Called from inside <see cref="IIoApicSink.Deliver"/>.</exception>
    public void WriteEntry(int pin, RedirectionEntry entry)
    {
        ThrowIfBadPin(pin);
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();
            uint low = RedirectionTableIndex + (2 * (uint)pin);
            WriteIndirectLocked(low + 1, entry.High);
            WriteIndirectLocked(low, entry.Low);
        }

        Notify(pin);
    }

    /// <summary>
    /// A store to the EOI register (offset 0x40), the same as <c>MmioWrite(EoiOffset, value, 4)</c>: on
    /// version 0x20, clears Remote IRR of every level-triggered entry whose vector is bits 7:0 of
    /// <paramref name="value"/> and re-delivers those whose line is still asserted (with the same
    /// EOI-storm throttling as <see cref="OnLocalEoi"/>). Ignored on version 0x11, which has no EOI register.
    /// </summary>
    /// <param name="value">The value written; bits 31:8 are ignored.</param>
    /// <exception cref="InvalidOperationException">Called from inside <see cref="IIoApicSink.Deliver"/>.</exception>
    public void WriteEoiRegister(uint value)
    {
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();
            EoiRegisterLocked(value);
        }

        _sink.DeliveriesCompleted();
    }

    /// <summary>
    /// Drives input pin <paramref name="pin"/> (KVM <c>ioapic_set_irq</c>). Deasserting only lowers the line.
    /// Asserting an edge-triggered pin delivers only on a rising edge: asserting a line that is already
    /// high is coalesced. Asserting a level-triggered pin tries a delivery every time, which happens when
    /// the entry is unmasked and its Remote IRR clear. A masked edge is lost, as the 82093AA datasheet says
    /// and KVM does; a masked level is held and delivered when unmasked while still asserted.
    /// </summary>
    /// <param name="pin">The pin, 0..23.</param>
    /// <param name="asserted">The logical level: true to assert, whatever the entry's polarity bit says.</param>
    /// <returns>KVM's line status: 1 for a deassert; 0 for a coalesced edge or a delivery no local APIC
    /// accepted; -1 when the entry is masked, Remote IRR blocks it, or no local APIC matched; otherwise
    /// the number of local APICs that accepted the interrupt.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pin"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">Called from inside <see cref="IIoApicSink.Deliver"/>.</exception>
    public int SetLine(int pin, bool asserted)
    {
        ThrowIfBadPin(pin);
        if (!asserted)
        {
            // A deassert only lowers the line and delivers nothing (KVM ioapic_set_irq with level 0),
            // so it needs no lock: one store to the pin's own byte (LineLevels).
            ThrowIfDeliveringOnThisThread();
            _lines.Set(pin, false);
            return 1;
        }

        int status;
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();
            status = SetLineLocked(pin, asserted);
        }

        _sink.DeliveriesCompleted(); // kicks reach the embedder outside the lock
        return status;
    }

    /// <summary>Asserts then deasserts <paramref name="pin"/> at once (an edge). On a line already held
    /// high the assert is coalesced and the pulse leaves the line low, as KVM's two calls would.</summary>
    /// <param name="pin">The pin, 0..23.</param>
    /// <returns>The status of the assert, as <see cref="SetLine"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pin"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">Called from inside <see cref="IIoApicSink.Deliver"/>.</exception>
    public int Pulse(int pin)
    {
        ThrowIfBadPin(pin);
        int status;
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();
            status = SetLineLocked(pin, true);
            SetLineLocked(pin, false);
        }

        _sink.DeliveriesCompleted();
        return status;
    }

    /// <summary>
    /// A local APIC's EOI broadcast (KVM <c>kvm_ioapic_update_eoi</c>). The fabric calls this when a local
    /// APIC EOIs a vector in its set of IOAPIC-handled vectors. When <paramref name="trigger"/> is level
    /// and <paramref name="directedEoi"/> is false, every entry whose vector is <paramref name="vector"/>
    /// gets its Remote IRR cleared and, if unmasked with its line still asserted, is delivered again,
    /// except that the 10 000th such EOI in a row for a pin schedules the delivery
    /// <see cref="StormDelayNs"/> later instead (see <see cref="StormThreshold"/>).
    /// </summary>
    /// <param name="vcpuIndex">The vCPU whose local APIC EOIed (non-negative).</param>
    /// <param name="vector">The vector EOIed.</param>
    /// <param name="trigger">The local APIC's TMR bit for the vector: an edge EOI does nothing here.</param>
    /// <param name="directedEoi">True when that local APIC's SVR bit 12 (suppress EOI broadcast) is set:
    /// KVM then leaves Remote IRR alone, and the guest must use the EOI register.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vcpuIndex"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">Called from inside <see cref="IIoApicSink.Deliver"/>.</exception>
    public void OnLocalEoi(int vcpuIndex, byte vector, TriggerMode trigger, bool directedEoi)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpuIndex);
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();

            // KVM tests the trigger (the LAPIC's TMR bit) and SVR bit 12 per matching pin, after the ack
            // notifiers; with no notifiers modelled the test can be hoisted out of the loop.
            if (trigger != TriggerMode.Level || directedEoi)
            {
                return;
            }

            // KVM matches on the vector only, not on the entry's trigger mode: an edge entry sharing
            // the vector of a level one is re-delivered too if its line is high
            // (arch/x86/kvm/ioapic.c, kvm_ioapic_update_eoi_one: the trigger check is an ASSERT).
            // Lowest pin first, as KVM's loop; a re-delivery cannot change the table (the sink may
            // only read it), so the set taken here stays true through the loop.
            for (uint pins = _pinsOfVector[vector]; pins != 0; pins &= pins - 1)
            {
                EoiPinLocked(BitOperations.TrailingZeroCount(pins));
            }
        }

        _sink.DeliveriesCompleted();
    }

    /// <summary>The redirection entry of <paramref name="pin"/>, read-only bits included.</summary>
    /// <param name="pin">The pin, 0..23.</param>
    /// <returns>The entry.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pin"/> is out of range.</exception>
    public RedirectionEntry GetEntry(int pin)
    {
        ThrowIfBadPin(pin);
        using (_lock.EnterScope())
        {
            return new RedirectionEntry(_entries[pin]);
        }
    }

    /// <summary>Whether the input line of <paramref name="pin"/> is asserted (the logical level the IOAPIC sees).</summary>
    /// <param name="pin">The pin, 0..23.</param>
    /// <returns>True when asserted.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pin"/> is out of range.</exception>
    public bool GetLine(int pin)
    {
        ThrowIfBadPin(pin);
        using (_lock.EnterScope())
        {
            return _lines.IsHigh(pin);
        }
    }

    /// <summary>The Remote IRR bit of <paramref name="pin"/>'s entry.</summary>
    /// <param name="pin">The pin, 0..23.</param>
    /// <returns>True while a delivered level-triggered interrupt awaits its EOI.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pin"/> is out of range.</exception>
    public bool GetRemoteIrr(int pin)
    {
        ThrowIfBadPin(pin);
        using (_lock.EnterScope())
        {
            return (_entries[pin] & RedirectionEntry.RemoteIrrBit) != 0;
        }
    }

    /// <summary>
    /// Resets the IOAPIC as a VMM's system reset does (QEMU <c>ioapic_reset_common</c> followed by
    /// KVM_SET_IRQCHIP): every entry becomes <see cref="RedirectionEntry.ResetValue"/> (masked, all else 0),
    /// ID, IOREGSEL, lines and EOI counters become 0, and a pending throttled injection is cancelled.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from inside <see cref="IIoApicSink.Deliver"/>.</exception>
    public void Reset()
    {
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();
            _delayedInjection.Cancel();
            _entries.AsSpan().Fill(RedirectionEntry.ResetValue);
            IndexVectorsLocked();
            Array.Clear(_eoiCounters);
            _lines.SetAll(0);
            _irrDelivered = 0;
            _id = 0;
            _ioRegSel = 0;
        }

        Notify(WholeTable);
    }

    /// <summary>Takes a complete snapshot of the IOAPIC.</summary>
    /// <returns>The snapshot.</returns>
    public IoApicState Save()
    {
        using (_lock.EnterScope())
        {
            return new IoApicState
            {
                Version = Version,
                Id = _id,
                IoRegSel = _ioRegSel,
                Entries = ImmutableArray.Create(_entries),
                Lines = _lines.ToMask(),
                IrrDelivered = _irrDelivered,
                EoiCounters = ImmutableArray.Create(_eoiCounters),
                DelayedInjectionDeadlineNs = _delayedInjection.IsArmed ? _delayedInjection.DeadlineNs : null,
            };
        }
    }

    /// <summary>
    /// Replaces the whole state with <paramref name="state"/>, exactly: nothing is delivered, and a pending
    /// throttled injection is re-armed at its saved deadline (it fires on the clock's next advance or
    /// <see cref="VirtualClock.RunDue"/> if that deadline has passed). Then raises
    /// <see cref="IIoApicSink.RedirectionTableChanged"/> for the whole table. A malformed state changes nothing.
    /// </summary>
    /// <param name="state">The snapshot, normally from <see cref="Save"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> is null.</exception>
    /// <exception cref="ArgumentException">A field of <paramref name="state"/> is malformed; the message
    /// names it.</exception>
    /// <exception cref="InvalidOperationException">Called from inside <see cref="IIoApicSink.Deliver"/>.</exception>
    public void Restore(IoApicState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Validate(state);
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();
            state.Entries.CopyTo(_entries);
            IndexVectorsLocked();
            state.EoiCounters.CopyTo(_eoiCounters);
            _lines.SetAll(state.Lines);
            _irrDelivered = state.IrrDelivered;
            _id = state.Id;
            _ioRegSel = state.IoRegSel;
            _delayedInjection.Cancel();
            if (state.DelayedInjectionDeadlineNs is { } deadline)
            {
                _delayedInjection.Arm(deadline);
            }
        }

        Notify(WholeTable);
    }

    /// <summary>Checks that <paramref name="state"/> can be restored here, changing nothing.</summary>
    /// <exception cref="ArgumentException">A field is malformed; the message names it.</exception>
    internal void Validate(IoApicState state)
    {
        if (state.Version != Version)
        {
            throw Malformed($"IoApicState.Version is 0x{(byte)state.Version:x2} but this IOAPIC is version 0x{(byte)Version:x2}.");
        }

        if (state.Id > 0xF)
        {
            throw Malformed($"IoApicState.Id must be 0..15 (a 4-bit ID); got {state.Id}.");
        }

        if (state.Entries.IsDefault || state.Entries.Length != PinCount)
        {
            throw Malformed($"IoApicState.Entries must hold {PinCount} entries; got {(state.Entries.IsDefault ? "none" : state.Entries.Length)}.");
        }

        for (int pin = 0; pin < PinCount; pin++)
        {
            var entry = new RedirectionEntry(state.Entries[pin]);
            if (entry.DeliveryStatus)
            {
                throw Malformed($"IoApicState.Entries[{pin}] has the delivery status bit (12) set; this IOAPIC never sets it.");
            }

            if (entry.RemoteIrr && entry.TriggerMode == TriggerMode.Edge)
            {
                throw Malformed($"IoApicState.Entries[{pin}] has Remote IRR set on an edge-triggered entry; an edge entry always has it clear.");
            }
        }

        if (state.Lines > AllPinsMask)
        {
            throw Malformed($"IoApicState.Lines has bits above pin {PinCount - 1}: 0x{state.Lines:x}.");
        }

        if (state.IrrDelivered > AllPinsMask)
        {
            throw Malformed($"IoApicState.IrrDelivered has bits above pin {PinCount - 1}: 0x{state.IrrDelivered:x}.");
        }

        if (state.EoiCounters.IsDefault || state.EoiCounters.Length != PinCount)
        {
            throw Malformed($"IoApicState.EoiCounters must hold {PinCount} counters; got {(state.EoiCounters.IsDefault ? "none" : state.EoiCounters.Length)}.");
        }

        for (int pin = 0; pin < PinCount; pin++)
        {
            if (state.EoiCounters[pin] >= StormThreshold)
            {
                throw Malformed($"IoApicState.EoiCounters[{pin}] must be below {StormThreshold}; got {state.EoiCounters[pin]}.");
            }
        }

        if (state.DelayedInjectionDeadlineNs < 0)
        {
            throw Malformed($"IoApicState.DelayedInjectionDeadlineNs must not be negative; got {state.DelayedInjectionDeadlineNs}.");
        }

        static ArgumentException Malformed(string message) => new(message, nameof(state));
    }

    private static void ThrowIfBadPin(int pin)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pin);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(pin, PinCount);
    }

    private void ThrowIfDelivering()
    {
        // Only the delivering thread re-enters the lock, so only it can get here while a delivery runs.
        if (_lock.IsDelivering)
        {
            throw new InvalidOperationException(
                "The IOAPIC was changed from inside IIoApicSink.Deliver; a sink may only read the IOAPIC while delivering.");
        }
    }

    // The lock-free deassert's form of ThrowIfDelivering.
    private void ThrowIfDeliveringOnThisThread()
    {
        if (_lock.IsDeliveringOnCurrentThread)
        {
            ThrowIfDelivering();
        }
    }

    /// <summary>Whether the calling thread is inside <see cref="IIoApicSink.Deliver"/> for this IOAPIC.</summary>
    internal bool IsDeliveringOnCurrentThread => _lock.IsDeliveringOnCurrentThread;

    // Rebuilds _pinsOfVector from the whole table (construction, reset, restore).
    private void IndexVectorsLocked()
    {
        Array.Clear(_pinsOfVector);
        for (int pin = 0; pin < PinCount; pin++)
        {
            _pinsOfVector[(byte)_entries[pin]] |= 1u << pin;
        }
    }

    private void Notify(int changed)
    {
        _sink.DeliveriesCompleted();
        if (changed != NoChange)
        {
            _sink.RedirectionTableChanged(changed);
        }
    }

    private uint ReadIndirectLocked(uint index)
    {
        switch (index)
        {
            case VersionIndex:
                return ((uint)(PinCount - 1) << 16) | (byte)Version;
            case IdIndex:
            case ArbitrationIndex:
                // KVM returns the ID for ARB as well (ioapic_read_indirect).
                return (uint)_id << 24;
            default:
                // Unsigned arithmetic, as KVM's: indexes 0x03..0x0F wrap around to far above the table.
                uint pin = (index - RedirectionTableIndex) >> 1;
                if (pin >= PinCount)
                {
                    return UnimplementedRegisterValue;
                }

                ulong entry = _entries[pin];
                return (index & 1) != 0 ? (uint)(entry >> 32) : (uint)entry;
        }
    }

    // Returns the pin whose entry was written, or NoChange.
    private int WriteIndirectLocked(uint index, uint value)
    {
        switch (index)
        {
            case IdIndex:
                _id = (byte)((value & IdWriteMask) >> 24);
                return NoChange;
            case VersionIndex:
            case ArbitrationIndex:
                return NoChange;
            default:
                break;
        }

        uint pinIndex = (index - RedirectionTableIndex) >> 1;
        if (pinIndex >= PinCount)
        {
            return NoChange;
        }

        int pin = (int)pinIndex;
        ulong old = _entries[pin];
        ulong entry = (index & 1) != 0
            ? (old & LowHalfMask) | ((ulong)value << 32)
            : (old & ~(ulong)LowHalfMask) | value;
        entry = (entry & ~RedirectionEntry.ReadOnlyBits) | (old & RedirectionEntry.ReadOnlyBits);

        // Linux (and Xen) clear a stuck Remote IRR on an IOAPIC without an EOI register by switching the
        // entry to edge and back; KVM and QEMU both clear Remote IRR whenever an entry is written as edge
        // (arch/x86/kvm/ioapic.c ioapic_write_indirect; hw/intc/ioapic.c ioapic_fix_edge_remote_irr).
        if ((entry & RedirectionEntry.LevelBit) == 0)
        {
            entry &= ~RedirectionEntry.RemoteIrrBit;
        }

        _entries[pin] = entry;
        if ((byte)entry != (byte)old)
        {
            _pinsOfVector[(byte)old] &= ~(1u << pin);
            _pinsOfVector[(byte)entry] |= 1u << pin;
        }

        // Any write to a level entry whose line is asserted retries the delivery (it goes through when
        // unmasked with Remote IRR clear): that is how unmasking a held level interrupt delivers it.
        // KVM does this after either half is written; edge entries need a new edge.
        if ((entry & RedirectionEntry.LevelBit) != 0 && _lines.IsHigh(pin))
        {
            ServiceLocked(pin);
        }

        return pin;
    }

    private int SetLineLocked(int pin, bool asserted)
    {
        if (!asserted)
        {
            _lines.Set(pin, false);
            return 1;
        }

        if ((_entries[pin] & RedirectionEntry.LevelBit) == 0)
        {
            // An edge needs the level before: atomically, or a deassert racing between a read and the
            // store would leave the line high with its rising edge taken for a coalesced one.
            _irrDelivered &= ~(1u << pin);
            if (_lines.Raise(pin))
            {
                return 0; // the line was already high: no edge, coalesced
            }
        }
        else
        {
            // A level pin delivers on every assert, whatever the line was: a plain store will do.
            _lines.Set(pin, true);
        }

        return ServiceLocked(pin);
    }

    // KVM ioapic_service: deliver pin's entry unless it is masked or a level entry still awaiting its EOI.
    private int ServiceLocked(int pin)
    {
        ulong raw = _entries[pin];
        bool level = (raw & RedirectionEntry.LevelBit) != 0;
        if ((raw & RedirectionEntry.MaskedBit) != 0 || (level && (raw & RedirectionEntry.RemoteIrrBit) != 0))
        {
            return -1;
        }

        var entry = new RedirectionEntry(raw);
        var message = new InterruptMessage(
            entry.Vector,
            entry.DeliveryMode,
            entry.DestinationMode,
            entry.DestinationId(_extendedDestinationId),
            entry.TriggerMode,
            Level: true,
            DestinationShorthand.None,
            InterruptSource.IoApic,
            SourceVcpu: -1);

        if (!level)
        {
            _irrDelivered |= 1u << pin;
        }

        int accepted;
        _lock.BeginDelivery();
        try
        {
            accepted = _sink.Deliver(in message);
        }
        finally
        {
            _lock.EndDelivery();
        }

        // KVM sets Remote IRR on any non-zero result, so -1 (no destination matched) sets it too and the
        // pin then waits for an EOI that no local APIC will send.
        if (accepted != 0 && level)
        {
            _entries[pin] |= RedirectionEntry.RemoteIrrBit;
        }

        return accepted;
    }

    // KVM kvm_ioapic_update_eoi_one, past its trigger and directed-EOI test.
    private void EoiPinLocked(int pin)
    {
        _entries[pin] &= ~RedirectionEntry.RemoteIrrBit;
        if ((_entries[pin] & RedirectionEntry.MaskedBit) == 0 && _lines.IsHigh(pin))
        {
            // A guest that EOIs without silencing the device would otherwise spin here forever. Real
            // hardware re-delivers a little later, so after StormThreshold immediate re-deliveries in a row
            // KVM defers one by 10 ms; the counter restarts either way.
            if (++_eoiCounters[pin] == StormThreshold)
            {
                _eoiCounters[pin] = 0;
                if (!_delayedInjection.IsArmed)
                {
                    // Like schedule_delayed_work: an injection already pending is not pushed back.
                    _delayedInjection.Arm(_clock.NowNs + StormDelayNs);
                }
            }
            else
            {
                ServiceLocked(pin);
            }
        }
        else
        {
            _eoiCounters[pin] = 0;
        }
    }

    private void EoiRegisterLocked(uint value)
    {
        if (Version != IoApicVersion.Version20)
        {
            return; // 0x11 has no EOI register: the store goes nowhere
        }

        // The I/O xAPIC compares bits 7:0 with each entry's vector. Unlike the local APIC broadcast this
        // does not depend on any local APIC's SVR bit 12: it is the EOI path a guest uses when it has
        // suppressed the broadcast. Edge entries have nothing to clear.
        for (uint pins = _pinsOfVector[(byte)value]; pins != 0; pins &= pins - 1)
        {
            int pin = BitOperations.TrailingZeroCount(pins);
            if ((_entries[pin] & RedirectionEntry.LevelBit) != 0)
            {
                EoiPinLocked(pin);
            }
        }
    }

    // KVM kvm_ioapic_eoi_inject_work: retry every level pin whose line is asserted and Remote IRR clear.
    private void OnDelayedInjection()
    {
        using (_lock.EnterScope())
        {
            ThrowIfDelivering();
            for (int pin = 0; pin < PinCount; pin++)
            {
                ulong raw = _entries[pin];
                if ((raw & RedirectionEntry.LevelBit) != 0
                    && (raw & RedirectionEntry.RemoteIrrBit) == 0
                    && _lines.IsHigh(pin))
                {
                    ServiceLocked(pin);
                }
            }
        }

        _sink.DeliveriesCompleted();
    }
}
