// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using VirtualApic.Core;

namespace VirtualApic.Hypervisor;

/// <summary>
/// The APIC-map facts that inhibit a hardware assist (APIC ID modified, physical IDs aliased, logical
/// IDs aliased), kept as counts that each APIC change updates in O(1): what one APIC contributes is
/// remembered, taken out and put back in when its ID, LDR, DFR, SVR or APIC_BASE changes. KVM derives
/// the same facts in <c>kvm_recalculate_apic_map</c>; rebuilding a whole map on every change is what
/// made a 4096-vCPU bring-up quadratic (issue 12 item 7). The answers equal those of a freshly built
/// <c>Fabric.ApicMap</c> for the same registers (a test and the fuzz oracle check it).
/// </summary>
/// <remarks>Not thread-safe: <see cref="ApicvInhibitPolicy"/> calls it under its lock.</remarks>
internal sealed class InhibitInputs
{
    private const int FlatSlots = 8;
    private const int ClusterSlots = 15 * 4;

    private readonly bool _use32BitIds;
    private readonly bool _logicalMapShortcuts;
    private readonly Contribution[] _of;
    private readonly int[] _physicalClaims;
    private readonly int[] _modeCount = new int[(int)LogicalKind.Unsupported + 1];
    private readonly int[] _flatClaims = new int[FlatSlots];
    private readonly int[] _clusterClaims = new int[ClusterSlots];
    private int _idModified;
    private int _physicalExtraClaims;
    private int _logicalFaults;

    /// <summary>Starts with no APIC counted; <see cref="Update"/> each one once to count it.</summary>
    /// <param name="vcpus">The number of vCPUs (the vCPU index is also the x2APIC ID).</param>
    /// <param name="use32BitIds">KVM <c>x2apic_format</c>: physical IDs are never counted as aliased (see <c>ApicMap.Build</c>).</param>
    /// <param name="logicalMapShortcuts">The profile switch: every DFR that is not flat counts as cluster.</param>
    public InhibitInputs(int vcpus, bool use32BitIds, bool logicalMapShortcuts)
    {
        _use32BitIds = use32BitIds;
        _logicalMapShortcuts = logicalMapShortcuts;
        _of = new Contribution[vcpus];
        _physicalClaims = new int[Math.Max(256, vcpus)];
    }

    // How an enabled APIC with a logical ID takes part in logical addressing (ApicMap.Build's rule).
    private enum LogicalKind : byte
    {
        None,
        XApicFlat,
        XApicCluster,
        X2Apic,
        Unsupported,
    }

    /// <summary>An xAPIC-mode APIC has an ID other than its vCPU index (KVM APICV_INHIBIT_REASON_APIC_ID_MODIFIED).</summary>
    public bool ApicIdModified => _idModified != 0;

    /// <summary>Two present APICs claim one physical ID (KVM APICV_INHIBIT_REASON_PHYSICAL_ID_ALIASED).</summary>
    public bool PhysicalIdAliased => _physicalExtraClaims != 0;

    /// <summary>
    /// Logical IDs are not 1:1 with APICs (KVM APICV_INHIBIT_REASON_LOGICAL_ID_ALIASED): the logical map
    /// would be disabled (mixed modes, an unsupported DFR, a logical ID that is not one bit or is
    /// claimed twice) or the physical IDs alias.
    /// </summary>
    public bool LogicalIdAliased
    {
        get
        {
            int modes = 0;
            for (int k = (int)LogicalKind.XApicFlat; k <= (int)LogicalKind.Unsupported; k++)
            {
                modes += _modeCount[k] != 0 ? 1 : 0;
            }

            return PhysicalIdAliased || modes > 1 || _modeCount[(int)LogicalKind.Unsupported] != 0 || _logicalFaults != 0;
        }
    }

    /// <summary>
    /// Whether what <paramref name="apic"/> contributes now is what is counted (a change of nothing the
    /// inhibits depend on, such as SVR enable with a zero LDR). Only the APIC's own thread updates its
    /// contribution, so that thread may ask without the policy's lock.
    /// </summary>
    public bool IsCounted(LocalApic apic) => Read(apic).SameAs(_of[apic.VcpuId]);

    /// <summary>Recounts what <paramref name="apic"/> contributes from its registers now. O(1).</summary>
    public void Update(LocalApic apic)
    {
        ref var entry = ref _of[apic.VcpuId];
        Count(entry, -1);
        entry = Read(apic);
        Count(entry, +1);
    }

    private Contribution Read(LocalApic apic)
    {
        if (!apic.IsHardwareEnabled)
        {
            return default;
        }

        bool x2 = apic.IsX2Apic;
        var c = new Contribution
        {
            Present = true,
            PhysicalId = x2 ? (int)apic.X2ApicId : apic.XApicId,
            IdModified = !x2 && apic.XApicId != (byte)apic.VcpuId,
            Slot = -1,
        };

        // Logical contributors: software-enabled APICs with a non-zero LDR.
        uint ldr = apic.Ldr;
        if (!apic.IsSoftwareEnabled || ldr == 0)
        {
            return c;
        }

        uint dfr = apic.Dfr;
        c.Logical = x2 ? LogicalKind.X2Apic
            : dfr == 0xFFFF_FFFF ? LogicalKind.XApicFlat
            : dfr == 0x0FFF_FFFF || _logicalMapShortcuts ? LogicalKind.XApicCluster
            : LogicalKind.Unsupported;

        // xAPIC logical IDs must be one bit each (KVM 2970052481b9); cluster 0xF is the broadcast.
        uint id = ldr >> 24;
        if (c.Logical == LogicalKind.XApicFlat && BitOperations.IsPow2(id))
        {
            c.Slot = BitOperations.TrailingZeroCount(id);
        }
        else if (c.Logical == LogicalKind.XApicCluster && (id >> 4) < 0xF && BitOperations.IsPow2(id & 0xF))
        {
            c.Slot = ((int)(id >> 4) << 2) + BitOperations.TrailingZeroCount(id & 0xF);
        }

        return c;
    }

    // Adds (+1) or removes (-1) one APIC's contribution. A claim beyond the first on a physical ID or a
    // logical slot counts as one alias, so the counts go back to zero exactly when the last alias goes.
    private void Count(in Contribution c, int sign)
    {
        if (!c.Present)
        {
            return;
        }

        _idModified += c.IdModified ? sign : 0;
        if (!_use32BitIds)
        {
            Claim(ref _physicalClaims[c.PhysicalId], ref _physicalExtraClaims, sign);
        }

        if (c.Logical == LogicalKind.None)
        {
            return;
        }

        _modeCount[(int)c.Logical] += sign;
        if (c.Logical is LogicalKind.XApicFlat or LogicalKind.XApicCluster)
        {
            if (c.Slot < 0)
            {
                _logicalFaults += sign;
            }
            else
            {
                int[] claims = c.Logical == LogicalKind.XApicFlat ? _flatClaims : _clusterClaims;
                Claim(ref claims[c.Slot], ref _logicalFaults, sign);
            }
        }
    }

    private static void Claim(ref int claims, ref int extra, int sign)
    {
        if (sign > 0)
        {
            extra += claims != 0 ? 1 : 0;
            claims++;
        }
        else
        {
            claims--;
            extra -= claims != 0 ? 1 : 0;
        }
    }

    private struct Contribution
    {
        public bool Present;
        public bool IdModified;
        public LogicalKind Logical;
        public int PhysicalId;
        public int Slot;

        public readonly bool SameAs(in Contribution other) =>
            Present == other.Present && IdModified == other.IdModified && Logical == other.Logical
            && PhysicalId == other.PhysicalId && Slot == other.Slot;
    }
}
