// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Assist;

/// <summary>
/// What the AVIC and APICv models share: the vCPUs they accelerate, KVM's inhibit evaluation after
/// every map change, and live deactivation / reactivation with the state synced both ways.
/// </summary>
public abstract class HardwareAssist : ApicAccelerator
{
    private ApicvInhibit _inhibits;
    private bool _stickyBaseModified;
    private bool _active;

    /// <summary>Attaches the model to a VM's vCPUs; call <see cref="Start"/> once every vCPU points at it.</summary>
    protected HardwareAssist(IVcpuPeers peers)
    {
        ArgumentNullException.ThrowIfNull(peers);
        Peers = peers;
    }

    /// <summary>The vCPUs, as far as the hardware sees them.</summary>
    public IVcpuPeers Peers { get; }

    /// <summary>The inhibit reasons in force.</summary>
    public ApicvInhibit Inhibits => _inhibits;

    /// <summary>How many times the assist was deactivated or reactivated.</summary>
    public int Toggles { get; private set; }

    /// <inheritdoc/>
    public override bool IsActive => _active;

    /// <summary>The inhibit reasons this vendor honours (KVM's required-inhibit masks).</summary>
    protected abstract ApicvInhibit RelevantInhibits { get; }

    /// <summary>Evaluates inhibits for the first time and activates the assist if none applies.</summary>
    public void Start()
    {
        _inhibits = Evaluate();
        _active = _inhibits == ApicvInhibit.None;
        for (int i = 0; i < Peers.Count; i++)
        {
            ConfigureVcpu(Peers.Apic(i), _active);
        }

        if (_active)
        {
            Activated();
        }
    }

    private readonly Lock _gate = new();

    /// <inheritdoc/>
    /// <remarks>Any vCPU thread may change its registers, so the evaluation runs under a lock.</remarks>
    public override void OnApicMapChanged()
    {
        lock (_gate)
        {
            Reevaluate();
        }
    }

    private void Reevaluate()
    {
        var inhibits = Evaluate();
        if (inhibits == _inhibits)
        {
            MapChangedWhileActive();
            return;
        }

        _inhibits = inhibits;
        bool active = inhibits == ApicvInhibit.None;
        if (active == _active)
        {
            MapChangedWhileActive();
            return;
        }

        Toggles++;
        _active = active;

        // KVM_REQ_APICV_UPDATE on every vCPU (kvm_apic_update_apicv): move posted vectors into the
        // IRR (atomic, safe from this thread), switch the delivery path, and have each vCPU purge
        // its ISR caches on its own thread at its next evaluation (KVM 97a71c444a14).
        for (int i = 0; i < Peers.Count; i++)
        {
            var apic = Peers.Apic(i);
            apic.Delivery.SyncToIrr(apic); // posted vectors: through OrIrrWord, safe from this thread
            ConfigureVcpu(apic, active);
            apic.RequestRefresh();

            // The vectors just moved and the delivery path changed under a vCPU that may be between
            // its last check and its wait: kick it, as kvm_make_all_cpus_request does.
            apic.Host.Kick(apic);
        }

        if (active)
        {
            Activated();
        }
    }

    private ApicvInhibit Evaluate()
    {
        var r = ApicvInhibit.None;
        if (Peers.ApicIdModified)
        {
            r |= ApicvInhibit.ApicIdModified;
        }

        if (Peers.PhysicalIdAliased)
        {
            r |= ApicvInhibit.PhysicalIdAliased;
        }

        if (Peers.LogicalIdAliased)
        {
            r |= ApicvInhibit.LogicalIdAliased;
        }

        if (!_stickyBaseModified)
        {
            for (int i = 0; i < Peers.Count; i++)
            {
                var apic = Peers.Apic(i);
                if (apic.IsHardwareEnabled && apic.BaseAddress != Registers.ApicBase.DefaultAddress)
                {
                    _stickyBaseModified = true;
                    break;
                }
            }
        }

        if (_stickyBaseModified)
        {
            r |= ApicvInhibit.ApicBaseModified;
        }

        if (Peers.Count - 1 > MaxPhysicalId)
        {
            r |= ApicvInhibit.PhysicalIdTooBig;
        }

        return r & RelevantInhibits;
    }

    /// <summary>The last physical ID the assist's tables can index (int.MaxValue when unlimited).</summary>
    protected virtual int MaxPhysicalId => int.MaxValue;

    /// <summary>Points a vCPU's delivery at the hardware path (active) or the emulated IRR (inactive).</summary>
    protected abstract void ConfigureVcpu(LocalApic apic, bool active);

    /// <summary>Rebuilds the hardware tables from the registers after (re)activation.</summary>
    protected virtual void Activated()
    {
    }

    /// <summary>The map changed and the assist stays as it was (update tables).</summary>
    protected virtual void MapChangedWhileActive()
    {
    }
}
