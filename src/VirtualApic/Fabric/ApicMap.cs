// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using System.Runtime.CompilerServices;
using VirtualApic.Core;

namespace VirtualApic.Fabric;

/// <summary>How the enabled APICs of a VM use logical destinations (KVM <c>KVM_APIC_MODE_*</c>).</summary>
public enum LogicalMapMode : byte
{
    /// <summary>No software-enabled APIC has a non-zero LDR.</summary>
    None,
    /// <summary>Every contributor is in xAPIC flat mode (DFR model 1111b).</summary>
    XApicFlat,
    /// <summary>Every contributor is in xAPIC cluster mode (DFR model 0000b).</summary>
    XApicCluster,
    /// <summary>Every contributor is in x2APIC mode (cluster addressing derived from the ID).</summary>
    X2Apic,
    /// <summary>Mixed modes, or logical IDs that are not one bit each or collide: the slow path decides.</summary>
    Disabled,
}

/// <summary>
/// An immutable snapshot of a VM's destination tables for fast IPI and device-interrupt routing
/// (KVM <c>struct kvm_apic_map</c>, lapic.c <c>kvm_recalculate_apic_map</c>): physical unicast in
/// O(1), logical multicast in O(16). Anything the tables cannot answer exactly (broadcast, aliased
/// IDs, mixed logical modes) is left to the slow path, which checks every APIC.
/// </summary>
public sealed class ApicMap
{
    // Physical slot -> APIC, keyed by the x2APIC ID in x2APIC mode and the 8-bit ID in xAPIC mode.
    private readonly LocalApic?[] _physical;
    private readonly byte[] _physicalCount;

    // Logical targets: xAPIC flat uses 8 slots (one per LDR bit); xAPIC cluster 15 x 4;
    // x2APIC reuses the physical table (cluster c, bit b is x2APIC ID 16c + b).
    private readonly LocalApic?[] _logical;
    private bool _shortcuts;

    // The logical targets as one table for every mode: member b of cluster c is slot
    // (c << _clusterShift) + b, so a lookup is an index and a bounds check, with no switch on the
    // mode (the router's multicast loop does one per member). x2APIC: the physical table itself when
    // whoever holds a slot is a member (KVM), else a copy holding only the x2APIC-mode holders;
    // xAPIC: _logical (flat: one cluster of 8; cluster: 15 of 4); no logical map: empty.
    private LocalApic?[] _members = [];
    private int _clusterShift;

    private ApicMap(int physicalSize, int logicalSize)
    {
        _physical = new LocalApic?[physicalSize];
        _physicalCount = new byte[physicalSize];
        _logical = new LocalApic?[logicalSize];
    }

    /// <summary>The logical addressing mode shared by the enabled APICs.</summary>
    public LogicalMapMode LogicalMode { get; private set; }

    /// <summary>Two present APICs claim the same physical ID (KVM inhibit PHYSICAL_ID_ALIASED).</summary>
    public bool PhysicalIdAliased { get; private set; }

    /// <summary>The logical map is disabled: logical IDs are not 1:1 with APICs (KVM inhibit LOGICAL_ID_ALIASED).</summary>
    public bool LogicalIdAliased => LogicalMode == LogicalMapMode.Disabled || PhysicalIdAliased;

    /// <summary>An xAPIC-mode APIC has an ID other than its vCPU index (KVM inhibit APIC_ID_MODIFIED).</summary>
    public bool ApicIdModified { get; private set; }

    /// <summary>An xAPIC-mode APIC has a vCPU index above 255 (addressable only by 32-bit ID, the slow path).</summary>
    public bool HasHighXApicIds { get; private set; }

    /// <summary>The largest physical ID the table covers.</summary>
    public int MaxId => _physical.Length - 1;

    /// <summary>
    /// Builds the map from the APICs' registers as of each one's last map change (a write of ID, LDR,
    /// DFR, SVR's enable bit or APIC_BASE, a reset or a restore: a register written into the page by
    /// other means counts once the APIC processes it, as a trap-like write's replay does). O(number of vCPUs).
    /// </summary>
    public static ApicMap Build(IReadOnlyList<LocalApic> apics) => Build(apics, use32BitIds: false, logicalMapShortcuts: true);

    /// <summary>
    /// Builds the map; with <paramref name="use32BitIds"/> (KVM <c>x2apic_format</c>,
    /// <see cref="X2ApicApiFlags.Use32BitIds"/>) physical slots are filed as KVM's
    /// <c>kvm_recalculate_phys_map</c> does then: by x2APIC ID for an APIC in x2APIC mode or with an ID
    /// above 255 (the hotplug rule of <c>kvm_apic_match_physical_addr</c>), by xAPIC ID only into a free
    /// slot, so an aliased xAPIC ID is ignored instead of disabling the fast path. With
    /// <paramref name="logicalMapShortcuts"/> (the profile switch of that name) the logical map is KVM's:
    /// every DFR that is not flat is cluster, and an x2APIC logical member is whoever holds the slot.
    /// </summary>
    public static ApicMap Build(IReadOnlyList<LocalApic> apics, bool use32BitIds, bool logicalMapShortcuts)
    {
        ArgumentNullException.ThrowIfNull(apics);

        // The walk reads the APICs as a span: through the interface, every element would be a call.
        return BuildFrom(apics as LocalApic[] ?? [.. apics], use32BitIds, logicalMapShortcuts);
    }

    private static ApicMap BuildFrom(ReadOnlySpan<LocalApic> apics, bool use32BitIds, bool logicalMapShortcuts)
    {
        int maxId = 255;
        foreach (var apic in apics)
        {
            maxId = Math.Max(maxId, (int)apic.X2ApicId);
        }

        var map = new ApicMap(maxId + 1, 15 * 4) { _shortcuts = logicalMapShortcuts };
        var mode = LogicalMapMode.None;
        bool logicalBroken = false;
        foreach (var apic in apics)
        {
            if (!apic.IsHardwareEnabled)
            {
                continue;
            }

            bool x2 = apic.IsX2Apic;
            int key = x2 ? (int)apic.X2ApicId : apic.MapXApicId;
            if (!x2)
            {
                map.ApicIdModified |= apic.MapXApicId != (byte)apic.VcpuId;
                map.HasHighXApicIds |= apic.VcpuId > 0xFF;
            }

            if (use32BitIds)
            {
                if (x2 || apic.X2ApicId > 0xFF)
                {
                    map._physical[apic.X2ApicId] = apic;
                    map._physicalCount[apic.X2ApicId] = 1;
                }

                if (!x2 && map._physicalCount[key] == 0)
                {
                    map._physical[key] = apic;
                    map._physicalCount[key] = 1;
                }
            }
            else
            {
                if (map._physicalCount[key] == 0)
                {
                    map._physical[key] = apic;
                }
                else
                {
                    map.PhysicalIdAliased = true;
                }

                map._physicalCount[key] = (byte)Math.Min(255, map._physicalCount[key] + 1);
            }

            // Logical contributors: software-enabled APICs with a non-zero LDR.
            uint ldr = apic.MapLdr;
            if (!apic.MapSoftwareEnabled || ldr == 0)
            {
                continue;
            }

            var own = x2 ? LogicalMapMode.X2Apic
                : apic.MapDfr == 0xFFFF_FFFF ? LogicalMapMode.XApicFlat
                : apic.MapDfr == 0x0FFF_FFFF || logicalMapShortcuts ? LogicalMapMode.XApicCluster
                : LogicalMapMode.Disabled;
            if (mode == LogicalMapMode.None)
            {
                mode = own;
            }
            else if (mode != own)
            {
                logicalBroken = true;
            }

            if (own is LogicalMapMode.XApicFlat or LogicalMapMode.XApicCluster && !logicalBroken)
            {
                // xAPIC logical IDs must be one bit each and unique to be tabled (KVM 2970052481b9).
                uint id = ldr >> 24;
                int slot = -1;
                if (own == LogicalMapMode.XApicFlat && BitOperations.IsPow2(id))
                {
                    slot = BitOperations.TrailingZeroCount(id);
                }
                else if (own == LogicalMapMode.XApicCluster && (id >> 4) < 0xF && BitOperations.IsPow2(id & 0xF))
                {
                    slot = ((int)(id >> 4) << 2) + BitOperations.TrailingZeroCount(id & 0xF);
                }

                if (slot < 0 || map._logical[slot] is not null)
                {
                    logicalBroken = true;
                }
                else
                {
                    map._logical[slot] = apic;
                }
            }
        }

        map.LogicalMode = logicalBroken ? LogicalMapMode.Disabled : mode;
        map.BuildMemberTable();
        return map;
    }

    private void BuildMemberTable()
    {
        switch (LogicalMode)
        {
            case LogicalMapMode.X2Apic:
                // The slot holds the APIC with that physical ID. Architecturally it is a logical target
                // only in x2APIC mode (its LDR is derived from that ID); KVM delivers to whoever holds
                // the slot (kvm_apic_map_get_logical_dest), as x2AVIC's physical ID table does.
                // Software-disabled APICs stay targets: they still accept NMI, SMI, INIT and SIPI
                // (SDM 11.4.7.2) and drop fixed vectors themselves; lowest-priority arbitration skips
                // them. A slot two APICs claim answers nobody. Without aliasing every held slot has a
                // count of 1, so under KVM's rule the physical table is the member table as it stands.
                _members = _shortcuts && !PhysicalIdAliased
                    ? _physical
                    : [.. _physical.Select((a, id) => a is not null && _physicalCount[id] == 1 && (_shortcuts || a.IsX2Apic) ? a : null)];
                _clusterShift = 4;
                break;
            case LogicalMapMode.XApicFlat:
                _members = _logical;
                _clusterShift = 3;
                break;
            case LogicalMapMode.XApicCluster:
                _members = _logical;
                _clusterShift = 2;
                break;
            default:
                break;
        }
    }

    /// <summary>The APIC at physical ID <paramref name="id"/> when exactly one claims it; null otherwise.</summary>
    public LocalApic? Physical(uint id)
    {
        PhysicalLookup(id, out var single);
        return single;
    }

    /// <summary>How many present APICs claim physical ID <paramref name="id"/>.</summary>
    public int PhysicalCount(uint id) => id < (uint)_physical.Length ? _physicalCount[id] : 0;

    /// <summary>
    /// <see cref="PhysicalCount"/> and <see cref="Physical"/> in one lookup, for the router's fast
    /// path: returns the count, and sets <paramref name="single"/> to the APIC when it is exactly one.
    /// </summary>
    internal int PhysicalLookup(uint id, out LocalApic? single)
    {
        var physical = _physical;
        if (id >= (uint)physical.Length)
        {
            single = null;
            return 0;
        }

        int count = _physicalCount[id];
        single = count == 1 ? physical[id] : null;
        return count;
    }

    /// <summary>
    /// The logical destination as a cluster base and a 16-bit member mask, when the map can answer;
    /// member <c>i</c> is <see cref="LogicalMember"/>(<paramref name="cluster"/>, i).
    /// </summary>
    public bool TryGetLogical(uint mda, out int cluster, out ushort mask)
    {
        switch (LogicalMode)
        {
            case LogicalMapMode.X2Apic:
                cluster = (int)(mda >> 16);
                mask = (ushort)mda;

                // The x2APIC logical targets are looked up in the physical table; with an aliased
                // slot it cannot say who is there (KVM discards the whole map: 5b84b0291702).
                return !PhysicalIdAliased;
            case LogicalMapMode.XApicFlat:
                cluster = 0;
                mask = (byte)mda;
                return true;
            case LogicalMapMode.XApicCluster:
                cluster = (int)((mda >> 4) & 0xF);
                mask = (ushort)(mda & 0xF);
                if (cluster == 0xF)
                {
                    // 0xF is the cluster broadcast; let the slow path match it.
                    cluster = 0;
                    mask = 0;
                    return false;
                }

                return true;
            case LogicalMapMode.None:
                cluster = 0;
                mask = 0;
                return true; // nobody has a logical ID: no target
            default:
                cluster = 0;
                mask = 0;
                return false;
        }
    }

    /// <summary>Member <paramref name="bit"/> of a logical cluster from <see cref="TryGetLogical"/>, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LocalApic? LogicalMember(int cluster, int bit)
    {
        var members = _members;
        long slot = ((long)cluster << _clusterShift) + bit;
        return (ulong)slot < (ulong)members.Length ? members[slot] : null;
    }

    /// <summary>Whether <paramref name="destination"/> is the physical broadcast for a target in the given mode.</summary>
    public static bool IsBroadcast(uint destination, bool targetX2Apic) =>
        destination == (targetX2Apic ? 0xFFFF_FFFFu : 0xFFu);
}
