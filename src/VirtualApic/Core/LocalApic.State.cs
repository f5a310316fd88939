// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Registers;

namespace VirtualApic.Core;

public sealed partial class LocalApic
{
    /// <summary>
    /// Loads a register image (offsets 0x000-0x3FF) into the page, with KVM_SET_LAPIC's order of
    /// work: posted vectors dropped first (KVM commit 9cfec6d097c6), SVR applied raw, LVR recomputed,
    /// ISR caches and PPR rebuilt, the timer mode and divider re-latched. With
    /// <paramref name="restoreTimer"/> the timer resumes exactly; without, it restarts from TMCCT.
    /// The caller has already restored IA32_APIC_BASE.
    /// </summary>
    internal void RestorePage(ReadOnlySpan<byte> image, ApicTimerState? restoreTimer)
    {
        Delivery.Reset(this);
        _inbox.Drop();
        Timer.Cancel();
        Page.CopyFrom(image);
        uint tmcct = Words.Read(ApicOffset.Tmcct);
        Words.Write(ApicOffset.Tmcct, 0);
        Words.Write(ApicOffset.Version, VersionValue);
        _esrPending = 0;

        // The LINT remote IRR belongs to the APIC, not to the image (a guest LVT write cannot set it
        // either): a full snapshot restores it afterwards (VcpuSnapshot.LintRemoteIrr).
        LintRemoteIrrBits = 0;
        _softwareEnabled = IsSoftwareEnabled;
        RefreshIsrCache();
        if (restoreTimer is { } timer)
        {
            Timer.Restore(timer);
        }
        else
        {
            Timer.RestartFromCurrentCount(tmcct);
        }

        MapInputsChanged();
    }

    /// <summary>
    /// Loads the IOAPIC-handled set and whether a rescan of it is owed, as a snapshot captured them
    /// (<see cref="IoApicHandledVectors"/>, <see cref="IoApicScanRequested"/>). KVM keeps neither
    /// across a restore and rescans; a full model snapshot carries both, so that the restored VM goes
    /// on as the saved one would have. Paused VM.
    /// </summary>
    internal void RestoreIoApicScan(ReadOnlySpan<ulong> handled, bool owed)
    {
        handled.CopyTo(IoApicHandledVectors);
        if (owed)
        {
            RequestIoApicScan();
        }
        else
        {
            Interlocked.And(ref _requests, ~ReqScanIoApic);
        }
    }

    /// <summary>Restores IA32_APIC_BASE from a snapshot as the host does, without the guest's transition rules.</summary>
    internal bool RestoreApicBase(ulong value) => SetApicBase(value, hostInitiated: true);
}
