// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using System.Runtime.CompilerServices;
using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;

namespace VirtualApic.Fabric;

/// <summary>
/// Delivers interrupt messages to the local APICs they address (KVM <c>kvm_irq_delivery_to_apic</c>
/// with its map fast path and its slow path). Allocation-free; safe from any thread.
/// </summary>
public sealed class InterruptRouter
{
    private readonly LocalApic[] _apics;
    private readonly ApicProfile _profile;
    private readonly bool _deviceBroadcastQuirk;
    private readonly bool _use32BitIds;
    private readonly Lock _rebuildLock = new();
    private readonly StripedCounters _slowPath; // a slot per sending vCPU, the last for devices
    private volatile ApicMap _map;
    private volatile bool _dirty;

    /// <summary>Creates a router over the VM's APICs (index = vCPU index).</summary>
    public InterruptRouter(LocalApic[] apics, ApicProfile profile)
        : this(apics, profile, X2ApicApiFlags.None)
    {
    }

    /// <summary>Creates a router over the VM's APICs (index = vCPU index) with the VMM's <c>KVM_CAP_X2APIC_API</c> flags.</summary>
    public InterruptRouter(LocalApic[] apics, ApicProfile profile, X2ApicApiFlags x2ApicApi)
    {
        ArgumentNullException.ThrowIfNull(apics);
        ArgumentNullException.ThrowIfNull(profile);
        _apics = apics;
        _slowPath = new StripedCounters(apics.Length + 1);
        _profile = profile;
        _deviceBroadcastQuirk = profile.DeviceBroadcastQuirk && (x2ApicApi & X2ApicApiFlags.DisableBroadcastQuirk) == 0;
        _use32BitIds = (x2ApicApi & X2ApicApiFlags.Use32BitIds) != 0;
        _map = ApicMap.Build(apics, _use32BitIds, profile.LogicalMapShortcuts);
    }

    /// <summary>Whether the map follows KVM's logical map (the profile switch <c>LogicalMapShortcuts</c>).</summary>
    public bool LogicalMapShortcuts => _profile.LogicalMapShortcuts;

    /// <summary>Whether the map files APICs as KVM does with <see cref="X2ApicApiFlags.Use32BitIds"/>.</summary>
    public bool Uses32BitIds => _use32BitIds;

    /// <summary>Number of map rebuilds so far.</summary>
    public long MapRebuilds { get; private set; }

    /// <summary>
    /// Messages the map could not resolve, delivered by a scan of every APIC (broadcasts, aliased
    /// IDs, an xAPIC-mode target addressed by a 32-bit ID): statistics, counted per sending vCPU on
    /// cache lines of its own (<c>Core/StripedCounters</c>), read without stopping the senders. The
    /// map's path counts nothing, as KVM's does not: a count there was a line that every IPI wrote.
    /// </summary>
    public long SlowPathDeliveries => _slowPath.Sum();

    /// <summary>Marks the map stale; the next delivery (or <see cref="Map"/>) rebuilds it.</summary>
    public void Invalidate() => _dirty = true;

    /// <summary>The current map, rebuilt first if an ID, LDR, DFR, SVR or APIC_BASE changed.</summary>
    public ApicMap Map
    {
        get
        {
            if (_dirty)
            {
                Rebuild();
            }

            return _map;
        }
    }

    // Out of line: every delivery inlines the getter above, and the JIT's inlining budget is better
    // spent on the acceptance than on a rebuild that runs once per map change.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Rebuild()
    {
        lock (_rebuildLock)
        {
            if (_dirty)
            {
                _dirty = false;
                _map = ApicMap.Build(_apics, _use32BitIds, _profile.LogicalMapShortcuts);
                MapRebuilds++;
            }
        }
    }

    /// <summary>
    /// Delivers <paramref name="message"/>: returns how many APICs accepted it, or -1 when no APIC
    /// matched at all on the slow path (KVM's convention; the IOAPIC uses it for Remote-IRR).
    /// </summary>
    public int Deliver(in InterruptMessage message, LocalApic? source)
    {
        // KVM: a physical broadcast with lowest priority is delivered as fixed to all.
        if (message.DestinationMode == DestinationMode.Physical && message.Destination == 0xFF && IsLowestPriority(message))
        {
            return DeliverRouted(message with { DeliveryMode = DeliveryMode.Fixed, RedirectionHint = false }, source);
        }

        return DeliverRouted(message, source);
    }

    // The message stays where the caller built it (read field by field through the reference): a
    // copy reads it back as one wide load over the caller's narrow stores, which the CPU cannot
    // forward, a stall of a dozen cycles on every IPI.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int DeliverRouted(in InterruptMessage message, LocalApic? source)
    {
        if (TryDeliverFast(message, source, out int accepted))
        {
            return accepted;
        }

        return DeliverSlow(message, source);
    }

    // The sender's own slot; devices (no sender), and an APIC of another VM (the public Deliver takes
    // any), share the last one.
    private int SenderSlot(LocalApic? source) =>
        source is not null && (uint)source.VcpuId < (uint)_apics.Length ? source.VcpuId : _apics.Length;

    private static bool IsLowestPriority(in InterruptMessage m) =>
        m.DeliveryMode == DeliveryMode.LowestPriority || m.RedirectionHint;

    private bool IsBroadcast(in InterruptMessage m, LocalApic? source)
    {
        bool device = m.Source is InterruptSource.IoApic or InterruptSource.Msi;
        if (source is not null && !device)
        {
            // An IPI: the broadcast of the sender's mode (KVM kvm_apic_is_broadcast_dest).
            return m.Destination == (source.IsX2Apic ? 0xFFFF_FFFFu : 0xFFu);
        }

        if (_deviceBroadcastQuirk && device)
        {
            return m.Destination == 0xFF;
        }

        // No sender mode to go by: 0xFF is the broadcast of every xAPIC-mode target (SDM 11.6.2.1)
        // and 0xFFFFFFFF of every x2APIC-mode one (11.12.9), whatever mode the logical contributors
        // use; the slow path decides per target.
        return m.Destination is 0xFF or 0xFFFF_FFFF;
    }

    // Out of line for the reason HardwareIpi (Assist/Avic) is: the unicast's own budget, and the
    // caller's left for the take and EOI that follow it (docs/performance.md, "Thirty-fifth session").
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryDeliverFast(in InterruptMessage m, LocalApic? source, out int accepted)
    {
        accepted = 0;
        if (m.Shorthand == DestinationShorthand.Self && source is not null)
        {
            accepted = source.AcceptInterrupt(m) ? 1 : 0;
            return true;
        }

        if (m.Shorthand != DestinationShorthand.None)
        {
            return false;
        }

        var map = Map;
        if (IsBroadcast(m, source))
        {
            return false;
        }

        if (m.DestinationMode == DestinationMode.Physical)
        {
            uint id = m.Destination;
            int count = map.PhysicalLookup(id, out var target);
            if (count > 1 || (count == 0 && id > 0xFF && map.HasHighXApicIds))
            {
                return false; // aliased IDs, or an xAPIC-mode vCPU addressed by its 32-bit ID
            }

            if (target is not null)
            {
                accepted = target.AcceptInterrupt(m) ? 1 : 0;
            }

            return true;
        }

        return TryDeliverLogical(m, map, out accepted);
    }

    // A method of its own (not forced out of line): the JIT charges an inlined method's whole size to
    // the caller's inlining budget, and dynamic PGO inlines this only where logical delivery runs, so
    // a physical unicast (W3) no longer pays for it with the calls its EOI and IRET would inline.
    private bool TryDeliverLogical(in InterruptMessage m, ApicMap map, out int accepted)
    {
        accepted = 0;

        // The logical map holds software-enabled APICs only (KVM kvm_recalculate_logical_map), so in
        // KVM an xAPIC logical NMI/SMI/INIT/SIPI never reaches a software-disabled APIC; the SDM
        // says such an APIC still accepts them (11.4.7.2): the slow path matches every APIC.
        if (_profile.LogicalEventsReachDisabledApics && m.DeliveryMode is not (DeliveryMode.Fixed or DeliveryMode.LowestPriority))
        {
            return false;
        }

        if (!map.TryGetLogical(m.Destination, out int cluster, out ushort mask))
        {
            return false;
        }

        if (mask == 0)
        {
            return true;
        }

        if (IsLowestPriority(m) && BitOperations.PopCount(mask) > 1)
        {
            var chosen = _profile.LowestPriority == LowestPriorityArbitration.VectorHashing
                ? map.LogicalMember(cluster, NthSetBit(mask, m.Vector % BitOperations.PopCount(mask)))
                : LowestPriorityAmong(map, cluster, mask, m.Vector);

            // KVM: hashing onto an empty (disabled or absent) slot drops the interrupt.
            if (chosen is not null)
            {
                accepted = chosen.AcceptInterrupt(m) ? 1 : 0;
            }

            return true;
        }

        while (mask != 0)
        {
            int bit = BitOperations.TrailingZeroCount(mask);
            mask &= (ushort)(mask - 1);
            var target = map.LogicalMember(cluster, bit);
            if (target is not null && target.AcceptInterrupt(m))
            {
                accepted++;
            }
        }

        return true;
    }

    private static int NthSetBit(uint mask, int n)
    {
        for (int i = 0; i < n; i++)
        {
            mask &= mask - 1;
        }

        return BitOperations.TrailingZeroCount(mask);
    }

    private static LocalApic? LowestPriorityAmong(ApicMap map, int cluster, ushort mask, byte vector)
    {
        LocalApic? best = null;
        while (mask != 0)
        {
            int bit = BitOperations.TrailingZeroCount(mask);
            mask &= (ushort)(mask - 1);
            var candidate = map.LogicalMember(cluster, bit);
            if (candidate is { IsSoftwareEnabled: true } && Better(candidate, best, vector))
            {
                best = candidate;
            }
        }

        return best;
    }

    // SDM 11.6.2.4: a focus processor (the vector already in its IRR or ISR, focus checking on:
    // SVR bit 9 clear) wins; otherwise the lowest processor priority; ties to the higher APIC ID.
    // The IRR is the guest's: a vector still posted (APICv PIR) or in a bound IRR's inbox counts.
    private static bool Better(LocalApic candidate, LocalApic? best, byte vector)
    {
        if (best is null)
        {
            return true;
        }

        bool candidateFocus = IsFocus(candidate, vector);
        bool bestFocus = IsFocus(best, vector);
        if (candidateFocus != bestFocus)
        {
            return candidateFocus;
        }

        uint cp = GuestPpr(candidate) & 0xF0, bp = GuestPpr(best) & 0xF0;
        return cp != bp ? cp < bp : candidate.ApicId > best.ApicId;
    }

    // The APIC as its guest sees it: an in-service vector the guest ended by PV EOI is out of the ISR
    // already under an active assist (which never arms the flag), so it must be under none too, or a
    // sender's arbitration could tell them apart (fuzzer seed 5657366: 0x72 went to another vCPU).
    private static uint GuestPpr(LocalApic apic) =>
        apic.Cpu.EndedByGuest is int ended and >= 0 ? apic.PprAfterEndOf(ended) : apic.Ppr;

    private static bool IsFocus(LocalApic apic, byte vector) =>
        (apic.Words.Read(ApicOffset.Svr) & (1u << 9)) == 0
        && (apic.Words.TestVector(ApicOffset.Irr, vector)
            || (apic.Words.TestVector(ApicOffset.Isr, vector) && vector != apic.Cpu.EndedByGuest)
            || apic.IsInboxed(vector) || apic.Delivery.HoldsPending(apic, vector));

    private int DeliverSlow(in InterruptMessage m, LocalApic? source)
    {
        _slowPath.Increment(SenderSlot(source));
        int result = -1;
        bool lowest = IsLowestPriority(m);
        int candidates = 0;
        LocalApic? best = null;
        foreach (var apic in _apics)
        {
            if (!apic.IsHardwareEnabled || !MatchesDestination(apic, m, source))
            {
                continue;
            }

            if (!lowest)
            {
                result = Math.Max(result, 0) + (apic.AcceptInterrupt(m) ? 1 : 0);
            }
            else if (apic.IsSoftwareEnabled)
            {
                candidates++;
                if (_profile.LowestPriority == LowestPriorityArbitration.ProcessorPriority && Better(apic, best, m.Vector))
                {
                    best = apic;
                }
            }
        }

        if (candidates > 0 && _profile.LowestPriority == LowestPriorityArbitration.VectorHashing)
        {
            // The (vector mod N)-th candidate, in vCPU order (KVM kvm_vector_to_index); a second pass
            // instead of a bitmap keeps this allocation-free.
            int wanted = m.Vector % candidates;
            foreach (var apic in _apics)
            {
                if (apic.IsHardwareEnabled && apic.IsSoftwareEnabled && MatchesDestination(apic, m, source) && wanted-- == 0)
                {
                    best = apic;
                    break;
                }
            }
        }

        if (best is not null)
        {
            result = best.AcceptInterrupt(m) ? 1 : 0;
        }

        return result;
    }

    /// <summary>
    /// Whether <see cref="Deliver"/> would hand a fixed <paramref name="m"/> to <paramref name="target"/>:
    /// the logical map's answer where the fast path answers (KVM's map may differ from
    /// <c>kvm_apic_match_logical_addr</c>, see the profile switch <c>LogicalMapShortcuts</c>), else
    /// <see cref="MatchesDestination"/>. The hardware models ask this, so that their targets are the
    /// emulated path's.
    /// </summary>
    public bool Reaches(LocalApic target, in InterruptMessage m, LocalApic? source)
    {
        ArgumentNullException.ThrowIfNull(target);
        return m.Shorthand == DestinationShorthand.None && m.DestinationMode == DestinationMode.Logical
            ? ReachesLogical(target, m, source)
            : MatchesDestination(target, m, source);
    }

    // Out of line, as the logical half of MatchesDestination is: a hardware model's physical unicast,
    // the common IPI, then inlines the short physical test.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ReachesLogical(LocalApic target, in InterruptMessage m, LocalApic? source)
    {
        if (!IsBroadcast(m, source)
            && !(_profile.LogicalEventsReachDisabledApics && m.DeliveryMode is not (DeliveryMode.Fixed or DeliveryMode.LowestPriority)))
        {
            var map = Map;
            if (map.TryGetLogical(m.Destination, out int cluster, out ushort mask))
            {
                while (mask != 0)
                {
                    int bit = BitOperations.TrailingZeroCount(mask);
                    mask &= (ushort)(mask - 1);
                    if (ReferenceEquals(map.LogicalMember(cluster, bit), target))
                    {
                        return true;
                    }
                }

                return false;
            }
        }

        return MatchesDestination(target, m, source);
    }

    /// <summary>Whether <paramref name="target"/> is addressed by the message (KVM <c>kvm_apic_match_dest</c>).</summary>
    public bool MatchesDestination(LocalApic target, in InterruptMessage m, LocalApic? source)
    {
        switch (m.Shorthand)
        {
            case DestinationShorthand.Self:
                return ReferenceEquals(target, source);
            case DestinationShorthand.AllIncludingSelf:
                return true;
            case DestinationShorthand.AllExcludingSelf:
                return !ReferenceEquals(target, source);
            default:
                break;
        }

        uint mda = m.Destination;

        // KVM's broadcast quirk (kvm_apic_mda): a device's 0xFF reaches x2APIC-mode targets as 0xFFFFFFFF.
        if (_deviceBroadcastQuirk && m.Source is InterruptSource.IoApic or InterruptSource.Msi
            && mda == 0xFF && target.IsX2Apic)
        {
            mda = 0xFFFF_FFFF;
        }

        if (m.DestinationMode == DestinationMode.Physical)
        {
            return target.ReachedByPhysical(mda);
        }

        bool x2 = target.IsX2Apic;
        return ApicMap.IsBroadcast(mda, x2) || MatchesLogical(target, mda, x2);
    }

    // kvm_apic_match_logical_addr: x2APIC cluster and bits; xAPIC flat or cluster by the target's DFR.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool MatchesLogical(LocalApic target, uint mda, bool x2)
    {
        uint ldr = target.Ldr;
        if (x2)
        {
            return (ldr >> 16) == (mda >> 16) && (ldr & mda & 0xFFFF) != 0;
        }

        uint logicalId = ldr >> 24;
        return target.Dfr switch
        {
            0xFFFF_FFFF => (logicalId & mda) != 0,
            0x0FFF_FFFF => (logicalId >> 4) == (mda >> 4) && (logicalId & mda & 0xF) != 0,
            _ => false,
        };
    }
}
