using VirtualApic.Cpu;
using VirtualApic.Fabric;

namespace VirtualApic.Assist;

/// <summary>
/// What the AVIC and APICv models share: the VM they accelerate, KVM's inhibit evaluation after
/// every map change, and live deactivation / reactivation with the state synced both ways.
/// </summary>
public abstract class HardwareAssist : ApicAccelerator
{
    private ApicvInhibit _inhibits;
    private bool _stickyBaseModified;
    private bool _active;

    /// <summary>Attaches the model to a VM; call <see cref="Start"/> once every vCPU points at it.</summary>
    protected HardwareAssist(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        Vm = vm;
    }

    /// <summary>The VM.</summary>
    protected VirtualMachine Vm { get; }

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
        foreach (var v in Vm.Vcpus)
        {
            ConfigureVcpu(v, _active);
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
        // IRR (atomic, safe from this thread), switch the delivery path, have each vCPU purge its ISR
        // caches on its own thread at its next evaluation (KVM 97a71c444a14), and kick it.
        foreach (var v in Vm.Vcpus)
        {
            v.Apic.Delivery.SyncToIrr(v.Apic); // posted vectors: through OrIrrWord, safe from this thread
            ConfigureVcpu(v, active);
            v.Apic.RequestRefresh();

            // The vectors just moved and the delivery path changed under a vCPU that may be between
            // its last check and its wait: kick it, as kvm_make_all_cpus_request does.
            v.Apic.Host.Kick(v.Apic);
        }

        if (active)
        {
            Activated();
        }
    }

    private ApicvInhibit Evaluate()
    {
        var map = Vm.Router.Map;
        var r = ApicvInhibit.None;
        if (map.ApicIdModified)
        {
            r |= ApicvInhibit.ApicIdModified;
        }

        if (map.PhysicalIdAliased)
        {
            r |= ApicvInhibit.PhysicalIdAliased;
        }

        if (map.LogicalIdAliased)
        {
            r |= ApicvInhibit.LogicalIdAliased;
        }

        if (!_stickyBaseModified)
        {
            foreach (var v in Vm.Vcpus)
            {
                if (v.Apic.IsHardwareEnabled && v.Apic.BaseAddress != Registers.ApicBase.DefaultAddress)
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

        if (Vm.Vcpus.Count - 1 > MaxPhysicalId)
        {
            r |= ApicvInhibit.PhysicalIdTooBig;
        }

        return r & RelevantInhibits;
    }

    /// <summary>The last physical ID the assist's tables can index (int.MaxValue when unlimited).</summary>
    protected virtual int MaxPhysicalId => int.MaxValue;

    /// <summary>Points a vCPU's delivery at the hardware path (active) or the emulated IRR (inactive).</summary>
    protected abstract void ConfigureVcpu(Vcpu vcpu, bool active);

    /// <summary>Rebuilds the hardware tables from the registers after (re)activation.</summary>
    protected virtual void Activated()
    {
    }

    /// <summary>The map changed and the assist stays as it was (update tables).</summary>
    protected virtual void MapChangedWhileActive()
    {
    }
}
