using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Registers;
using VirtualApic.Time;

namespace VirtualApic.Fabric;

/// <summary>
/// A VM's interrupt fabric: 1 to 4096 vCPUs with their local APICs on one virtual clock, the APIC
/// bus that carries IPIs, MSIs and IOAPIC messages between them, and the 8259 on LINT0. It is the
/// <see cref="IApicHost"/> of every local APIC.
/// </summary>
/// <remarks>
/// Threading: any thread may deliver an MSI, drive an IOAPIC line or send an IPI at any time; IRR
/// updates are atomic and a kicked vCPU wakes from <see cref="Vcpu.WaitForKick"/>. A vCPU's own
/// register accesses must stay on its own thread. Virtual time is advanced by one thread.
/// </remarks>
public sealed class VirtualMachine : IApicHost, IGuestBus, IDisposable
{
    private readonly Vcpu[] _vcpus;

    /// <summary>Creates a VM in its RESET state.</summary>
    /// <exception cref="ArgumentException">Invalid options.</exception>
    public VirtualMachine(VmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        var config = options.ToApicConfig();
        _vcpus = new Vcpu[options.Cpus];
        var apics = new LocalApic[options.Cpus];
        for (int i = 0; i < options.Cpus; i++)
        {
            var vcpu = new Vcpu(i, config, Clock, options.ApsWaitForSipi) { Pic = Pic, Bus = this };
            vcpu.Apic.Host = this;
            _vcpus[i] = vcpu;
            apics[i] = vcpu.Apic;
        }

        Router = new InterruptRouter(apics, options.Profile);
        Pic.Raised += KickAll;
    }

    /// <summary>The options the VM was built with.</summary>
    public VmOptions Options { get; }

    /// <summary>The VM's virtual clock.</summary>
    public VirtualClock Clock { get; } = new();

    /// <summary>The vCPUs, by index.</summary>
    public IReadOnlyList<Vcpu> Vcpus => _vcpus;

    /// <summary>The APIC bus: destination resolution and delivery.</summary>
    public InterruptRouter Router { get; }

    /// <summary>The 8259 wired to every LINT0.</summary>
    public ExternalPic Pic { get; } = new();

    /// <summary>Raised after a vCPU was kicked, with its index (for embedders running vCPU threads).</summary>
    public event Action<int>? VcpuKicked;

    /// <summary>Delivers an MSI write (KVM <c>kvm_set_msi</c>). Returns the number of APICs that accepted it, -1 for none.</summary>
    public int DeliverMsi(ulong address, uint data)
    {
        if (!Msi.IsMsiAddress(address))
        {
            return -1;
        }

        var message = Msi.Decode(address, data, Options.ExtendedDestinationId);
        return Router.Deliver(message, source: null);
    }

    /// <summary>Delivers a message from a device (not an IPI). Any thread.</summary>
    public int DeliverFromDevice(in InterruptMessage message) => Router.Deliver(message, source: null);

    // ------------------------------------------------------------------ IApicHost

    /// <inheritdoc/>
    public void SendIpi(LocalApic source, in InterruptMessage message) => Router.Deliver(message, source);

    /// <inheritdoc/>
    public void EndOfInterrupt(LocalApic source, byte vector, TriggerMode trigger) =>
        EoiBroadcast?.Invoke(source, vector, trigger);

    /// <summary>An IOAPIC-handled EOI from a local APIC; the IOAPIC subscribes.</summary>
    public event Action<LocalApic, byte, TriggerMode>? EoiBroadcast;

    /// <inheritdoc/>
    public void ApicMapChanged(LocalApic source) => Router?.Invalidate();

    /// <inheritdoc/>
    public void Kick(LocalApic target)
    {
        _vcpus[target.VcpuId].Kick();
        VcpuKicked?.Invoke(target.VcpuId);
    }

    private void KickAll()
    {
        foreach (var v in _vcpus)
        {
            v.Kick();
        }
    }

    // ------------------------------------------------------------------ IGuestBus

    /// <inheritdoc/>
    public ulong MmioRead(Vcpu vcpu, ulong gpa, int size) =>
        MmioDevice?.Invoke(gpa, size, null) ?? (size == 8 ? ulong.MaxValue : (1ul << (size * 8)) - 1);

    /// <inheritdoc/>
    public void MmioWrite(Vcpu vcpu, ulong gpa, ulong value, int size) => MmioDevice?.Invoke(gpa, size, value);

    /// <summary>
    /// The device MMIO handler (the IOAPIC window): called with a value for stores and null for
    /// loads, returning the loaded value or null when nothing decodes the address.
    /// </summary>
    public Func<ulong, int, ulong?, ulong?>? MmioDevice { get; set; }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var v in _vcpus)
        {
            v.Dispose();
        }
    }
}
