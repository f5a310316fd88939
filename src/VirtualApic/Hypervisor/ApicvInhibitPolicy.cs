// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Hypervisor;

/// <summary>
/// KVM's policy for a VM-wide hardware assist (APICv, AVIC, x2AVIC): which inhibit reasons are in force
/// (<c>kvm_set_or_clear_apicv_inhibit</c>, the inhibit decisions of <c>kvm_recalculate_apic_map</c>),
/// and what an activation change does to every vCPU (<c>KVM_REQ_APICV_UPDATE</c>,
/// <c>__kvm_vcpu_update_apicv</c>): posted vectors synced into the IRR, the delivery path switched, the
/// ISR caches purged by each vCPU on its own thread, and every vCPU kicked. The hardware model only
/// holds the switch, the delivery paths and the tables (<see cref="HardwareAssist"/>).
/// </summary>
/// <remarks>
/// Threading: any vCPU thread may change its APIC, so each change is counted under one lock (skipped
/// when nothing counted changed and the assist is off); the change costs O(1) unless the assist
/// toggles (O(vCPUs), as KVM's request to all vCPUs). The kicks
/// of a toggle are raised after the lock is released, so an embedder's kick handler may take its own
/// locks or run a vCPU, even one that changes its APIC (docs/threading.md).
/// </remarks>
public sealed class ApicvInhibitPolicy
{
    // KVM's vendor masks (vmx.c vmx_required_apicv_inhibits, svm/avic.c avic_required_apicv_inhibits),
    // for the reasons this model can produce. Logical aliasing and the table size matter only to AVIC.
    private const ApicvInhibit VmxRequired =
        ApicvInhibit.ApicIdModified | ApicvInhibit.ApicBaseModified | ApicvInhibit.PhysicalIdAliased;

    private const ApicvInhibit SvmRequired = VmxRequired | ApicvInhibit.LogicalIdAliased | ApicvInhibit.PhysicalIdTooBig;

    private readonly HardwareAssist _model;
    private readonly IVcpuPeers _peers;
    private readonly InhibitInputs _inputs;
    private readonly ApicvInhibit _required;
    private readonly bool _physicalIdTooBig;
    private readonly Lock _gate = new();
    private ApicvInhibit _inhibits;
    private bool _apicBaseModified;
    private int _toggles;

    /// <summary>The policy for <paramref name="model"/>; call <see cref="Start"/> once every vCPU points at the model.</summary>
    /// <param name="model">The hardware model.</param>
    /// <param name="use32BitIds">KVM <c>x2apic_format</c> (<c>KVM_X2APIC_API_USE_32BIT_IDS</c>): xAPIC IDs never alias.</param>
    /// <param name="logicalMapShortcuts">The profile switch of that name: every non-flat DFR is cluster.</param>
    public ApicvInhibitPolicy(HardwareAssist model, bool use32BitIds, bool logicalMapShortcuts)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _peers = model.Peers;
        _required = model is AvicModel ? SvmRequired : VmxRequired;
        _physicalIdTooBig = _peers.Count - 1 > model.MaxPhysicalId; // the vCPU count is fixed
        _inputs = new InhibitInputs(_peers.Count, use32BitIds, logicalMapShortcuts);
    }

    /// <summary>The hardware model the policy switches.</summary>
    public HardwareAssist Model => _model;

    /// <summary>The inhibit reasons in force.</summary>
    public ApicvInhibit Inhibits
    {
        get
        {
            lock (_gate)
            {
                return _inhibits;
            }
        }
    }

    /// <summary>Whether the assist is active (no inhibit in force).</summary>
    public bool IsActive => _model.IsActive;

    /// <summary>How many times the assist was deactivated or reactivated.</summary>
    public int Toggles => Volatile.Read(ref _toggles);

    /// <summary>The map facts as counted, for the oracle (they must equal a fresh map's).</summary>
    internal InhibitInputs Inputs => _inputs;

    /// <summary>Counts every APIC, evaluates the inhibits and activates the assist if none applies. The VM is not running yet.</summary>
    public void Start()
    {
        lock (_gate)
        {
            for (int i = 0; i < _peers.Count; i++)
            {
                Count(_peers.Apic(i));
            }

            _inhibits = Evaluate();
            _model.SetActive(_inhibits == ApicvInhibit.None);
            for (int i = 0; i < _peers.Count; i++)
            {
                _model.ConfigureVcpu(_peers.Apic(i));
            }

            if (_model.IsActive)
            {
                _model.RefreshTables();
            }
        }
    }

    /// <summary>
    /// <paramref name="apic"/>'s ID, LDR, DFR, SVR enable or APIC_BASE changed (its own thread, or a
    /// paused VM): recount its contribution, re-evaluate, and either update its table entries (the
    /// assist stays active: KVM <c>avic_ldr_write</c>) or toggle the assist for every vCPU.
    /// </summary>
    public void OnApicChanged(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);

        // Most changes of a bring-up leave the inputs as they were while the assist is off (an SVR
        // enable before the LDR is set): nothing the policy keeps can change, so skip the lock. Safe
        // because only this APIC's thread recounts it, and a toggle to active that races with this
        // rebuilds the tables from registers this thread has already written.
        if (!_model.IsActive && _inputs.IsCounted(apic)
            && (Volatile.Read(ref _apicBaseModified) || !apic.IsHardwareEnabled || apic.BaseAddress == ApicBase.DefaultAddress))
        {
            return;
        }

        bool toggled;
        lock (_gate)
        {
            Count(apic);
            _inhibits = Evaluate();
            bool active = _inhibits == ApicvInhibit.None;
            toggled = active != _model.IsActive;
            if (toggled)
            {
                Toggle(active);
            }
            else if (active)
            {
                _model.RefreshVcpuTables(apic);
            }
        }

        if (toggled)
        {
            // The vectors moved and the delivery path changed under vCPUs that may be between their
            // last check and their wait: kick every one (kvm_make_all_cpus_request), outside the lock.
            for (int i = 0; i < _peers.Count; i++)
            {
                var target = _peers.Apic(i);
                target.Host.Kick(target);
            }
        }
    }

    private void Count(LocalApic apic)
    {
        _inputs.Update(apic);

        // Sticky: once an APIC was enabled at another base, KVM never clears the reason.
        _apicBaseModified |= apic.IsHardwareEnabled && apic.BaseAddress != ApicBase.DefaultAddress;
    }

    private ApicvInhibit Evaluate()
    {
        var r = ApicvInhibit.None;
        r |= _inputs.ApicIdModified ? ApicvInhibit.ApicIdModified : 0;
        r |= _inputs.PhysicalIdAliased ? ApicvInhibit.PhysicalIdAliased : 0;
        r |= _inputs.LogicalIdAliased ? ApicvInhibit.LogicalIdAliased : 0;
        r |= _apicBaseModified ? ApicvInhibit.ApicBaseModified : 0;
        r |= _physicalIdTooBig ? ApicvInhibit.PhysicalIdTooBig : 0;
        return r & _required;
    }

    // KVM_REQ_APICV_UPDATE on every vCPU (kvm_vcpu_update_apicv): the delivery path switches, and
    // each vCPU purges its ISR caches on its own thread at its next evaluation (KVM 97a71c444a14).
    // Here the purge finds them exact (every ISR change, a virtual EOI too, goes through LocalApic,
    // where KVM's hardware clears vISR behind its back), so no test can see it go: mutation testing
    // lists its removal as equivalent (docs/reliability.md); it stays where KVM makes it.
    // Vectors already posted stay in the PIR until then too: the posted path stays installed and
    // every evaluation syncs it first, on the vCPU's thread, as KVM's vcpu_enter_guest calls
    // sync_pir_to_irr; from this thread the sync would write an IRR only its vCPU writes (APICv's
    // KeepIrrOwnerWritten). The caller kicks.
    private void Toggle(bool active)
    {
        Interlocked.Increment(ref _toggles);
        _model.SetActive(active);
        for (int i = 0; i < _peers.Count; i++)
        {
            var apic = _peers.Apic(i);
            _model.ConfigureVcpu(apic);
            apic.RequestRefresh();
        }

        if (active)
        {
            // Writes made while inhibited were not trapped: rebuild the tables from the registers
            // (KVM avic_apicv_post_state_restore / avic_refresh_apicv_exec_ctrl).
            _model.RefreshTables();
        }
    }
}
