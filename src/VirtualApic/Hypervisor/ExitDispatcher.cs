// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using System.Runtime.CompilerServices;
using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Hypervisor;

/// <summary>
/// The one exit pipeline of a vCPU: every guest APIC access goes to the hardware-assist model first;
/// whatever exits comes back here, where it is counted (<see cref="ExitStatistics"/>, the
/// <c>perf kvm stat</c> view), traced (<see cref="IVmTracer.OnExit"/>) and handled as KVM handles it.
/// Always-intercepted accesses (APIC_BASE, TSC_DEADLINE, HLT) take the same path, so the counts and the
/// trace agree on every exit.
/// </summary>
/// <remarks>Owned by one vCPU and used on its thread only.</remarks>
public sealed class ExitDispatcher
{
    private readonly LocalApic _apic;

    /// <summary>Creates the pipeline of the vCPU that owns <paramref name="apic"/>, counting into <paramref name="exits"/>.</summary>
    public ExitDispatcher(LocalApic apic, ExitStatistics exits)
    {
        ArgumentNullException.ThrowIfNull(apic);
        ArgumentNullException.ThrowIfNull(exits);
        _apic = apic;
        Exits = exits;
        PvEoi = new PvEoi(apic, this);
    }

    /// <summary>KVM's paravirtual EOI for this vCPU (<c>MSR_KVM_PV_EOI_EN</c>).</summary>
    public PvEoi PvEoi { get; }

    /// <summary>
    /// Whether <see cref="PvEoi"/> is enabled or has its flag pending, kept here by its setters: the
    /// checks every guest access and every take make read this object's line, which the access
    /// loads anyway, and not the PV EOI object's (docs/performance.md, "Fortieth session").
    /// </summary>
    internal bool PvEoiInUse { get; set; }

    /// <summary>The hardware-assist model the accesses meet first.</summary>
    public ApicAccelerator Accelerator { get; set; } = new EmulatedApic();

    /// <summary>Receives every exit, if set.</summary>
    public IVmTracer? Tracer { get; set; }

    /// <summary>The other vCPUs, for the targets of an incomplete IPI (none for a lone vCPU).</summary>
    public IVcpuPeers? Peers { get; set; }

    /// <summary>The exit counts.</summary>
    public ExitStatistics Exits { get; }

    /// <summary>A guest RDMSR of an APIC MSR: an x2APIC register (through the assist), APIC_BASE or TSC_DEADLINE (always intercepted). False for #GP.</summary>
    public bool ReadMsr(uint msr, out ulong value)
    {
        SyncPvEoiBeforeHardwareAccess();
        if (msr is >= ApicOffset.X2ApicMsrBase and <= ApicOffset.X2ApicMsrLast)
        {
            var exit = Accelerator.ReadX2ApicMsr(_apic, msr, out value);
            if (!exit.IsExit)
            {
                return exit.Outcome == AssistOutcome.Completed;
            }

            Record(exit);
        }
        else
        {
            Record(ApicExit.FaultLike(ExitReason.MsrRead, (int)msr));
        }

        return ApicExitHandler.EmulateMsrRead(_apic, msr, out value);
    }

    /// <summary>A guest WRMSR: an x2APIC register (through the assist) or any other MSR (always intercepted). False for #GP.</summary>
    public bool WriteMsr(uint msr, ulong value)
    {
        SyncPvEoiBeforeHardwareAccess();
        if (msr is >= ApicOffset.X2ApicMsrBase and <= ApicOffset.X2ApicMsrLast)
        {
            // The EOI apart: with a constant MSR only the model's EOI path is inlined (ApicOffset.EoiMsr).
            var exit = msr == ApicOffset.EoiMsr
                ? Accelerator.WriteX2ApicEoi(_apic, value)
                : Accelerator.WriteX2ApicMsr(_apic, msr, value);
            return exit.Outcome switch
            {
                AssistOutcome.Completed => true,
                AssistOutcome.GeneralProtection => false,
                _ => HandleWriteExit(exit, value, 8, msr),
            };
        }

        return HandleWriteExit(ApicExit.FaultLike(ExitReason.MsrWrite, (int)msr), value, 8, msr);
    }

    /// <summary>A guest RDMSR of MSR_KVM_PV_EOI_EN: always intercepted; returns what was written.</summary>
    public ulong ReadPvEoiMsr()
    {
        Record(ApicExit.FaultLike(ExitReason.MsrRead, unchecked((int)PvEoi.Msr)));
        return PvEoi.MsrValue;
    }

    /// <summary>A guest load of <paramref name="size"/> bytes at <paramref name="offset"/> in the APIC window.</summary>
    public ulong ReadMmio(int offset, int size)
    {
        SyncPvEoiBeforeHardwareAccess();
        var exit = Accelerator.ReadMmio(_apic, offset, size, out ulong value);
        if (!exit.IsExit)
        {
            return value;
        }

        Record(exit);
        return ApicExitHandler.EmulateMmioRead(_apic, offset, size);
    }

    /// <summary>A guest store of <paramref name="size"/> bytes at <paramref name="offset"/> in the APIC window.</summary>
    public void WriteMmio(int offset, uint value, int size)
    {
        SyncPvEoiBeforeHardwareAccess();
        var exit = Accelerator.WriteMmio(_apic, offset, value, size);
        if (exit.IsExit)
        {
            HandleWriteExit(exit, value, size, msr: 0);
        }
    }

    /// <summary>VMCALL: always an exit; <paramref name="nr"/> is the hypercall number (RAX).</summary>
    public void Hypercall(ulong nr) => Record(ApicExit.FaultLike(ExitReason.Hypercall, (int)Math.Min(nr, int.MaxValue)));

    /// <summary>HLT: always an exit (the vCPU blocks in the hypervisor).</summary>
    public void Hlt() => Record(ApicExit.FaultLike(ExitReason.Hlt, 0));

    /// <summary>
    /// A split irqchip's <c>KVM_EXIT_IOAPIC_EOI</c> for <paramref name="vector"/>: counted and traced
    /// like every exit; the caller then hands the EOI to the VMM's IOAPIC. The vCPU's own thread.
    /// </summary>
    public void IoApicEoiExit(byte vector) => Record(ApicExit.TrapLikeExit(ExitReason.IoApicEoi, vector));

    // Not KVM: a flag armed while the assist was inhibited (or restored from a snapshot) may still be
    // pending when the assist is active, and then the guest's APIC accesses need not exit. The model
    // looks at the flag before such an access, so that a PV EOI the guest made is complete before
    // it can read the APIC: guests see the same ISR and PPR under every backend
    // (docs/known-divergences.md). Under `none` and an inhibited assist every access exits anyway.
    // Only the flag's test is in line (every guest access inlines it, even where the caller has
    // spent its inlining budget); the assist check and the sync are a call.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SyncPvEoiBeforeHardwareAccess()
    {
        if (PvEoiInUse && PvEoi.Pending)
        {
            SyncPvEoiIfAssistActive();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SyncPvEoiIfAssistActive()
    {
        if (Accelerator.IsActive)
        {
            PvEoi.SyncFromGuest();
        }
    }

    private void Record(in ApicExit exit)
    {
        Exits.Count(exit.Reason);
        Tracer?.OnExit(_apic.VcpuId, exit.Reason, exit.Info, exit.TrapLike);

        // KVM vcpu_enter_guest: kvm_lapic_sync_from_vapic right after the exit, before its handler.
        if (PvEoiInUse && PvEoi.Pending)
        {
            PvEoi.SyncFromGuest();
        }
    }

    private bool HandleWriteExit(ApicExit exit, ulong value, int size, uint msr)
    {
        Record(exit);

        switch (exit.Reason)
        {
            // The exits every emulated write takes stay inline: an MSR write and a fault-like APIC
            // access. The assists' own exits are calls (HandleIncompleteIpi is kept out of line), so
            // that the JIT spends the inlining budget of the guest's write on the emulation.
            case ExitReason.MsrWrite when msr == PvEoi.Msr:
                return PvEoi.TryWriteMsr(value); // x86.c kvm_set_msr_common, MSR_KVM_PV_EOI_EN
            case ExitReason.MsrWrite:
                return ApicExitHandler.EmulateMsrWrite(_apic, msr, value);
            case ExitReason.EoiInduced:
                ApicExitHandler.HandleEoiInduced(_apic, exit.Info);
                return true;
            case ExitReason.AvicIncompleteIpi:
                HandleIncompleteIpi((AvicIpiFailure)exit.Info, new Icr(exit.Icr));
                return true;
            default:
                if (exit.TrapLike)
                {
                    // LDR and DFR traps also move AVIC's logical table entry: the replayed write's
                    // map-change notification has the inhibit policy rewrite this vCPU's entry.
                    ApicExitHandler.HandleTrapLikeWrite(_apic, exit.Info);
                }
                else
                {
                    ApicExitHandler.EmulateMmioWrite(_apic, exit.Info, (uint)value, size);
                }

                return true;
        }
    }

    // KVM avic_incomplete_ipi_interception, cause by cause.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void HandleIncompleteIpi(AvicIpiFailure cause, Icr icr)
    {
        switch (cause)
        {
            case AvicIpiFailure.InvalidInterruptType:
            case AvicIpiFailure.InvalidTarget:
                // Emulate the whole IPI; the ICR is already in the page (KVM 5aede752a839: an invalid
                // target no longer drops the IPI for the valid ones).
                _apic.SendIpi(icr);
                break;
            case AvicIpiFailure.TargetNotRunning:
                // The IRR bits are set; wake the targets (avic_kick_target_vcpus).
                KickTargets(icr);
                break;
            case AvicIpiFailure.InvalidIpiVector:
                // KVM ignores it: the IPI is dropped, unlike the emulated path. The architectural
                // profile emulates it so the sender's ESR records the illegal vector.
                if (_apic.Config.Profile.RejectsIllegalVectors)
                {
                    _apic.SendIpi(icr);
                }

                break;
            default:
                break; // InvalidBackingPage: WARN in KVM, nothing to do
        }
    }

    // KVM avic_kick_target_vcpus: the targets by the destination where it names their table slots
    // (avic_kick_target_vcpus_fast), so that waking a halted vCPU costs the same in a VM of 4096 as of
    // 4 (W3 to a halted target under x2avic at 1024 vCPUs 6.7 us -> 0.1 us; docs/performance.md,
    // "Forty-second session"): a physical ID is its slot, an x2APIC logical ID names slots 16c + b
    // (x2AVIC's own rule, Avic.HardwareLogicalIpi), and an xAPIC logical ID's bits name the logical
    // table's entries, which name slots (the table the hardware read, as KVM reads it). The hardware
    // set IRR bits in exactly those slots' APICs that the bus reaches, so the same test picks the
    // ones to kick. Shorthands, broadcasts, a cluster broadcast and an entry no longer valid match
    // every vCPU, as KVM's slow path does.
    private void KickTargets(Icr icr)
    {
        if (Peers is not { } peers)
        {
            return;
        }

        var message = InterruptMessage.FromIcr(icr, _apic);
        uint destination = message.Destination;
        if (icr.Shorthand == DestinationShorthand.None && destination != InterruptMessage.BroadcastDestination(_apic.IsX2Apic))
        {
            if (icr.DestinationMode == DestinationMode.Physical)
            {
                KickIfReached(peers, destination, message);
                return;
            }

            if (_apic.IsX2Apic)
            {
                uint clusterBase = (destination >> 16) << 4;
                for (uint bits = destination & 0xFFFF; bits != 0; bits &= bits - 1)
                {
                    KickIfReached(peers, clusterBase + (uint)BitOperations.TrailingZeroCount(bits), message);
                }

                return;
            }

            if (Accelerator is AvicModel avic && avic.ResolveXApicLogical(_apic, destination, out ulong ids, out int count))
            {
                for (int k = 0; k < count; k++)
                {
                    KickIfReached(peers, (uint)(ids >> (8 * k)) & 0xFF, message);
                }

                return;
            }
        }

        for (int i = 0; i < peers.Count; i++)
        {
            KickIfReached(peers, (uint)i, message);
        }
    }

    private void KickIfReached(IVcpuPeers peers, uint slot, in InterruptMessage message)
    {
        if (slot >= (uint)peers.Count)
        {
            return;
        }

        var target = peers.Apic((int)slot);
        if (target.IsHardwareEnabled && peers.MatchesDestination(target, message, _apic))
        {
            target.Host.Kick(target);
        }
    }
}
