// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace VirtualApic.Devices;

/// <summary>
/// A complete snapshot of an <see cref="IoApic"/>, from <see cref="IoApic.Save"/> and for
/// <see cref="IoApic.Restore"/>. Equality compares every field, the arrays element by element.
/// </summary>
/// <remarks>
/// This holds everything KVM's <c>struct kvm_ioapic_state</c> (KVM_GET_IRQCHIP) holds, plus what KVM loses
/// on a save: the delivered-edge bits and the EOI-storm throttle. KVM's snapshot reports
/// <c>irr &amp; ~irr_delivered</c> and its restore re-injects those lines
/// (arch/x86/kvm/ioapic.c, <c>kvm_get_ioapic</c>, <c>kvm_set_ioapic</c>); this snapshot is exact, so a
/// restore re-injects nothing. <see cref="KvmIrr"/> gives the value KVM would report.
/// </remarks>
public sealed record IoApicState
{
    /// <summary>The version of the IOAPIC that was saved; a restore requires the same version.</summary>
    public required IoApicVersion Version { get; init; }

    /// <summary>The 4-bit IOAPIC ID (ID register bits 27:24), 0..15.</summary>
    public required byte Id { get; init; }

    /// <summary>IOREGSEL, the 8-bit register index selected for IOWIN.</summary>
    public required byte IoRegSel { get; init; }

    /// <summary>The 24 redirection entries, raw, Remote IRR included.</summary>
    public required ImmutableArray<ulong> Entries { get; init; }

    /// <summary>The asserted input lines, bit n for pin n (KVM's <c>ioapic-&gt;irr</c>).</summary>
    public required uint Lines { get; init; }

    /// <summary>
    /// Edge-triggered pins delivered since their line last rose (KVM's <c>irr_delivered</c>). Cleared by
    /// the next rising edge, not by a deassert. It changes no behaviour; it only shapes <see cref="KvmIrr"/>.
    /// </summary>
    public required uint IrrDelivered { get; init; }

    /// <summary>
    /// Per pin, the EOIs in a row that found the level line still asserted and unmasked (KVM's
    /// <c>irq_eoi</c>); each is 0..<see cref="IoApic.StormThreshold"/> - 1.
    /// </summary>
    public required ImmutableArray<uint> EoiCounters { get; init; }

    /// <summary>
    /// The virtual time at which the throttled (delayed) re-injection falls due, or null when none is
    /// pending. Non-negative.
    /// </summary>
    public long? DelayedInjectionDeadlineNs { get; init; }

    /// <summary>The IRR that KVM_GET_IRQCHIP would report: asserted lines not already delivered as an edge.</summary>
    public uint KvmIrr => Lines & ~IrrDelivered;

    /// <summary>Field-by-field equality, comparing the arrays element by element.</summary>
    /// <param name="other">The other state.</param>
    /// <returns>True when every field is equal.</returns>
    public bool Equals(IoApicState? other) =>
        other is not null
        && Version == other.Version
        && Id == other.Id
        && IoRegSel == other.IoRegSel
        && SequenceEqual(Entries, other.Entries)
        && Lines == other.Lines
        && IrrDelivered == other.IrrDelivered
        && SequenceEqual(EoiCounters, other.EoiCounters)
        && DelayedInjectionDeadlineNs == other.DelayedInjectionDeadlineNs;

    /// <summary>A hash consistent with <see cref="Equals(IoApicState?)"/>.</summary>
    /// <returns>The hash.</returns>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Version);
        hash.Add(Id);
        hash.Add(IoRegSel);
        AddAll(ref hash, Entries);
        hash.Add(Lines);
        hash.Add(IrrDelivered);
        AddAll(ref hash, EoiCounters);
        hash.Add(DelayedInjectionDeadlineNs);
        return hash.ToHashCode();
    }

    // Records print arrays as their type name; print the values, in hex, so test failures are readable.
    // The record's generated ToString calls it, which IDE0051 cannot see.
#pragma warning disable IDE0051
    private bool PrintMembers(StringBuilder builder)
    {
        var c = CultureInfo.InvariantCulture;
        builder.Append(c, $"Version = 0x{(byte)Version:x2}, Id = {Id}, IoRegSel = 0x{IoRegSel:x2}, Entries = [");
        AppendHex(builder, Entries);
        builder.Append(c, $"], Lines = 0x{Lines:x6}, IrrDelivered = 0x{IrrDelivered:x6}, EoiCounters = [");
        AppendHex(builder, EoiCounters);
        builder.Append(c, $"], DelayedInjectionDeadlineNs = {DelayedInjectionDeadlineNs?.ToString(c) ?? "none"}");
        return true;
    }
#pragma warning restore IDE0051

    private static void AppendHex<T>(StringBuilder builder, ImmutableArray<T> items)
        where T : IFormattable
    {
        if (items.IsDefault)
        {
            builder.Append("default");
            return;
        }

        for (int i = 0; i < items.Length; i++)
        {
            builder.Append(i == 0 ? "0x" : ", 0x").Append(items[i].ToString("x", CultureInfo.InvariantCulture));
        }
    }

    private static bool SequenceEqual<T>(ImmutableArray<T> a, ImmutableArray<T> b)
        where T : IEquatable<T> =>
        a.IsDefault || b.IsDefault ? a.IsDefault == b.IsDefault : a.AsSpan().SequenceEqual(b.AsSpan());

    private static void AddAll<T>(ref HashCode hash, ImmutableArray<T> items)
    {
        if (items.IsDefault)
        {
            hash.Add(-1);
            return;
        }

        foreach (var item in items)
        {
            hash.Add(item);
        }
    }
}
