// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Assist;

/// <summary>
/// A posted-interrupt descriptor (SDM vol. 3C 30.6): the 256-bit PIR and the control word with
/// ON (bit 0), SN (bit 1), NV (bits 23:16) and NDST (bits 63:32). Senders on any thread post into it.
/// </summary>
public sealed class PostedInterruptDescriptor
{
    /// <summary>The posted-interrupt notification vector KVM uses (POSTED_INTR_VECTOR).</summary>
    public const byte NotificationVector = 0xF2;
    /// <summary>The wake-up vector KVM uses while the vCPU blocks (POSTED_INTR_WAKEUP_VECTOR).</summary>
    public const byte WakeupVector = 0xF1;

    private readonly ulong[] _pir = new ulong[4];
    private long _control;

    /// <summary>Outstanding notification (ON).</summary>
    public bool OutstandingNotification => (Volatile.Read(ref _control) & 1) != 0;

    /// <summary>Suppress notification (SN).</summary>
    public bool SuppressNotification
    {
        get => (Volatile.Read(ref _control) & 2) != 0;
        set
        {
            if (value)
            {
                Interlocked.Or(ref _control, 2);
            }
            else
            {
                Interlocked.And(ref _control, ~2L);
            }
        }
    }

    /// <summary>Notification vector (NV).</summary>
    public byte Nv
    {
        get => (byte)(Volatile.Read(ref _control) >> 16);
        set => Update(0xFFL << 16, (long)value << 16);
    }

    /// <summary>Notification destination (NDST): the physical APIC ID of the pCPU running the vCPU.</summary>
    public uint Ndst
    {
        get => (uint)(Volatile.Read(ref _control) >> 32);
        set => Update(unchecked((long)0xFFFF_FFFF_0000_0000), (long)value << 32);
    }

    /// <summary>
    /// Notifications sent (diagnostics; exact while no post or sync runs concurrently). Counted
    /// without a locked instruction on the sender's path: a post notifies exactly when it moves ON
    /// from 0 to 1, and only a sync or a clear moves it back, so the count is the clears so far
    /// plus ON.
    /// </summary>
    public long Notifications => Volatile.Read(ref _onCleared) + (OutstandingNotification ? 1 : 0);

    // ON 1 -> 0 transitions: written only by SyncTo and Clear, which run on the owner's side.
    private long _onCleared;

    /// <summary>Whether <paramref name="vector"/> is posted and not yet synced.</summary>
    public bool TestPir(int vector) => (Volatile.Read(ref _pir[vector >> 6]) & (1ul << vector)) != 0;

    /// <summary>
    /// Posts <paramref name="vector"/> (KVM <c>__vmx_deliver_posted_interrupt</c>): returns true when
    /// the caller must notify: the PIR bit was new and ON was clear.
    /// </summary>
    public bool Post(int vector)
    {
        ulong bit = 1ul << vector;
        if ((Interlocked.Or(ref _pir[vector >> 6], bit) & bit) != 0)
        {
            return false;
        }

        return (Interlocked.Or(ref _control, 1) & 1) == 0;
    }

    /// <summary>
    /// Folds the PIR into the IRR when ON is set (KVM <c>sync_pir_to_irr</c>): ON is cleared first,
    /// then each PIR word is harvested atomically, so a concurrent post is never lost. The vCPU's
    /// own thread (or whoever holds it paused), as in KVM: under APICv only that thread writes the
    /// IRR, with plain instructions.
    /// </summary>
    public void SyncTo(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if ((Volatile.Read(ref _control) & 1) == 0)
        {
            return;
        }

        ClearSetOn();
        for (int i = 0; i < 4; i++)
        {
            // Only words with bits need the atomic harvest; a post racing with this read sets ON
            // again after its PIR bit, so it is synced next time.
            if (Volatile.Read(ref _pir[i]) == 0)
            {
                continue;
            }

            ulong bits = Interlocked.Exchange(ref _pir[i], 0);
            if (bits != 0)
            {
                apic.OrIrrWord(2 * i, (uint)bits);
                apic.OrIrrWord((2 * i) + 1, (uint)(bits >> 32));
            }
        }
    }

    /// <summary>Drops everything posted (KVM <c>apicv_pre_state_restore</c>, reset).</summary>
    public void Clear()
    {
        if ((Volatile.Read(ref _control) & 1) != 0)
        {
            ClearSetOn();
        }

        for (int i = 0; i < 4; i++)
        {
            Interlocked.Exchange(ref _pir[i], 0);
        }
    }

    // Clears an ON bit the caller has read as set. Posts only set ON and only this side (sync, clear)
    // clears it, so it is still set: the clear needs no read-back, one locked AND instead of a
    // compare-exchange loop, and it counts one finished notification.
    private void ClearSetOn()
    {
        Interlocked.And(ref _control, ~1L);
        Volatile.Write(ref _onCleared, _onCleared + 1);
    }

    private void Update(long mask, long bits)
    {
        long current;
        do
        {
            current = Volatile.Read(ref _control);
        }
        while (Interlocked.CompareExchange(ref _control, (current & ~mask) | bits, current) != current);
    }
}
