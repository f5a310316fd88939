// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Diagnostics;

/// <summary>
/// Reads a VM's interrupt state exactly as it is stored, without draining or recomputing anything:
/// the register page, the posted-interrupt requests (PIR) and the inbox of a bound IRR. An oracle
/// that went through the register read path instead would fold the PIR and the inbox into the IRR
/// and recompute PPR, hiding precisely the states it exists to check (issue 13).
/// </summary>
/// <remarks>
/// "Pending" below means requested but not yet acknowledged: in the IRR, in the PIR of an APICv
/// descriptor, or in the inbox. A backend keeps a pending vector in any of the three; a guest sees
/// their union as the IRR, so the cross-backend digest compares the union.
/// Owner thread or a paused VM, as any consistent reading needs.
/// </remarks>
public static class StoredState
{
    /// <summary>Dword <paramref name="index"/> (0-7) of the vectors pending on <paramref name="vcpu"/>: IRR | PIR | inbox.</summary>
    public static uint PendingWord(VirtualMachine vm, Vcpu vcpu, int index)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var apic = vcpu.Apic;
        return apic.Page.Read(ApicOffset.Irr + (index << 4)) | apic.InboxWord(index) | PostedWord(vm, vcpu, index) | TimerWord(apic, index);
    }

    // A timer expiry handed to a bound owner is injected before that vCPU next evaluates (KVM: the
    // pending count and KVM_REQ_UNBLOCK, served in vcpu_enter_guest), so it is pending as far as the
    // guest can tell: counted here as the fixed vector the LVT would deliver, without injecting it.
    private static uint TimerWord(LocalApic apic, int index)
    {
        int vector = HandedOverTimerVector(apic);
        return vector >= 0 && (vector >> 5) == index ? 1u << (vector & 31) : 0;
    }

    // The vector a handed-over timer expiry will put in the IRR, or -1: the LVT's fixed, unmasked
    // vector, accepted as the APIC accepts any fixed vector (one below 16 only where the profile
    // does not reject it: KVM's __apic_accept_irq takes it, SDM 11.5.3 makes it a receive error).
    private static int HandedOverTimerVector(LocalApic apic)
    {
        if (apic.Timer.PendingInjections == 0 || !apic.IsHardwareEnabled)
        {
            return -1;
        }

        uint lvt = apic.Page.Read(ApicOffset.LvtTimer);
        int vector = (int)(lvt & 0xFF);
        bool fixedUnmasked = (lvt & Lvt.MaskedBit) == 0 && ((lvt >> 8) & 7) == 0;
        bool accepted = vector >= 16 || !apic.Config.Profile.RejectsIllegalVectors;
        return fixedUnmasked && accepted ? vector : -1;
    }

    /// <summary>
    /// Timer expiries handed to the owner of <paramref name="vcpu"/>'s bound IRR and not yet injected
    /// (KVM's <c>lapic_timer.pending</c>): expiries on another thread than a bound owner's.
    /// </summary>
    public static int HandedOverTimerExpiries(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return vcpu.Apic.Timer.PendingInjections;
    }

    /// <summary>Dword <paramref name="index"/> (0-7) of the PIR of <paramref name="vcpu"/> (0 without APICv).</summary>
    public static uint PostedWord(VirtualMachine vm, Vcpu vcpu, int index)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(vcpu);
        if (vm.Accelerator is not ApicvModel apicv)
        {
            return 0;
        }

        var pid = apicv.Descriptor(vcpu.Index);
        uint word = 0;
        for (int bit = 0; bit < 32; bit++)
        {
            if (pid.TestPir((index << 5) + bit))
            {
                word |= 1u << bit;
            }
        }

        return word;
    }

    /// <summary>Dword <paramref name="index"/> (0-7) of the inbox of <paramref name="vcpu"/>'s bound IRR.</summary>
    public static uint InboxWord(Vcpu vcpu, int index)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return vcpu.Apic.InboxWord(index);
    }

    /// <summary>Whether <paramref name="vector"/> is pending on <paramref name="vcpu"/> (IRR, PIR or inbox).</summary>
    public static bool IsPending(VirtualMachine vm, Vcpu vcpu, int vector) =>
        (PendingWord(vm, vcpu, vector >> 5) & (1u << vector)) != 0;

    /// <summary>Whether <paramref name="vector"/> is in service on <paramref name="apic"/>.</summary>
    public static bool IsInService(LocalApic apic, int vector)
    {
        ArgumentNullException.ThrowIfNull(apic);
        return apic.Page.TestVector(ApicOffset.Isr, vector);
    }

    /// <summary>The highest vector pending on <paramref name="vcpu"/>, or -1.</summary>
    public static int HighestPending(VirtualMachine vm, Vcpu vcpu)
    {
        for (int i = 7; i >= 0; i--)
        {
            uint w = PendingWord(vm, vcpu, i);
            if (w != 0)
            {
                return (i << 5) + 31 - BitOperations.LeadingZeroCount(w);
            }
        }

        return -1;
    }

    /// <summary>The highest in-service vector as the page holds it (no cache), or -1.</summary>
    public static int HighestInService(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        return apic.Page.HighestVector(ApicOffset.Isr);
    }

    /// <summary>Whether anything is posted in the PIR or the inbox, not yet folded into the IRR.</summary>
    public static bool HasUnsyncedVectors(VirtualMachine vm, Vcpu vcpu)
    {
        for (int i = 0; i < 8; i++)
        {
            if ((PostedWord(vm, vcpu, i) | InboxWord(vcpu, i)) != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The value a guest read of the register at <paramref name="offset"/> would return, from stored
    /// state only: the IRR as IRR | PIR | inbox, PPR as stored (not recomputed), APR computed from the
    /// stored IRR/ISR/TPR, TMCCT from the timer (a pure function of the clock). No access checks.
    /// </summary>
    public static uint RegisterValue(VirtualMachine vm, Vcpu vcpu, int offset)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var apic = vcpu.Apic;
        if (offset is >= ApicOffset.Irr and < ApicOffset.Irr + 0x80)
        {
            return PendingWord(vm, vcpu, (offset - ApicOffset.Irr) >> 4);
        }

        if (offset is >= ApicOffset.Tmr and < ApicOffset.Tmr + 0x80)
        {
            // The timer is edge-triggered: its handed-over expiry, once accepted, clears the
            // vector's TMR bit (SDM 11.8.4), as the expiry an unbound run delivered already did.
            int timer = HandedOverTimerVector(apic);
            uint tmr = apic.Page.Read(offset);
            return timer >= 0 && (timer >> 5) == (offset - ApicOffset.Tmr) >> 4 ? tmr & ~(1u << (timer & 31)) : tmr;
        }

        return offset switch
        {
            ApicOffset.Apr => apic.Config.Profile.ArbitrationPriorityReadsZero ? 0 : ArbitrationPriority(vm, vcpu),
            ApicOffset.Tmcct => apic.Timer.CurrentCount(),
            _ => apic.Page.Read(offset),
        };
    }

    /// <summary>PPR as SDM 11.8.3.1 computes it from the stored TPR and ISR.</summary>
    public static uint PprFormula(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        uint tpr = apic.Page.Read(ApicOffset.Tpr);
        int isr = HighestInService(apic);
        uint isrClass = isr < 0 ? 0 : (uint)isr & 0xF0;
        return (tpr & 0xF0) >= isrClass ? tpr & 0xFF : isrClass;
    }

    /// <summary>
    /// Whether <paramref name="vcpu"/> holds an event it would take now if it ran: INIT, SMI, an
    /// unblocked NMI, or (IF=1) ExtINT or a pending vector above the stored PPR. What KVM's
    /// <c>kvm_vcpu_has_events</c> asks before it lets a halted vCPU sleep.
    /// </summary>
    public static bool HasDeliverableEvent(VirtualMachine vm, Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var events = vcpu.PendingEvents;
        if ((events & (PendingEvents.Init | PendingEvents.Smi)) != 0 || (!vcpu.NmiBlocked && vcpu.NmiQueued > 0))
        {
            return true;
        }

        if (!vcpu.InterruptFlag)
        {
            return false;
        }

        if ((events & PendingEvents.ExtInt) != 0)
        {
            return true;
        }

        int v = vcpu.Apic.IsHardwareEnabled ? HighestPending(vm, vcpu) : -1;
        return v >= 0 && (uint)(v & 0xF0) > vcpu.Apic.Page.Read(ApicOffset.Ppr);
    }

    /// <summary>Whether a wake-up is latched for <paramref name="vcpu"/> (its next wait returns at once).</summary>
    public static bool WakeLatched(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return vcpu.WakeLatched;
    }

    // SDM 11.8.3 / P6 APR, as LocalApic computes it, but from the stored pending set.
    private static uint ArbitrationPriority(VirtualMachine vm, Vcpu vcpu)
    {
        var apic = vcpu.Apic;
        uint tpr = apic.Page.Read(ApicOffset.Tpr);
        int irrv = Math.Max(HighestPending(vm, vcpu), 0);
        int isrv = Math.Max(HighestInService(apic), 0);
        if ((tpr & 0xF0) >= (uint)(irrv & 0xF0) && (tpr & 0xF0) > (uint)(isrv & 0xF0))
        {
            return tpr & 0xFF;
        }

        return Math.Max(tpr & 0xF0, Math.Max((uint)irrv & 0xF0, (uint)isrv & 0xF0));
    }
}
