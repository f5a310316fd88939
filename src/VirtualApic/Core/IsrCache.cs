// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using VirtualApic.Registers;

namespace VirtualApic.Core;

/// <summary>
/// The ISR's derived cache, kept with every change the APIC makes to the ISR: the number of
/// in-service vectors and the highest one, so that the EOI of the only in-service vector and the PPR
/// after it cost no scan. KVM keeps the same pair (<c>isr_count</c>, <c>highest_isr_cache</c>).
/// </summary>
/// <remarks>
/// The ISR bits themselves stay in the page (the single source of truth); these members change the
/// page and the cache together. Anything else that changes the ISR (a hardware assist's virtual EOI,
/// a restore) calls <see cref="Refresh"/>. Owner thread only, like the ISR. A mutable struct held in
/// one <see cref="LocalApic"/> field and only ever used in place: a copy would be a second cache
/// that drifts from the page.
/// </remarks>
internal struct IsrCache
{
    // _highest while _count > 0: the highest in-service vector, or Unknown when a scan must find it.
    private const int Unknown = -2;
    private int _count;
    private int _highest;

    // Whether _highest was set by SetInService and nothing cleared or re-derived it since (LastSetInService).
    private bool _highestSetInService;

    /// <summary>The number of in-service vectors.</summary>
    public readonly int Count => _count;

    /// <summary>The highest in-service vector as cached: -1 when none, null while a scan is owed. Inspection only.</summary>
    public readonly int? StoredHighest => _count == 0 ? -1 : _highest == Unknown ? null : _highest;

    /// <summary>
    /// The highest in-service vector when it is the one last put in service and nothing left service
    /// or was re-derived since, else -1: KVM's <c>highest_isr_cache</c> (arch/x86/kvm/lapic.c
    /// <c>apic_set_isr</c>, <c>apic_clear_isr</c>), which PV EOI arms its flag for.
    /// </summary>
    public readonly int LastSetInService => _highestSetInService ? _highest : -1;

    /// <summary>The highest in-service vector, or -1; scans <paramref name="page"/> once when the cache does not know it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Highest(PageWords page)
    {
        if (_count == 0)
        {
            return -1;
        }

        if (_highest == Unknown)
        {
            _highest = page.HighestVector(ApicOffset.Isr);
        }

        return _highest;
    }

    /// <summary>
    /// Puts <paramref name="vector"/> in service (the acknowledge). The vector outranks everything in
    /// service, since it was deliverable (its class above PPR), so it becomes the cached highest.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetInService(PageWords page, int vector)
    {
        if (!page.TestKnownVector(ApicOffset.Isr, vector))
        {
            page.SetKnownVector(ApicOffset.Isr, vector);
            _count++;
            _highest = vector;
            _highestSetInService = true;
        }
    }

    /// <summary>Takes the highest vector out of service (the EOI). Returns it, or -1 when nothing was in service.</summary>
    public int ClearHighest(PageWords page)
    {
        int v = Highest(page);
        if (v < 0)
        {
            return -1;
        }

        page.ClearKnownVector(ApicOffset.Isr, v);
        _count--;
        _highest = Unknown; // the next one down, if any, is found by a scan when asked for
        _highestSetInService = false;
        return v;
    }

    /// <summary>Re-derives the cache from the page after something else changed the ISR (KVM commit 97a71c444a14).</summary>
    public void Refresh(PageWords page)
    {
        _count = page.CountVectors(ApicOffset.Isr);
        _highest = Unknown;
        _highestSetInService = false;
    }

    /// <summary>Empties the ISR in <paramref name="page"/> and the cache (RESET, INIT).</summary>
    public void Clear(PageWords page)
    {
        page.ClearVectors(ApicOffset.Isr);
        _count = 0;
        _highest = Unknown;
        _highestSetInService = false;
    }
}
