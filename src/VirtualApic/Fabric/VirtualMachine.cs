// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using VirtualApic.Assist;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Devices;
using VirtualApic.Hypervisor;
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
public sealed class VirtualMachine : IApicHost, IGuestBus, IIoApicSink, IVcpuPeers, IDisposable
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
        _ioApicScansOf = new long[options.Cpus];
        // Each kind of per-vCPU object together, pages (one pinned block), then APICs,
        // then vCPUs: a walk over every APIC (a map rebuild, a broadcast) then reads APICs side by
        // side, not one beside each page (docs/performance.md, "Twenty-fifth session").
        var pages = ApicPage.AllocateBlock(options.Cpus);

        // Each vCPU's objects of a kind are followed by a cache line of filler: objects lie side by
        // side, and without it the last of vCPU i's shared a line with the first of vCPU i + 1's, which
        // two vCPU threads then both wrote (docs/performance.md, "Thirty-seventh session").
        _fillers = new byte[2 * options.Cpus][];
        var apics = new LocalApic[options.Cpus];
        for (int i = 0; i < apics.Length; i++)
        {
            apics[i] = new LocalApic(i, i == 0, config, Clock, pages[i]) { Host = this };
            _fillers[i] = new byte[CacheLineFillerLength];
        }

        for (int i = 0; i < _vcpus.Length; i++)
        {
            _vcpus[i] = new Vcpu(i, apics[i], options.ApsWaitForSipi) { Pic = Pic, Bus = this };
            _fillers[options.Cpus + i] = new byte[CacheLineFillerLength];
        }

        Router = new InterruptRouter(apics, options.Profile, options.X2ApicApi);
        IoApic = new IoApic(this, Clock, new IoApicOptions
        {
            Version = (IoApicVersion)options.IoApicVersion,
            ExtendedDestinationId = options.SplitIrqchip && options.ExtendedDestinationId,
        });
        Pic.Raised += KickAll;
        Accelerator = options.Accel switch
        {
            AccelKind.Apicv => new ApicvModel(this),
            AccelKind.Avic => new AvicModel(this, x2Avic: false),
            AccelKind.X2Avic => new AvicModel(this, x2Avic: true),
            _ => new EmulatedApic(),
        };
        foreach (var v in _vcpus)
        {
            v.Accelerator = Accelerator;
            v.Dispatcher.Peers = this;
        }

        if (Accelerator is HardwareAssist assist)
        {
            InhibitPolicy = new ApicvInhibitPolicy(
                assist, (options.X2ApicApi & X2ApicApiFlags.Use32BitIds) != 0, options.Profile.LogicalMapShortcuts);
        }

        _constructed = true;
        ScanIoApicHandledVectors();
        InhibitPolicy?.Start();
    }

    /// <summary>The hardware-assist model every vCPU's accesses meet first.</summary>
    public ApicAccelerator Accelerator { get; }

    /// <summary>KVM's inhibit policy for the hardware assist (null under <c>none</c>): the reasons in force and the toggles.</summary>
    public ApicvInhibitPolicy? InhibitPolicy { get; }

    private readonly bool _constructed;

    /// <summary>
    /// Receives every vCPU's exits (from its exit dispatcher) and deliveries and EOIs (from its local
    /// APIC), the same events whatever the backend. Set it before the run starts.
    /// </summary>
    public IVmTracer? Tracer
    {
        get => _tracer;
        set
        {
            _tracer = value;
            foreach (var v in _vcpus)
            {
                v.Tracer = value;
            }
        }
    }

    private IVmTracer? _tracer;

    /// <summary>
    /// Guest RAM as KVM reaches it, for its paravirtual interfaces (the PV EOI flag,
    /// <see cref="Vcpu.PvEoi"/>); provided by the embedder, none by default (enabling PV EOI then
    /// fails with #GP). Set it before the run starts.
    /// </summary>
    public IGuestMemory? GuestMemory
    {
        get => _guestMemory;
        set
        {
            _guestMemory = value;
            foreach (var v in _vcpus)
            {
                v.PvEoi.Memory = value;
            }
        }
    }

    private IGuestMemory? _guestMemory;

    /// <summary>The options the VM was built with.</summary>
    public VmOptions Options { get; }

    /// <summary>The VM's virtual clock.</summary>
    public VirtualClock Clock { get; } = new();

    /// <summary>The vCPUs, by index.</summary>
    public IReadOnlyList<Vcpu> Vcpus => _vcpus;

    /// <summary>The APIC bus: destination resolution and delivery.</summary>
    /// <remarks>Host-side access: delivering through it directly is a device's or the VMM's act, not a guest's; no exit is counted.</remarks>
    public InterruptRouter Router { get; }

    /// <summary>The IOAPIC at 0xFEC00000.</summary>
    /// <remarks>
    /// Host-side access: its methods are the device model itself and bypass the guest's MMIO path
    /// (no exit is counted or traced); a guest reaches it through <see cref="MmioRead"/> and
    /// <see cref="MmioWrite"/>.
    /// </remarks>
    public IoApic IoApic { get; }

    /// <summary>The 8259 wired to every LINT0.</summary>
    public ExternalPic Pic { get; } = new();

    /// <summary>
    /// Raised after a vCPU was kicked, with its index (for embedders running vCPU threads): a delivery
    /// to it, and for every running vCPU a request KVM kicks vCPUs in guest mode out for (an IOAPIC
    /// rescan), whose re-entry (<see cref="Vcpu.Take"/>, <see cref="Vcpu.Reenter"/>) takes back an armed
    /// PV EOI flag.
    /// </summary>
    public event Action<int>? VcpuKicked;

    /// <summary>Delivers an MSI write (KVM <c>kvm_set_msi</c>). Returns the number of APICs that accepted it, -1 for none.</summary>
    public int DeliverMsi(ulong address, uint data)
    {
        bool use32BitIds = (Options.X2ApicApi & X2ApicApiFlags.Use32BitIds) != 0;
        if (!Msi.IsMsiAddress(address, use32BitIds))
        {
            return -1;
        }

        var message = Msi.Decode(address, data, Options.ExtendedDestinationId, use32BitIds);
        return Router.Deliver(message, source: null);
    }

    /// <summary>Delivers a message from a device (not an IPI). Any thread.</summary>
    public int DeliverFromDevice(in InterruptMessage message) => Router.Deliver(message, source: null);

    // ------------------------------------------------------------------ IApicHost

    /// <inheritdoc/>
    public void SendIpi(LocalApic source, in InterruptMessage message) => Router.Deliver(message, source);

    /// <inheritdoc/>
    /// <remarks>The router's map: its physical table, the lookup of the router's own fast path.</remarks>
    public LocalApic? FindUnicastTarget(uint destination) => Router.Map.Physical(destination);

    /// <inheritdoc/>
    public void EndOfInterrupt(LocalApic source, byte vector, TriggerMode trigger)
    {
        if (Options.SplitIrqchip)
        {
            // KVM kvm_ioapic_send_eoi with irqchip_split: the vector is in the EOI-exit set (the
            // caller checked), so the vCPU exits to the VMM, whose IOAPIC then ends the interrupt.
            _vcpus[source.VcpuId].Dispatcher.IoApicEoiExit(vector);
        }

        IoApic.OnLocalEoi(source.VcpuId, vector, trigger, directedEoi: source.SuppressEoiBroadcast);
    }

    /// <inheritdoc/>
    public void ApicMapChanged(LocalApic source)
    {
        if (!_constructed)
        {
            return; // the constructor builds everything once at the end
        }

        Router.Invalidate();

        // The IOAPIC-handled vectors depend on destinations; requesting a rescan of all vCPUs on every
        // ID/LDR/mode change would make booting 4096 vCPUs quadratic, so the requests wait for the next
        // IOAPIC delivery, the only way a vCPU can get a vector whose EOI the IOAPIC needs.
        _ioapicScanPending = true;

        // The inhibit inputs are counted per change (O(1)); the map itself is rebuilt lazily, once, at
        // the next delivery that needs it (KVM apic_map_dirty), never on the writer's thread here.
        InhibitPolicy?.OnApicChanged(source);
    }

    // ------------------------------------------------------------------ IIoApicSink

    /// <inheritdoc/>
    int IIoApicSink.Deliver(in InterruptMessage message)
    {
        if (_ioapicScanPending)
        {
            _ioapicScanPending = false;
            RequestIoApicScans();
        }

        // Kicks raised by this delivery reach VcpuKicked after the IOAPIC releases its lock (Kick).
        return Router.Deliver(message, source: null);
    }

    /// <inheritdoc/>
    void IIoApicSink.DeliveriesCompleted()
    {
        // Thread-local storage is touched only once some kick was deferred: an IOAPIC cycle with no
        // VcpuKicked handler stays free of it.
        if (!_kicksDeferred || t_deferredKicks is not { } deferred || IoApic.IsDeliveringOnCurrentThread)
        {
            return;
        }

        // A handler may cause more IOAPIC deliveries (and so more deferred kicks): drain until empty.
        for (int i = deferred.Count - 1; i >= 0; i = deferred.Count - 1)
        {
            var (vm, index) = deferred[i];
            deferred.RemoveAt(i);
            vm.VcpuKicked?.Invoke(index);
        }
    }

    private volatile bool _ioapicScanPending;

    // A byte array of this length takes 64 bytes on a 64-bit runtime (header, method table and
    // length 8 each): a cache line between one vCPU's objects and the next one's.
    internal const int CacheLineFillerLength = 64 - 24;

    // The fillers after each vCPU's APIC objects (0 to Cpus - 1), then after its vCPU objects (Cpus
    // to 2 Cpus - 1): held so that they stay between them, a compacting GC keeping the order.
    private readonly byte[][] _fillers;

    // The VcpuKicked notifications that IOAPIC deliveries on this thread deferred (an embedder's
    // handler must not run under the IOAPIC's lock: docs/threading.md), and whether any kick of this
    // VM was ever deferred (so that DeliveriesCompleted can skip the thread-local list until then).
    private volatile bool _kicksDeferred;
    [ThreadStatic]
    private static List<(VirtualMachine Vm, int Index)>? t_deferredKicks;

    // Scans of each vCPU's own set: a vector that reaches an APIC after its scan (an MSI with the
    // same vector as a level pin) is not in the set until the next one, in KVM as here.
    private readonly long[] _ioApicScansOf;

    /// <summary>Whether an APIC map change still owes every vCPU a scan request (inspection, snapshots).</summary>
    internal bool IoApicMapScanPending
    {
        get => _ioapicScanPending;
        set => _ioapicScanPending = value;
    }

    /// <summary>The scans of vCPU <paramref name="index"/>'s own IOAPIC-handled set so far (inspection).</summary>
    internal long IoApicScansOf(int index) => Volatile.Read(ref _ioApicScansOf[index]);

    /// <inheritdoc/>
    void IIoApicSink.RedirectionTableChanged(int pin) => RequestIoApicScans();

    // KVM kvm_make_scan_ioapic_request: every vCPU rebuilds its own set on its own thread at its next
    // entry, in any case before it evaluates or EOIs. kvm_make_all_cpus_request kicks every vCPU in
    // guest mode, whose exit takes back an armed PV EOI flag and whose entry rescans (its re-entry:
    // Take, or Vcpu.Reenter): the embedder hears of the running ones through VcpuKicked. A waiting
    // vCPU is not woken: nothing in the set can make it runnable, and KVM's request does not wake a
    // blocked vCPU either.
    private void RequestIoApicScans()
    {
        foreach (var v in _vcpus)
        {
            v.Apic.RequestIoApicScan();
        }

        if (VcpuKicked is { } handler)
        {
            foreach (var v in _vcpus)
            {
                if (v.State == VcpuRunState.Running && !v.IsBlocking)
                {
                    NotifyKicked(handler, v.Index);
                }
            }
        }
    }

    /// <inheritdoc/>
    void IApicHost.ScanIoApicHandledVectors(LocalApic target) => ScanIoApicHandledVectors(target);

    /// <summary>
    /// Rebuilds every vCPU's set of vectors whose EOI the IOAPIC needs (KVM <c>kvm_ioapic_scan_entry</c>):
    /// the vectors of level-triggered entries that address the vCPU, and vectors still pending EOI there.
    /// Runs after a redirection entry or the APIC map changes; O(pins x vCPUs).
    /// </summary>
    public void ScanIoApicHandledVectors()
    {
        _ioapicScanPending = false;
        foreach (var vcpu in _vcpus)
        {
            ScanIoApicHandledVectors(vcpu.Apic);
        }
    }

    // One vCPU's set (KVM vcpu_scan_ioapic): its own thread, or a paused VM.
    private void ScanIoApicHandledVectors(LocalApic apic)
    {
        Interlocked.Increment(ref _ioApicScansOf[apic.VcpuId]);
        apic.IoApicHandledVectors.Clear();
        for (int pin = 0; pin < IoApic.PinCount; pin++)
        {
            var e = IoApic.GetEntry(pin);
            if (e.TriggerMode != TriggerMode.Level)
            {
                continue;
            }

            var m = new InterruptMessage(e.Vector, e.DeliveryMode, e.DestinationMode, e.DestinationId(IoApic.ExtendedDestinationId), TriggerMode.Level, true, DestinationShorthand.None, InterruptSource.IoApic, -1);
            if ((apic.IsHardwareEnabled && Router.MatchesDestination(apic, m, null)) || PendingEoi(apic, e.Vector))
            {
                apic.SetIoApicHandled(e.Vector, true);
            }
        }

        if (Options.SplitIrqchip)
        {
            ScanMsiRoutes(apic);
        }
    }

    // KVM kvm_apic_pending_eoi: in ISR or IRR, whatever the previous scan said, so that the set
    // survives a snapshot restore or migration, which starts from an empty one. KVM's
    // vcpu_scan_ioapic syncs the PIR into the IRR first, so a vector still posted counts too
    // (kvm-unit-tests ioapic test_ioapic_self_reconfigure moves the entry away before the vCPU took
    // the vector; without this its EOI would never reach the IOAPIC).
    private bool PendingEoi(LocalApic apic, byte vector) =>
        apic.Words.TestVector(ApicOffset.Isr, vector) || apic.Words.TestVector(ApicOffset.Irr, vector)
        || apic.IsInboxed(vector) || (Accelerator is ApicvModel apicv && apicv.Descriptor(apic.VcpuId).TestPir(vector));

    // ------------------------------------------------------------------ GSI routing (MSI routes)

    /// <summary>
    /// GSIs below this are the split irqchip's reserved IOAPIC pins (KVM_CAP_SPLIT_IRQCHIP's argument,
    /// 24 from QEMU): only MSI routes there are scanned into the EOI-exit set (KVM <c>kvm_scan_ioapic_routes</c>
    /// walks <c>nr_reserved_ioapic_pins</c> GSIs).
    /// </summary>
    public const int ReservedIoApicPins = IoApic.PinCount;

    /// <summary>The number of GSIs a routing table may use (KVM_MAX_IRQ_ROUTES).</summary>
    public const int MaxGsi = 4096;

    private readonly Lock _routesLock = new();
    private (int Gsi, ulong Address, uint Data)[] _msiRoutes = [];

    /// <summary>
    /// Sets the MSI route of <paramref name="gsi"/> (a <c>KVM_IRQ_ROUTING_MSI</c> entry of
    /// KVM_SET_GSI_ROUTING), replacing any. With a split irqchip, a level-triggered route (data bit 15)
    /// at a GSI below <see cref="ReservedIoApicPins"/> puts its vector in the EOI-exit set of the vCPUs
    /// it addresses, so that their EOI exits to the VMM (<c>kvm_scan_ioapic_routes</c>); every vCPU
    /// rescans before it next evaluates (<c>kvm_arch_irq_routing_update</c>). Any thread.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gsi"/> outside 0..<see cref="MaxGsi"/>-1.</exception>
    /// <exception cref="ArgumentException">The address is no MSI address for this VM (KVM <c>kvm_msi_route_invalid</c>: -EINVAL).</exception>
    public void SetMsiRoute(int gsi, ulong address, uint data)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(gsi);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(gsi, MaxGsi);
        if (!Msi.IsMsiAddress(address, (Options.X2ApicApi & X2ApicApiFlags.Use32BitIds) != 0))
        {
            throw new ArgumentException($"GSI {gsi}: 0x{address:x} is not an MSI address for this VM", nameof(address));
        }

        lock (_routesLock)
        {
            _msiRoutes = [.. _msiRoutes.Where(r => r.Gsi != gsi), (gsi, address, data)];
        }

        RequestIoApicScans();
    }

    /// <summary>Removes the route of <paramref name="gsi"/>; returns whether there was one.</summary>
    public bool RemoveMsiRoute(int gsi)
    {
        bool removed;
        lock (_routesLock)
        {
            var kept = _msiRoutes.Where(r => r.Gsi != gsi).ToArray();
            removed = kept.Length != _msiRoutes.Length;
            _msiRoutes = kept;
        }

        if (removed)
        {
            RequestIoApicScans();
        }

        return removed;
    }

    /// <summary>The MSI routes, by GSI.</summary>
    public IReadOnlyList<(int Gsi, ulong Address, uint Data)> MsiRoutes => Volatile.Read(ref _msiRoutes);

    /// <summary>
    /// Raises <paramref name="gsi"/> (KVM_IRQ_LINE or an irqfd on an MSI route: <c>kvm_set_msi</c> with
    /// the route's address and data). Returns the number of APICs that accepted it, -1 for none or no
    /// route. Any thread.
    /// </summary>
    public int SignalGsi(int gsi)
    {
        foreach (var r in Volatile.Read(ref _msiRoutes))
        {
            if (r.Gsi == gsi)
            {
                if (_ioapicScanPending)
                {
                    // As for an IOAPIC delivery: a level route's vector must be in the set before it can be EOIed.
                    _ioapicScanPending = false;
                    RequestIoApicScans();
                }

                return DeliverMsi(r.Address, r.Data);
            }
        }

        return -1;
    }

    // KVM kvm_scan_ioapic_routes: level-triggered MSI routes at the reserved IOAPIC GSIs whose
    // destination matches the vCPU (kvm_apic_match_dest) or whose vector it still has pending EOI.
    private void ScanMsiRoutes(LocalApic apic)
    {
        bool use32BitIds = (Options.X2ApicApi & X2ApicApiFlags.Use32BitIds) != 0;
        foreach (var r in Volatile.Read(ref _msiRoutes))
        {
            if (r.Gsi >= ReservedIoApicPins)
            {
                continue;
            }

            var m = Msi.Decode(r.Address, r.Data, Options.ExtendedDestinationId, use32BitIds);
            if (m.TriggerMode != TriggerMode.Level)
            {
                continue;
            }

            if ((apic.IsHardwareEnabled && Router.MatchesDestination(apic, m, null)) || PendingEoi(apic, m.Vector))
            {
                apic.SetIoApicHandled(m.Vector, true);
            }
        }
    }

    /// <inheritdoc/>
    public void Kick(LocalApic target)
    {
        _vcpus[target.VcpuId].Kick();
        if (VcpuKicked is { } handler)
        {
            NotifyKicked(handler, target.VcpuId);
        }
    }

    // Out of line: every delivery inlines Kick, and an embedder's handler is the rare case.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NotifyKicked(Action<int> handler, int index)
    {
        if (IoApic.IsDeliveringOnCurrentThread)
        {
            (t_deferredKicks ??= []).Add((this, index));
            _kicksDeferred = true;
            return;
        }

        handler(index);
    }

    private void KickAll()
    {
        foreach (var v in _vcpus)
        {
            v.Kick();
        }
    }

    // ------------------------------------------------------------------ IVcpuPeers (what the assist models see)

    /// <inheritdoc/>
    int IVcpuPeers.Count => _vcpus.Length;

    /// <inheritdoc/>
    LocalApic IVcpuPeers.Apic(int index) => _vcpus[index].Apic;

    /// <inheritdoc/>
    bool IVcpuPeers.IsInGuestMode(int index) => _vcpus[index].State == VcpuRunState.Running && !_vcpus[index].IsBlocking;

    /// <inheritdoc/>
    bool IVcpuPeers.IsBlocked(int index) => _vcpus[index].State == VcpuRunState.Halted || _vcpus[index].IsBlocking;

    /// <inheritdoc/>
    bool IVcpuPeers.MatchesDestination(LocalApic target, in InterruptMessage message, LocalApic? sender) =>
        Router.Reaches(target, message, sender);

    // ------------------------------------------------------------------ IGuestBus

    /// <inheritdoc/>
    public ulong MmioRead(Vcpu vcpu, ulong gpa, int size) =>
        IoApic.ContainsAddress(gpa)
            ? IoApic.MmioRead(gpa - IoApic.BaseAddress, size)
            : size == 8 ? ulong.MaxValue : (1ul << (size * 8)) - 1;

    /// <inheritdoc/>
    public void MmioWrite(Vcpu vcpu, ulong gpa, ulong value, int size)
    {
        if (IoApic.ContainsAddress(gpa))
        {
            IoApic.MmioWrite(gpa - IoApic.BaseAddress, value, size);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var v in _vcpus)
        {
            v.Dispose();
        }
    }
}
