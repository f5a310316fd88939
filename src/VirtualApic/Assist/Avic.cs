// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using System.Runtime.CompilerServices;
using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Assist;

/// <summary>
/// AMD AVIC and x2AVIC (APM vol. 2 15.29; KVM svm/avic.c): the vCPU's register page is the backing
/// page; the physical and logical APIC ID tables route IPIs in "hardware"; IsRunning and the doorbell
/// decide whether a target is notified or the sender exits. Without x2AVIC, an
/// x2APIC-mode vCPU runs "hybrid": every x2APIC MSR is emulated while delivery keeps the backing page.
/// </summary>
/// <remarks>
/// Simplifications, invisible to the guest: hardware paths apply the emulated reserved-bit rules and
/// the receiver's software-enable check; a read of a write-only offset is fault-like.
/// </remarks>
public sealed class AvicModel : HardwareAssist
{
    private const ulong ValidBit = 1ul << 63;
    private const ulong IsRunningBit = 1ul << 62;
    private const uint LogicalValidBit = 1u << 31;

    private readonly bool _x2Avic;
    private readonly ulong[] _physicalTable;
    private readonly Lock[] _runningLocks;
    private readonly uint[] _logicalTable = new uint[256];
    private readonly int[] _logicalOwner = new int[256];  // the vCPU an entry names, -1 for none
    private readonly int[] _logicalIndexOf;               // the entry a vCPU holds, -1 for none
    private readonly AvicDelivery _delivery;

    /// <summary>Creates the model for the vCPUs <paramref name="peers"/> describes.</summary>
    public AvicModel(IVcpuPeers peers, bool x2Avic)
        : base(peers)
    {
        _x2Avic = x2Avic;
        _physicalTable = new ulong[Math.Min(peers.Count, MaxPhysicalId + 1)];
        _runningLocks = new Lock[_physicalTable.Length];
        _logicalIndexOf = new int[peers.Count];
        Array.Fill(_logicalOwner, -1);
        Array.Fill(_logicalIndexOf, -1);
        for (int i = 0; i < _physicalTable.Length; i++)
        {
            // Host APIC ID (the pCPU, here the vCPU index) in 11:0, backing page "address" in 51:12.
            // Every vCPU gets a valid entry: broadcast IPIs skip invalid ones (KVM avic_init_backing_page).
            _physicalTable[i] = ValidBit | ((ulong)(i + 1) << 12) | (uint)(i & 0xFFF);
            _runningLocks[i] = new Lock();
        }

        _doorbells = new StripedCounters(_physicalTable.Length);
        _delivery = new AvicDelivery(this);
    }

    /// <inheritdoc/>
    public override string Name => _x2Avic ? "x2avic" : "avic";

    /// <summary>Doorbells rung (a target running in guest mode was notified without an exit).</summary>
    public long Doorbells => _doorbells.Sum();

    // Per target vCPU (Core/StripedCounters): a VM-wide count written by every delivery to a running
    // vCPU would be a line every sender shares.
    private readonly StripedCounters _doorbells;

    /// <inheritdoc/>
    public override int MaxPhysicalId => _x2Avic ? 0xFFF : 0xFE;

    /// <summary>The number of entries of the physical APIC ID table (vCPUs above it inhibit AVIC).</summary>
    public int PhysicalTableLength => _physicalTable.Length;

    /// <summary>The physical APIC ID table entry of guest APIC ID <paramref name="id"/>.</summary>
    public ulong PhysicalEntry(int id) => _physicalTable[id];

    /// <summary>The logical APIC ID table entry at <paramref name="index"/>.</summary>
    public uint LogicalEntry(int index) => _logicalTable[index];

    /// <inheritdoc/>
    public override void ConfigureVcpu(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        apic.Delivery = IsActive ? _delivery : DirectIrrDelivery.Instance;
        OnRunStateChanged(apic.VcpuId);
    }

    /// <inheritdoc/>
    public override void OnRunStateChanged(int vcpu)
    {
        if ((uint)vcpu >= (uint)_physicalTable.Length)
        {
            return;
        }

        // IsRunning: set while the vCPU is loaded and not blocking (avic_vcpu_load / avic_vcpu_blocking,
        // which clears it before the vCPU's last check for events, see Vcpu.PrepareToWait). The
        // vCPU's own thread and an inhibit toggle on another thread both come here; the entry's lock
        // makes each update read the run state and write the bit as one step, so a toggle that read
        // "running" cannot set the bit after the vCPU cleared it to block (the vCPU always applies
        // its own change last, under the same lock).
        lock (_runningLocks[vcpu])
        {
            if (IsActive && Peers.IsInGuestMode(vcpu))
            {
                Interlocked.Or(ref _physicalTable[vcpu], IsRunningBit);
            }
            else
            {
                Interlocked.And(ref _physicalTable[vcpu], ~IsRunningBit);
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>Writes made while AVIC was inhibited were not trapped, so the table is rebuilt from the registers.</remarks>
    public override void RefreshTables()
    {
        Array.Clear(_logicalTable);
        Array.Fill(_logicalOwner, -1);
        Array.Fill(_logicalIndexOf, -1);
        for (int i = 0; i < Peers.Count; i++)
        {
            WriteLogicalEntry(Peers.Apic(i));
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// KVM <c>avic_handle_ldr_update</c> / <c>avic_handle_dfr_update</c>: the vCPU's old logical table
    /// entry is invalidated (if it still names this vCPU) and the new one written (<c>avic_ldr_write</c>).
    /// </remarks>
    public override void RefreshVcpuTables(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        int old = _logicalIndexOf[apic.VcpuId];
        if (old >= 0 && _logicalOwner[old] == apic.VcpuId)
        {
            _logicalTable[old] = 0;
            _logicalOwner[old] = -1;
        }

        _logicalIndexOf[apic.VcpuId] = -1;
        WriteLogicalEntry(apic);
    }

    // The entry of one xAPIC-mode vCPU with a one-bit logical ID (x2AVIC derives x2APIC logical IDs).
    private void WriteLogicalEntry(LocalApic apic)
    {
        if (apic.IsX2Apic || !apic.IsHardwareEnabled)
        {
            return;
        }

        int index = LogicalIndex(apic.Ldr >> 24, flat: apic.Dfr == 0xFFFF_FFFF);
        if (index >= 0)
        {
            _logicalTable[index] = LogicalValidBit | apic.XApicId;
            _logicalOwner[index] = apic.VcpuId;
            _logicalIndexOf[apic.VcpuId] = index;
        }
    }

    // Flat: the bit position; cluster: (cluster << 2) + bit, cluster < 0xF. Only one-bit logical IDs
    // get an entry (KVM 1808c950955d).
    private static int LogicalIndex(uint logicalId, bool flat)
    {
        if (flat)
        {
            return BitOperations.IsPow2(logicalId) ? BitOperations.TrailingZeroCount(logicalId) : -1;
        }

        uint cluster = logicalId >> 4, bits = logicalId & 0xF;
        return cluster < 0xF && BitOperations.IsPow2(bits) ? (int)(cluster << 2) + BitOperations.TrailingZeroCount(bits) : -1;
    }

    private bool Accelerates(LocalApic apic) => IsActive && apic.IsHardwareEnabled && (!apic.IsX2Apic || _x2Avic);

    // ---------------------------------------------------------------- x2AVIC MSRs

    /// <inheritdoc/>
    public override ApicExit ReadX2ApicMsr(LocalApic apic, uint msr, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(apic);
        int offset = ApicOffset.FromMsr(msr);
        // The table's X2AvicMsr column: the readable set passes through except TMCCT.
        if (!Accelerates(apic) || !apic.IsX2Apic
            || ApicRegisterTable.Handling(AssistPath.X2AvicMsr, offset, write: false) != AssistAccess.Accelerated
            || !apic.IsReadable(offset))
        {
            value = 0;
            return ApicExit.FaultLike(ExitReason.MsrRead, (int)msr);
        }

        value = offset == ApicOffset.Icr ? apic.ReadX2ApicIcr() : apic.ReadRegisterRaw(offset);
        return ApicExit.Completed;
    }

    // The write every guest handler ends with (the dispatcher sends every X2APIC_EOI write here), a
    // zero without the lookups: the X2AvicMsr column passes the EOI through and a zero never faults
    // (AssistColumnTests and RegisterEdgeTests pin both); WriteX2ApicMsr's switch takes any other value.
    /// <inheritdoc/>
    internal override ApicExit WriteX2ApicEoi(LocalApic apic, ulong value)
    {
        if (!PassesX2ApicMsrs(apic))
        {
            return ApicExit.FaultLike(ExitReason.MsrWrite, (int)ApicOffset.EoiMsr);
        }

        return value == 0 ? AcceleratedEoi(apic, 0) : WriteX2ApicMsr(apic, ApicOffset.EoiMsr, value);
    }

    // Only x2AVIC passes x2APIC MSRs through: plain AVIC's hybrid mode intercepts them all, so a
    // write leaves on this test (every EOI of an x2APIC guest under plain AVIC).
    private bool PassesX2ApicMsrs(LocalApic apic) => _x2Avic && Accelerates(apic) && apic.IsX2Apic;

    /// <inheritdoc/>
    public override ApicExit WriteX2ApicMsr(LocalApic apic, uint msr, ulong value)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if (!PassesX2ApicMsrs(apic))
        {
            return ApicExit.FaultLike(ExitReason.MsrWrite, (int)msr);
        }

        int offset = ApicOffset.FromMsr(msr);

        // KVM passes writes through only for TPR, EOI, SELF_IPI and ICR (the table's X2AvicMsr column).
        if (ApicRegisterTable.Handling(AssistPath.X2AvicMsr, offset, write: true) == AssistAccess.FaultLike)
        {
            return ApicExit.FaultLike(ExitReason.MsrWrite, (int)msr);
        }

        if (apic.X2ApicWriteFaults(offset, value))
        {
            return ApicExit.GeneralProtection;
        }

        switch (offset)
        {
            case ApicOffset.Tpr:
                apic.SetTpr((uint)value);
                return ApicExit.Completed;
            case ApicOffset.Eoi:
                return AcceleratedEoi(apic, (uint)value);
            case ApicOffset.SelfIpi when value < 16:
                // The APM does not say what x2AVIC does with an illegal SELF_IPI vector; the model leaves
                // it to the hypervisor (as a non-accelerated MSR write), so the guest sees what emulation
                // gives it: the vector accepted under KVM, ESR send illegal vector under the SDM.
                return ApicExit.FaultLike(ExitReason.MsrWrite, (int)msr);
            case ApicOffset.SelfIpi:
                apic.AcceptInterrupt(InterruptMessage.SelfIpi((byte)value, apic));
                return ApicExit.Completed;
            default:
                value &= ~(ulong)Icr.BusyBit;
                apic.Words.Write(ApicOffset.Icr, (uint)value);
                apic.Words.Write(ApicOffset.Icr2, (uint)(value >> 32));
                return HardwareIpi(apic, new Icr(value));
        }
    }

    // ---------------------------------------------------------------- xAVIC MMIO

    /// <inheritdoc/>
    public override ApicExit ReadMmio(LocalApic apic, int offset, int size, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if (!Accelerates(apic) || apic.IsX2Apic || size != 4 || (offset & 0xF) != 0
            || ApicRegisterTable.Handling(AssistPath.AvicMmio, offset, write: false) != AssistAccess.Accelerated
            || !apic.IsReadable(offset))
        {
            // Fault-like AVIC_NOACCEL (e.g. TMCCT, reserved offsets): RIP not advanced, the
            // instruction is emulated. Inactive AVIC or the MMIO hole: a nested page fault instead.
            value = 0;
            return ApicExit.FaultLike(Accelerates(apic) && !apic.IsX2Apic ? ExitReason.AvicNoAccel : ExitReason.ApicAccess, offset);
        }

        value = apic.ReadRegisterRaw(offset);
        return ApicExit.Completed;
    }

    /// <inheritdoc/>
    public override ApicExit WriteMmio(LocalApic apic, int offset, uint value, int size)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if (!Accelerates(apic) || apic.IsX2Apic || size != 4 || (offset & 0xF) != 0)
        {
            return ApicExit.FaultLike(Accelerates(apic) && !apic.IsX2Apic ? ExitReason.AvicNoAccel : ExitReason.ApicAccess, offset);
        }

        switch (ApicRegisterTable.Handling(AssistPath.AvicMmio, offset, write: true))
        {
            case AssistAccess.FaultLike:
                return ApicExit.FaultLike(ExitReason.AvicNoAccel, offset);
            case AssistAccess.TrapLike:
                // The store is already in the backing page, RIP has advanced. LDR and DFR writes also
                // move the logical table entry (avic_handle_ldr_update / dfr_update): the hypervisor's
                // policy rewrites this vCPU's entry when the replayed write changes the map.
                apic.Words.Write(offset, value);
                return ApicExit.TrapLikeExit(ExitReason.AvicNoAccel, offset);
        }

        // Accelerated (TPR, ICR2) or virtualized (EOI, ICR) in hardware.
        switch (offset)
        {
            case ApicOffset.Tpr:
                apic.SetTpr(value);
                return ApicExit.Completed;
            case ApicOffset.Icr2:
                apic.Words.Write(ApicOffset.Icr2, value & 0xFF00_0000);
                return ApicExit.Completed;
            case ApicOffset.Eoi:
                return AcceleratedEoi(apic, value);
            case ApicOffset.Icr:
                value &= ~Icr.BusyBit;
                apic.Words.Write(ApicOffset.Icr, value);
                return HardwareIpi(apic, new Icr(value | ((ulong)apic.Words.Read(ApicOffset.Icr2) << 32)));
            default:
                return ApicExit.FaultLike(ExitReason.AvicNoAccel, offset); // the table marks no other write accelerated
        }
    }

    // APM 15.29.9.2: an EOI is accelerated when the highest in-service vector is edge-triggered;
    // for a level-triggered one the write lands in the page and traps (the seed bug's path).
    private static ApicExit AcceleratedEoi(LocalApic apic, uint value)
    {
        int isrv = apic.HighestIsr;
        if (isrv >= 0 && apic.IsLevelTriggered(isrv))
        {
            apic.Words.Write(ApicOffset.Eoi, value);
            return ApicExit.TrapLikeExit(ExitReason.AvicNoAccel, ApicOffset.Eoi);
        }

        apic.ClearHighestIsr();
        return ApicExit.Completed;
    }

    // ---------------------------------------------------------------- IPIs in hardware

    // APM 15.29.9.1: fixed edge IPIs are delivered by the hardware through the tables: IRR set in each
    // target's backing page, doorbell to running targets; otherwise AVIC_INCOMPLETE_IPI, which the
    // hypervisor handles (Hypervisor/ExitDispatcher: emulate, or kick the targets). Every destination
    // is resolved before any IRR is set: an invalid entry anywhere fails the whole IPI.
    //
    // No stack buffer holds the resolved targets: the JIT cannot tier a method with both a loop and a
    // stackalloc (no OSR with localloc; TieringTests), so it was compiled once without a profile and
    // every peer call in it stayed an interface stub call.
    //
    // Out of line: inlined into a caller that also takes and EOIs (a whole IPI in one method, W3),
    // its size used up the caller's inlining budget, and the EOI's page accesses became calls.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ApicExit HardwareIpi(LocalApic apic, Icr icr)
    {
        if (icr.DeliveryMode != DeliveryMode.Fixed || icr.TriggerMode != TriggerMode.Edge)
        {
            return ApicExit.IncompleteIpi(AvicIpiFailure.InvalidInterruptType, icr.Raw);
        }

        if (icr.Vector < 16)
        {
            return ApicExit.IncompleteIpi(AvicIpiFailure.InvalidIpiVector, icr.Raw);
        }

        if (icr.Shorthand == DestinationShorthand.None && icr.DestinationMode == DestinationMode.Physical)
        {
            uint physical = icr.DestinationFor(apic.IsX2Apic);
            if (physical != InterruptMessage.BroadcastDestination(apic.IsX2Apic))
            {
                return HardwareUnicast(icr, physical);
            }
        }

        var message = InterruptMessage.FromIcr(icr, apic);
        bool notRunning;
        switch (icr.Shorthand)
        {
            case DestinationShorthand.Self:
                notRunning = HardwareIpiTo(apic.VcpuId, message, apic);
                break;
            case DestinationShorthand.None when icr.DestinationMode == DestinationMode.Logical
                && (apic.IsX2Apic || message.Destination != InterruptMessage.BroadcastDestination(false)):
                return HardwareLogicalIpi(apic, icr, message);
            default:
                // A shorthand to all, the physical broadcast ID of the sender's mode, or an xAPIC
                // logical broadcast (MDA 0xFF): the bus reaches every APIC with it, a zero LDR
                // included (KVM kvm_apic_match_logical_addr), which a flat walk of the logical
                // table's eight entries would miss (docs/known-divergences.md).
                notRunning = HardwareBroadcast(message, apic);
                break;
        }

        return notRunning ? ApicExit.IncompleteIpi(AvicIpiFailure.TargetNotRunning, icr.Raw) : ApicExit.Completed;
    }

    // A physical unicast, the common IPI, to table slot `physical`: no message is built, the target's
    // own rule decides whether the ID reaches it (LocalApic.ReachedByPhysical, the router's rule for
    // a physical destination), so a slot whose APIC does not answer to the ID (a VM mixing modes) is
    // skipped as emulation skips it (W3 x2avic at 64 vCPUs 45.0 -> 41.2 ns; docs/performance.md,
    // "Forty-second session").
    private ApicExit HardwareUnicast(Icr icr, uint physical)
    {
        if (physical >= (uint)_physicalTable.Length || (_physicalTable[physical] & ValidBit) == 0)
        {
            return ApicExit.IncompleteIpi(AvicIpiFailure.InvalidTarget, icr.Raw);
        }

        var target = Peers.Apic((int)physical);
        bool notRunning = target.ReachedByPhysical(physical) && HardwareSetIrr((int)physical, target, icr.Vector);
        return notRunning ? ApicExit.IncompleteIpi(AvicIpiFailure.TargetNotRunning, icr.Raw) : ApicExit.Completed;
    }

    // Every valid entry the broadcast addresses: a physical 0xFF from an xAPIC sender is not a
    // broadcast for an x2APIC-mode target (KVM kvm_apic_match_physical_addr), so the same destination
    // rule as emulation decides.
    private bool HardwareBroadcast(in InterruptMessage message, LocalApic sender)
    {
        bool notRunning = false;
        for (int i = 0; i < _physicalTable.Length; i++)
        {
            if ((_physicalTable[i] & ValidBit) != 0)
            {
                notRunning |= HardwareIpiTo(i, message, sender);
            }
        }

        return notRunning;
    }

    // A logical destination: x2AVIC derives logical IDs from x2APIC IDs (cluster c, bit b is physical
    // ID 16c + b); xAVIC looks each bit up in the logical table (flat: 8 bits; cluster: 4 bits of a
    // cluster). Out of line: a physical unicast, the common IPI, does not carry it.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ApicExit HardwareLogicalIpi(LocalApic apic, Icr icr, in InterruptMessage message)
    {
        uint destination = message.Destination;
        bool notRunning = false;
        if (apic.IsX2Apic)
        {
            long clusterBase = (long)(destination >> 16) << 4;
            uint mask = destination & 0xFFFF;
            for (uint bits = mask; bits != 0; bits &= bits - 1)
            {
                long id = clusterBase + BitOperations.TrailingZeroCount(bits);
                if (id >= _physicalTable.Length || (_physicalTable[id] & ValidBit) == 0)
                {
                    return ApicExit.IncompleteIpi(AvicIpiFailure.InvalidTarget, icr.Raw);
                }
            }

            // The table knows no modes: an xAPIC-mode vCPU in the slot is a candidate too, and
            // HardwareIpiTo keeps the targets the emulated path reaches.
            for (uint bits = mask; bits != 0; bits &= bits - 1)
            {
                notRunning |= HardwareIpiTo((int)(clusterBase + BitOperations.TrailingZeroCount(bits)), message, apic);
            }
        }
        else
        {
            if (!ResolveXApicLogical(apic, destination, out ulong ids, out int count))
            {
                return ApicExit.IncompleteIpi(AvicIpiFailure.InvalidTarget, icr.Raw);
            }

            for (int k = 0; k < count; k++)
            {
                notRunning |= HardwareIpiTo((int)((ids >> (8 * k)) & 0xFF), message, apic);
            }
        }

        return notRunning ? ApicExit.IncompleteIpi(AvicIpiFailure.TargetNotRunning, icr.Raw) : ApicExit.Completed;
    }

    // The physical IDs the xAPIC logical destination's table entries name, read once and packed a
    // byte each (at most 8: a flat destination's bits); false when an addressed entry is invalid or
    // the destination is a cluster broadcast, which the table does not hold. Also the incomplete-IPI
    // handler's, to find the targets to wake (ExitDispatcher.KickTargets).
    internal bool ResolveXApicLogical(LocalApic sender, uint destination, out ulong ids, out int count)
    {
        ids = 0;
        count = 0;
        bool flat = sender.Dfr == 0xFFFF_FFFF;
        uint logical = destination & 0xFF;
        uint bits = flat ? logical : logical & 0xF;
        uint clusterBase = flat ? 0 : (logical >> 4) << 2;
        if (!flat && (logical >> 4) == 0xF)
        {
            return false;
        }

        for (; bits != 0; bits &= bits - 1)
        {
            uint entry = _logicalTable[clusterBase + (uint)BitOperations.TrailingZeroCount(bits)];
            if ((entry & LogicalValidBit) == 0)
            {
                return false;
            }

            ids |= (ulong)(entry & 0xFF) << (8 * count++);
        }

        return true;
    }

    // One target of a hardware IPI, at table slot index: a target the emulated path would not match
    // (a VM mixing xAPIC and x2APIC vCPUs; the table knows no modes) is skipped, as emulation skips
    // it (known-divergences.md). Returns true when the target took the vector but was not running.
    private bool HardwareIpiTo(int index, in InterruptMessage message, LocalApic sender)
    {
        var target = Peers.Apic(index);
        return Peers.MatchesDestination(target, message, sender) && HardwareSetIrr(index, target, message.Vector);
    }

    // Sets the IRR bit in the backing page of the target at table slot index; rings the doorbell
    // when it runs. Returns true when the target was not running (the sender must exit so the
    // hypervisor wakes it). The caller has the target's APIC already: asking the peers again is a
    // second interface call per target.
    private bool HardwareSetIrr(int index, LocalApic target, byte vector)
    {
        if (!target.AcceptFromHardware(vector))
        {
            return false;
        }

        if ((_physicalTable[index] & IsRunningBit) != 0)
        {
            _doorbells.Increment(index);
            return false;
        }

        return true;
    }

    /// <summary>Emulated deliveries (devices, emulated IPIs) to an AVIC vCPU: backing-page IRR, then doorbell or wake.</summary>
    private sealed class AvicDelivery(AvicModel model) : IVectorDelivery
    {
        // The model's table and doorbell counts, held here too (the counters are a struct over the
        // model's array): every delivery's IsRunning test and count then load them straight from
        // this object instead of through the model.
        private readonly ulong[] _physicalTable = model._physicalTable;
        private readonly StripedCounters _doorbells = model._doorbells;

        public bool Deliver(LocalApic apic, int vector)
        {
            apic.SetIrr(vector);
            ulong[] table = _physicalTable;
            if ((uint)apic.VcpuId < (uint)table.Length && (table[apic.VcpuId] & IsRunningBit) != 0)
            {
                _doorbells.Increment(apic.VcpuId);
            }

            apic.Host.Kick(apic);
            return false;
        }

        public void SyncToIrr(LocalApic apic)
        {
        }

        public void Reset(LocalApic apic)
        {
        }
    }
}
