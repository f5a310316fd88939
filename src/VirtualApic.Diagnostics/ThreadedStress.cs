// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;
using VirtualApic.Snapshot;

namespace VirtualApic.Diagnostics;

/// <summary>The options of a threaded stress run.</summary>
public sealed record StressOptions
{
    /// <summary>vCPUs, each on its own thread (1-64, at least 2 with <see cref="ToggleInhibits"/>, where the last one churns its ID and LDR).</summary>
    public int Cpus { get; init; } = 4;

    /// <summary>The backend.</summary>
    public AccelKind Accel { get; init; } = AccelKind.None;

    /// <summary>How long the sources keep sending.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Device threads sending MSIs (0-16).</summary>
    public int DeviceThreads { get; init; } = 2;

    /// <summary>IOAPIC level-triggered pins, each asserted by its own device thread (0-24).</summary>
    public int IoApicPins { get; init; } = 4;

    /// <summary>Every vCPU runs its LAPIC timer (even vCPUs periodic, odd ones TSC deadline) while a clock thread advances time.</summary>
    public bool Timers { get; init; } = true;

    /// <summary>The last vCPU keeps changing its xAPIC ID (the APIC_ID_MODIFIED inhibit) and its LDR while IPIs fly.</summary>
    public bool ToggleInhibits { get; init; } = true;

    /// <summary>How often the running VM is paused, snapshotted and restored (zero: never).</summary>
    public TimeSpan SnapshotInterval { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Each vCPU thread binds its vCPU's IRR (plain owner updates, an inbox for the others).</summary>
    public bool BindVcpuThreads { get; init; }

    /// <summary>A vCPU blocked in HLT longer than this, with an interrupt pending for it and no kick, is a stall.</summary>
    public TimeSpan StallThreshold { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Fault injection, for the watchdog's own test: each MSI device sets its target's IRR without
    /// the kick it owes (a lost wake-up), and kicks only once the watchdog has reported a stall.
    /// </summary>
    internal bool LoseMsiKicks { get; init; }

    /// <summary>Seed of the senders' choices.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Called from a monitor thread while the run goes on (about every <see cref="ProgressInterval"/>).</summary>
    public Action<StressProgress>? Progress { get; init; }

    /// <summary>How often <see cref="Progress"/> is called.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(500);
}

/// <summary>Where an interrupt came from.</summary>
public enum StressSource
{
    /// <summary>A fixed IPI written to a vCPU's ICR.</summary>
    Ipi,
    /// <summary>An MSI from a device thread.</summary>
    Msi,
    /// <summary>A level-triggered IOAPIC pin.</summary>
    IoApic,
    /// <summary>A LAPIC timer expiry (sent: expirations, which the IRR may coalesce; taken: ticks).</summary>
    Timer,
}

/// <summary>Sent and taken counts of one source.</summary>
/// <param name="Source">The source.</param>
/// <param name="Sent">Interrupts sent (timer: expirations).</param>
/// <param name="Taken">Interrupts taken by the vCPUs.</param>
/// <param name="Lost">Sent and never taken (exact for IPI, MSI and IOAPIC: each sender keeps one in flight per target).</param>
/// <param name="Duplicated">Taken more often than sent.</param>
public readonly record struct SourceCounts(StressSource Source, long Sent, long Taken, long Lost, long Duplicated);

/// <summary>A progress report while a run goes on.</summary>
/// <param name="Elapsed">Wall time so far.</param>
/// <param name="Sources">Counts per source so far (lost and duplicated are 0 until the end).</param>
/// <param name="Stalls">Stalls seen so far.</param>
/// <param name="Snapshots">Snapshot/restore cycles so far.</param>
public sealed record StressProgress(TimeSpan Elapsed, IReadOnlyList<SourceCounts> Sources, int Stalls, int Snapshots);

/// <summary>The counts of a stress run.</summary>
/// <param name="Backend">The backend.</param>
/// <param name="Bound">Whether vCPU threads bound their IRRs.</param>
/// <param name="Sources">Counts per source.</param>
/// <param name="Stalls">Every stall: a vCPU blocked longer than the threshold with an interrupt pending for it and no kick, with its state.</param>
/// <param name="Errors">Exceptions that escaped a thread, and other failures.</param>
/// <param name="InhibitToggles">How often the assist was deactivated or reactivated.</param>
/// <param name="Snapshots">Snapshot/restore cycles of the running VM.</param>
/// <param name="Elapsed">Wall time.</param>
/// <remarks>
/// A run stopped early by its cancellation token is still whole: the sources stopped, every interrupt
/// in flight was drained and every thread joined, so its counts are exact; <see cref="Interrupted"/>
/// says it ran shorter than asked.
/// </remarks>
public sealed record StressResult(
    string Backend, bool Bound, IReadOnlyList<SourceCounts> Sources, IReadOnlyList<string> Stalls, IReadOnlyList<string> Errors,
    int InhibitToggles, int Snapshots, TimeSpan Elapsed)
{
    /// <summary>Interrupts sent by IPI, MSI and IOAPIC sources.</summary>
    public long Sent => Sources.Where(s => s.Source != StressSource.Timer).Sum(s => s.Sent);

    /// <summary>Interrupts taken from IPI, MSI and IOAPIC sources.</summary>
    public long Received => Sources.Where(s => s.Source != StressSource.Timer).Sum(s => s.Taken);

    /// <summary>Lost over every source.</summary>
    public long Lost => Sources.Sum(s => s.Lost);

    /// <summary>Duplicated over every source.</summary>
    public long Duplicated => Sources.Sum(s => s.Duplicated);

    /// <summary>The counts of <paramref name="source"/>.</summary>
    public SourceCounts this[StressSource source] => Sources.First(s => s.Source == source);

    /// <summary>The run was stopped by its cancellation token before its duration was up.</summary>
    public bool Interrupted { get; init; }

    /// <summary>Something was sent, nothing lost, duplicated or stalled, no exception.</summary>
    public bool Passed => Sent > 0 && Lost == 0 && Duplicated == 0 && Stalls.Count == 0 && Errors.Count == 0;
}

/// <summary>
/// A VMM-shaped threaded harness (docs/threading.md): one thread per vCPU that blocks in HLT with an
/// untimed wait until kicked; every vCPU runs its LAPIC timer while a clock thread advances time;
/// device threads send MSIs and assert IOAPIC level lines that the vCPUs handle and EOI; vCPUs send
/// each other IPIs; one vCPU changes its APIC ID and LDR (inhibit churn); the VM is paused,
/// snapshotted and restored while it runs; a watchdog reports every vCPU blocked past the threshold
/// with an interrupt pending for it and no kick. Each sender keeps at most one interrupt in flight
/// per target (the IRR would merge a second), so every interrupt sent must be taken exactly once.
/// </summary>
public static class ThreadedStress
{
    private const ulong ApicBase = 0xFEE0_0000;
    private const byte IpiBase = 0x40;     // + sender vCPU (up to 64)
    private const byte MsiBase = 0x80;     // + device (up to 16)
    private const byte PinBase = 0x90;     // + IOAPIC pin (up to 24)
    private const byte TimerVector = 0xEC;
    private const long TimerPeriodNs = 300_000;
    private const long ClockStepNs = 100_000;

    /// <summary>Runs the harness for <see cref="StressOptions.Duration"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Options out of range.</exception>
    public static StressResult Run(StressOptions options) => Run(options, CancellationToken.None);

    /// <summary>
    /// Runs the harness until <see cref="StressOptions.Duration"/> is up or <paramref name="cancellationToken"/>
    /// is cancelled, whichever comes first. A cancelled run ends as a timed-out one does (the sources
    /// stop, what is in flight is taken, every thread is joined) and returns its counts with
    /// <see cref="StressResult.Interrupted"/> set; it does not throw.
    /// </summary>
    /// <param name="options">The run's options.</param>
    /// <param name="cancellationToken">Stops the sending early (Ctrl-C in <c>vapic stress</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException">Options out of range.</exception>
    public static StressResult Run(StressOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Cpus is < 1 or > 64 || (options.ToggleInhibits && options.Cpus < 2)
            || options.DeviceThreads is < 0 or > 16 || options.IoApicPins is < 0 or > 24)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Cpus must be 1..64 (2..64 with ToggleInhibits: the last vCPU toggles), DeviceThreads 0..16, IoApicPins 0..24");
        }

        using var harness = new Harness(options);
        return harness.Execute(cancellationToken);
    }

    private sealed class Harness : IDisposable
    {
        private readonly StressOptions _o;
        private readonly VirtualMachine _vm;
        private readonly int _cpus;
        private readonly int _workers;          // vCPUs that receive IPIs, MSIs and IOAPIC pins
        private readonly int _senders;          // workers + MSI devices
        private readonly int[] _inFlight;       // [sender * cpus + target]
        private readonly long[] _deliveredAt;   // Stopwatch ticks when the send in flight returned, 0 while it runs
        private readonly long[] _sent;
        private readonly long[] _taken;
        private readonly int[] _pinPending;
        private readonly long[] _pinAssertedAt; // as _deliveredAt, for the pin's SetLine
        private readonly long[] _pinSent;
        private readonly long[] _pinTaken;
        private readonly long[] _ticks;
        private readonly long[] _blockedSince;  // Stopwatch ticks, 0 while not blocked
        private readonly List<string> _errors = [];
        private readonly List<string> _stalls = [];
        private readonly Stopwatch _wall = Stopwatch.StartNew();
        private readonly ManualResetEventSlim _resume = new(true);
        private volatile bool _stopSending;
        private volatile bool _stop;
        private volatile bool _pause;
        private int _parked;
        private int _snapshots;

        public Harness(StressOptions o)
        {
            _o = o;
            _cpus = o.Cpus;
            _vm = new VirtualMachine(new VmOptions { Cpus = o.Cpus, Accel = o.Accel });
            _workers = o.ToggleInhibits ? o.Cpus - 1 : o.Cpus;
            _senders = _workers + o.DeviceThreads;
            _inFlight = new int[_senders * _cpus];
            _deliveredAt = new long[_inFlight.Length];
            _sent = new long[_inFlight.Length];
            _taken = new long[_inFlight.Length];
            _pinPending = new int[o.IoApicPins];
            _pinAssertedAt = new long[o.IoApicPins];
            _pinSent = new long[o.IoApicPins];
            _pinTaken = new long[o.IoApicPins];
            _ticks = new long[_cpus];
            _blockedSince = new long[_cpus];
            foreach (var v in _vm.Vcpus)
            {
                v.MmioWrite(ApicBase + ApicOffset.Svr, 0x1FF, 4); // software-enable; xAPIC, so IDs can change
                v.MmioWrite(ApicBase + ApicOffset.Dfr, 0xFFFF_FFFF, 4);
                v.MmioWrite(ApicBase + ApicOffset.Ldr, (1u << (v.Index % 8)) << 24, 4);
                v.Sti();
            }

            // Pin p: level-triggered, fixed, physical, to worker p mod workers (several vCPUs EOI).
            for (int pin = 0; pin < o.IoApicPins; pin++)
            {
                _vm.IoApic.WriteEntry(pin, RedirectionEntry.Create((byte)(PinBase + pin), trigger: TriggerMode.Level, destination: (byte)(pin % _workers)));
            }
        }

        public void Dispose()
        {
            _vm.Dispose();
            _resume.Dispose();
        }

        private int Snapshots => Volatile.Read(ref _snapshots);

        public StressResult Execute(CancellationToken cancellationToken)
        {
            var threads = new List<Thread>();
            for (int c = 0; c < _cpus; c++)
            {
                int self = c;
                threads.Add(Start($"cpu{self}", () => VcpuThread(self)));
            }

            for (int d = 0; d < _o.DeviceThreads; d++)
            {
                int sender = _workers + d;
                threads.Add(Start($"msi{d}", () => MsiDevice(sender)));
            }

            for (int pin = 0; pin < _o.IoApicPins; pin++)
            {
                int p = pin;
                threads.Add(Start($"pin{p}", () => LevelDevice(p)));
            }

            if (_o.Timers)
            {
                threads.Add(Start("clock", ClockThread));
            }

            var watchdog = Start("watchdog", Watchdog);
            var deadline = _wall.Elapsed + _o.Duration;
            var nextSnapshot = _wall.Elapsed + (_o.SnapshotInterval > TimeSpan.Zero ? _o.SnapshotInterval : TimeSpan.MaxValue / 2);
            var nextProgress = _wall.Elapsed + _o.ProgressInterval;
            bool interrupted = false;
            while (_wall.Elapsed < deadline || AwaitsInjectedStall(deadline))
            {
                // Wakes at once when cancelled; then the run ends exactly as a timed-out one does.
                if (cancellationToken.WaitHandle.WaitOne(10))
                {
                    interrupted = true;
                    break;
                }

                if (_wall.Elapsed >= nextSnapshot)
                {
                    Guard("snapshot", SnapshotAndRestore);
                    nextSnapshot = _wall.Elapsed + _o.SnapshotInterval;
                }

                if (_o.Progress is not null && _wall.Elapsed >= nextProgress)
                {
                    _o.Progress(new StressProgress(_wall.Elapsed, Counts(final: false), StallCount, Snapshots));
                    nextProgress = _wall.Elapsed + _o.ProgressInterval;
                }
            }

            // Drain: the sources stop, the clock keeps going, the vCPUs take what is in flight.
            _stopSending = true;
            var drain = Stopwatch.StartNew();
            while (drain.Elapsed < TimeSpan.FromSeconds(5) && AnyInFlight())
            {
                Thread.Sleep(1);
            }

            _stop = true;
            _resume.Set();
            foreach (var v in _vm.Vcpus)
            {
                v.Kick();
            }

            foreach (var t in threads)
            {
                if (!t.Join(TimeSpan.FromSeconds(10)))
                {
                    AddError($"{t.Name}: did not stop within 10 s");
                }
            }

            watchdog.Join(TimeSpan.FromSeconds(2));
            int toggles = _vm.InhibitPolicy?.Toggles ?? 0;
            if (_o.Timers)
            {
                for (int c = 0; c < _cpus; c++)
                {
                    if (Volatile.Read(ref _ticks[c]) == 0)
                    {
                        AddError($"cpu{c}: its LAPIC timer never ticked");
                    }
                }
            }

            lock (_errors)
            {
                lock (_stalls)
                {
                    var result = new StressResult(_vm.Accelerator.Name, _o.BindVcpuThreads, Counts(final: true), [.. _stalls], [.. _errors], toggles, Snapshots, _wall.Elapsed) { Interrupted = interrupted };
                    _o.Progress?.Invoke(new StressProgress(result.Elapsed, result.Sources, result.Stalls.Count, result.Snapshots));
                    return result;
                }
            }
        }

        private int StallCount
        {
            get
            {
                lock (_stalls)
                {
                    return _stalls.Count;
                }
            }
        }

        private Thread Start(string name, Action body)
        {
            var t = new Thread(() => Guard(name, body)) { IsBackground = true, Name = name };
            t.Start();
            return t;
        }

        private void Guard(string name, Action body)
        {
            try
            {
                body();
            }
#pragma warning disable CA1031 // an exception is a finding, reported
            catch (Exception ex)
#pragma warning restore CA1031
            {
                AddError($"{name}: {ex.GetType().Name}: {ex.Message}");
            }
        }

        private void AddError(string message)
        {
            lock (_errors)
            {
                _errors.Add(message);
            }
        }

        private IReadOnlyList<SourceCounts> Counts(bool final)
        {
            (long sent, long taken, long lost, long dup) Sum(long[] s, long[] t, int from, int to)
            {
                long a = 0, b = 0, l = 0, d = 0;
                for (int i = from * _cpus; i < to * _cpus; i++)
                {
                    long x = Volatile.Read(ref s[i]), y = Volatile.Read(ref t[i]);
                    a += x;
                    b += y;
                    l += Math.Max(0, x - y);
                    d += Math.Max(0, y - x);
                }

                return (a, b, l, d);
            }

            var ipi = Sum(_sent, _taken, 0, _workers);
            var msi = Sum(_sent, _taken, _workers, _senders);
            long pinSent = 0, pinTaken = 0, pinLost = 0, pinDup = 0;
            for (int p = 0; p < _pinSent.Length; p++)
            {
                long x = Volatile.Read(ref _pinSent[p]), y = Volatile.Read(ref _pinTaken[p]);
                pinSent += x;
                pinTaken += y;
                pinLost += Math.Max(0, x - y);
                pinDup += Math.Max(0, y - x);
            }

            long expirations = _vm.Vcpus.Sum(v => v.Apic.Timer.Expirations);
            long ticks = _ticks.Sum();
            return
            [
                new SourceCounts(StressSource.Ipi, ipi.sent, ipi.taken, final ? ipi.lost : 0, final ? ipi.dup : 0),
                new SourceCounts(StressSource.Msi, msi.sent, msi.taken, final ? msi.lost : 0, final ? msi.dup : 0),
                new SourceCounts(StressSource.IoApic, pinSent, pinTaken, final ? pinLost : 0, final ? pinDup : 0),
                new SourceCounts(StressSource.Timer, expirations, ticks, 0, final ? Math.Max(0, ticks - expirations) : 0),
            ];
        }

        private bool AnyInFlight()
        {
            for (int i = 0; i < _inFlight.Length; i++)
            {
                if (Volatile.Read(ref _inFlight[i]) != 0)
                {
                    return true;
                }
            }

            for (int p = 0; p < _pinPending.Length; p++)
            {
                if (Volatile.Read(ref _pinPending[p]) != 0)
                {
                    return true;
                }
            }

            return false;
        }

        // Every thread but the monitor parks here while the VM is snapshotted and restored.
        private void ParkIfPaused()
        {
            if (!_pause)
            {
                return;
            }

            Interlocked.Increment(ref _parked);
            _resume.Wait();
            Interlocked.Decrement(ref _parked);
        }

        private void SnapshotAndRestore()
        {
            int parties = _cpus + _o.DeviceThreads + _o.IoApicPins + (_o.Timers ? 1 : 0);
            _resume.Reset();
            _pause = true;
            var wait = Stopwatch.StartNew();
            while (Volatile.Read(ref _parked) < parties)
            {
                foreach (var v in _vm.Vcpus)
                {
                    v.Kick(); // a vCPU blocked in HLT comes out to park
                }

                if (wait.Elapsed > TimeSpan.FromSeconds(5))
                {
                    AddError($"snapshot: only {Volatile.Read(ref _parked)} of {parties} threads paused within 5 s");
                    _pause = false;
                    _resume.Set();
                    return;
                }

                Thread.Sleep(1);
            }

            // Paused: capture everything, then restore it into the same VM (a live migration onto itself).
            // The vCPUs go through the binary format, as a VMM's saved file would.
            var saved = VmSnapshot.Capture(_vm);
            byte[][] bytes = saved.Cpus.Select(c => c.Serialize()).ToArray();
            (saved with { Cpus = [.. bytes.Select(b => VcpuSnapshot.Deserialize(b))] }).Restore(_vm);
            Interlocked.Increment(ref _snapshots);
            _pause = false;
            _resume.Set();

            // Every parked thread must have left before the next pause counts parked threads: one
            // still counted but already running would run beside the next capture and restore.
            var leave = Stopwatch.StartNew();
            while (Volatile.Read(ref _parked) != 0 && leave.Elapsed < TimeSpan.FromSeconds(5))
            {
                Thread.Sleep(1);
            }
        }

        private void VcpuThread(int self)
        {
            var vcpu = _vm.Vcpus[self];
            var random = new Random((_o.Seed * 131) + self);
            bool toggler = _o.ToggleInhibits && self == _cpus - 1;
            if (_o.BindVcpuThreads)
            {
                vcpu.BindToCurrentThread();
            }

            if (_o.Timers)
            {
                ArmTimer(vcpu, first: true);
            }

            int iteration = 0;
            while (!_stop)
            {
                ParkIfPaused();
                iteration++;
                if (!_stopSending)
                {
                    if (toggler)
                    {
                        Churn(vcpu, iteration);
                    }
                    else if (_workers > 1)
                    {
                        SendIpi(vcpu, self, random);
                    }
                }

                // The VMM's run loop: announce the wait, take (the last check), or halt and block.
                vcpu.PrepareToWait();
                var e = vcpu.Take();
                if (e.Kind == GuestEventKind.Vector)
                {
                    Handle(vcpu, self, e.Vector);
                    continue;
                }

                if (e.Kind != GuestEventKind.None)
                {
                    AddError($"cpu{self}: unexpected event {e.Kind}");
                    continue;
                }

                if (!_stopSending && !toggler && random.Next(2) == 0)
                {
                    continue; // busy vCPUs too: not every idle turn halts
                }

                vcpu.Hlt();
                if (_stop || _pause)
                {
                    // The VMM's own last check, after PrepareToWait: a stop or pause requested before
                    // it had its kick reset by it (PrepareToWait clears the wake-up), so waiting now
                    // would sleep through the request. Any request after this read kicks again.
                    vcpu.SetRunState(VcpuRunState.Running);
                    continue;
                }

                Volatile.Write(ref _blockedSince[self], Math.Max(1, Stopwatch.GetTimestamp()));
                vcpu.WaitForKick(Timeout.InfiniteTimeSpan);
                Volatile.Write(ref _blockedSince[self], 0);
                if (vcpu.State == VcpuRunState.Halted && (_stop || _pause))
                {
                    vcpu.SetRunState(VcpuRunState.Running); // woken by the host, not by an interrupt
                }
            }
        }

        private void ArmTimer(Vcpu vcpu, bool first)
        {
            if (vcpu.Index % 2 == 0)
            {
                if (first)
                {
                    vcpu.MmioWrite(ApicBase + ApicOffset.Tdcr, 0xB, 4); // divide by 1
                    vcpu.MmioWrite(ApicBase + ApicOffset.LvtTimer, (1u << 17) | TimerVector, 4);
                    vcpu.MmioWrite(ApicBase + ApicOffset.Tmict, (uint)(TimerPeriodNs * _vm.Options.BusMhz / 1000), 4);
                }
            }
            else
            {
                if (first)
                {
                    vcpu.MmioWrite(ApicBase + ApicOffset.LvtTimer, (2u << 17) | TimerVector, 4);
                }

                ulong deadline = ApicTimer.TscAt(_vm.Clock.NowNs + TimerPeriodNs, _vm.Options.TscKhz);
                vcpu.TryWriteMsr(Vcpu.MsrTscDeadline, deadline);
            }
        }

        private void Churn(Vcpu vcpu, int iteration)
        {
            // APIC ID modified (AVIC/APICv inhibit) and back, and LDR rewrites, while IPIs fly.
            uint id = (uint)vcpu.Index;
            switch (iteration % 4)
            {
                case 0:
                    vcpu.MmioWrite(ApicBase + ApicOffset.Id, ((id + 0x40) & 0xFF) << 24, 4);
                    break;
                case 1:
                    vcpu.MmioWrite(ApicBase + ApicOffset.Id, id << 24, 4);
                    break;
                case 2:
                    vcpu.MmioWrite(ApicBase + ApicOffset.Ldr, 0x80u << 24, 4);
                    break;
                default:
                    vcpu.MmioWrite(ApicBase + ApicOffset.Ldr, (1u << (vcpu.Index % 8)) << 24, 4);
                    break;
            }

            Thread.Sleep(1);
        }

        private void SendIpi(Vcpu vcpu, int self, Random random)
        {
            int target = random.Next(_workers - 1);
            target += target >= self ? 1 : 0;
            int slot = (self * _cpus) + target;
            if (Volatile.Read(ref _inFlight[slot]) != 0)
            {
                return;
            }

            Volatile.Write(ref _deliveredAt[slot], 0);
            Volatile.Write(ref _inFlight[slot], 1);
            Interlocked.Increment(ref _sent[slot]);
            vcpu.MmioWrite(ApicBase + ApicOffset.Icr2, (ulong)target << 24, 4);
            vcpu.MmioWrite(ApicBase + ApicOffset.Icr, (ulong)(IpiBase + self), 4);
            Volatile.Write(ref _deliveredAt[slot], Stopwatch.GetTimestamp());
        }

        private void Handle(Vcpu vcpu, int self, byte vector)
        {
            if (vector == TimerVector)
            {
                Interlocked.Increment(ref _ticks[self]);
                if (_o.Timers && vcpu.Index % 2 == 1)
                {
                    ArmTimer(vcpu, first: false);
                }
            }
            else if (vector >= PinBase && vector < PinBase + _o.IoApicPins)
            {
                int pin = vector - PinBase;
                Interlocked.Increment(ref _pinTaken[pin]);
                _vm.IoApic.SetLine(pin, false); // the handler silences the device before the EOI
                Volatile.Write(ref _pinPending[pin], 0);
            }
            else if ((vector >= IpiBase && vector < IpiBase + _workers) || (vector >= MsiBase && vector < MsiBase + _o.DeviceThreads))
            {
                int sender = vector >= MsiBase ? _workers + (vector - MsiBase) : vector - IpiBase;
                int slot = (sender * _cpus) + self;
                Interlocked.Increment(ref _taken[slot]);
                Volatile.Write(ref _inFlight[slot], 0);
            }
            else
            {
                AddError($"cpu{self}: unexpected vector 0x{vector:X2}");
            }

            vcpu.MmioWrite(ApicBase + ApicOffset.Eoi, 0, 4);
            vcpu.Iret();
        }

        private void MsiDevice(int sender)
        {
            var random = new Random((_o.Seed * 7919) + sender);
            byte vector = (byte)(MsiBase + (sender - _workers));
            while (!_stopSending)
            {
                ParkIfPaused();
                int target = random.Next(_workers);
                int slot = (sender * _cpus) + target;
                if (Volatile.Read(ref _inFlight[slot]) == 0)
                {
                    Volatile.Write(ref _deliveredAt[slot], 0);
                    Volatile.Write(ref _inFlight[slot], 1);
                    Interlocked.Increment(ref _sent[slot]);
                    if (_o.LoseMsiKicks && LoseKick(target, vector, slot))
                    {
                        continue;
                    }

                    _vm.DeliverMsi(Msi.EncodeAddress((uint)target), vector);
                    Volatile.Write(ref _deliveredAt[slot], Stopwatch.GetTimestamp());
                }
                else
                {
                    Thread.Yield();
                }
            }

            ParkUntilStop();
        }

        // A run with the injected lost kick lasts until the watchdog has reported it, within a bound
        // far above the stall threshold: on a loaded machine the vCPU may block for the first time
        // only late in the run, and a run that ended before the fault was injected would prove nothing.
        private bool AwaitsInjectedStall(TimeSpan deadline) =>
            _o.LoseMsiKicks && StallCount == 0 && _wall.Elapsed < deadline + TimeSpan.FromSeconds(30);

        // The injected fault: the vector reaches the IRR, the kick does not, until the watchdog saw it.
        // It waits for the target to block first: a vCPU still running (or not yet started) would find
        // the vector at its next look at the IRR and take it without needing the kick, and the fault
        // would go unseen by the run it was injected into. False when the run ended first: the caller
        // then delivers the MSI as usual.
        private bool LoseKick(int target, byte vector, int slot)
        {
            var vcpu = _vm.Vcpus[target];
            while (Volatile.Read(ref _blockedSince[target]) == 0)
            {
                if (_stopSending)
                {
                    return false;
                }

                Thread.Sleep(1);
            }

            vcpu.Apic.SetIrr(vector);
            Volatile.Write(ref _deliveredAt[slot], Stopwatch.GetTimestamp());
            while (StallCount == 0 && !_stop)
            {
                Thread.Sleep(1);
            }

            vcpu.Kick();
            return true;
        }

        private void LevelDevice(int pin)
        {
            while (!_stopSending)
            {
                ParkIfPaused();
                if (Volatile.Read(ref _pinPending[pin]) == 0)
                {
                    Volatile.Write(ref _pinAssertedAt[pin], 0);
                    Volatile.Write(ref _pinPending[pin], 1);
                    Interlocked.Increment(ref _pinSent[pin]);
                    _vm.IoApic.SetLine(pin, true);
                    Volatile.Write(ref _pinAssertedAt[pin], Stopwatch.GetTimestamp());
                }
                else
                {
                    Thread.Sleep(0);
                }
            }

            ParkUntilStop();
        }

        // A source that stopped sending still takes part in pauses until the run stops.
        private void ParkUntilStop()
        {
            while (!_stop)
            {
                ParkIfPaused();
                Thread.Sleep(1);
            }
        }

        private void ClockThread()
        {
            while (!_stop)
            {
                ParkIfPaused();
                _vm.Clock.Advance(ClockStepNs);
                Thread.Sleep(1);
            }
        }

        // A stall: a vCPU blocked, not signalled, longer than the threshold, with an interrupt in
        // flight to it whose delivery returned longer than the threshold ago (or a timer that expired
        // while it was blocked).
        private void Watchdog()
        {
            long threshold = (long)(_o.StallThreshold.TotalSeconds * Stopwatch.Frequency);
            bool[] reported = new bool[_cpus];
            long[] expirationsAtBlock = new long[_cpus];
            long[] expirySeen = new long[_cpus];  // when an expiry since the block was first seen, 0 none
            long[] blockSeen = new long[_cpus];
            while (!_stop)
            {
                Thread.Sleep(10);
                long now = Stopwatch.GetTimestamp();
                for (int c = 0; c < _cpus; c++)
                {
                    var vcpu = _vm.Vcpus[c];
                    long since = Volatile.Read(ref _blockedSince[c]);
                    if (since == 0 || _pause || vcpu.WakeSignalled)
                    {
                        reported[c] = false;
                        blockSeen[c] = 0;
                        continue;
                    }

                    if (blockSeen[c] != since)
                    {
                        blockSeen[c] = since;
                        expirationsAtBlock[c] = vcpu.Apic.Timer.Expirations;
                        expirySeen[c] = 0;
                    }

                    // The expiry is counted a moment before its interrupt is delivered and the vCPU
                    // kicked: it is a stall only once it has gone unanswered for the threshold (a vCPU
                    // may legitimately block longer than that when the clock thread is starved).
                    if (expirySeen[c] == 0 && vcpu.Apic.Timer.Expirations > expirationsAtBlock[c])
                    {
                        expirySeen[c] = now;
                    }

                    if (reported[c] || now - since < threshold)
                    {
                        continue;
                    }

                    string? what = PendingFor(c, now, threshold);
                    if (what is null && expirySeen[c] != 0 && now - expirySeen[c] >= threshold)
                    {
                        what = "its timer expired over the threshold ago";
                    }

                    // Still the same block, and still not woken: the wake-up is read before the block's
                    // start is read again, so a vCPU that woke, left the wait and announced its next one
                    // (which resets the wake-up) in between is not taken for one that never woke.
                    if (what is not null && !vcpu.WakeSignalled && Volatile.Read(ref _blockedSince[c]) == since)
                    {
                        reported[c] = true;
                        string state = string.Create(CultureInfo.InvariantCulture,
                            $"cpu{c}: blocked {(now - since) * 1000 / Stopwatch.Frequency} ms without a kick while {what}; state {vcpu.State}, blocking {vcpu.IsBlocking}, IRR top 0x{vcpu.Apic.Page.HighestVector(ApicOffset.Irr):X}, ISR top 0x{vcpu.Apic.Page.HighestVector(ApicOffset.Isr):X}, PPR 0x{vcpu.Apic.Ppr:X2}, IF {vcpu.InterruptFlag}, assist {(_vm.Accelerator.IsActive ? "active" : "inactive")}");
                        lock (_stalls)
                        {
                            _stalls.Add(state);
                        }
                    }
                }
            }
        }

        // A send counts from when its call returned: by then the kick it owes the target, if any, has
        // been made. A sender the scheduler stopped in mid-delivery (between the IRR and the kick)
        // holds up its own interrupt, which is not a stall of the model.
        private static bool Returned(long at, long now, long threshold) => at != 0 && now - at >= threshold;

        private string? PendingFor(int target, long now, long threshold)
        {
            for (int sender = 0; sender < _senders; sender++)
            {
                int slot = (sender * _cpus) + target;
                if (Volatile.Read(ref _inFlight[slot]) != 0 && Returned(Volatile.Read(ref _deliveredAt[slot]), now, threshold))
                {
                    return sender < _workers ? $"an IPI from cpu{sender} is pending" : $"an MSI from device {sender - _workers} is pending";
                }
            }

            for (int pin = 0; pin < _pinPending.Length; pin++)
            {
                if (pin % _workers == target && Volatile.Read(ref _pinPending[pin]) != 0 && Returned(Volatile.Read(ref _pinAssertedAt[pin]), now, threshold))
                {
                    return $"IOAPIC pin {pin} is asserted (Remote-IRR {_vm.IoApic.GetRemoteIrr(pin)})";
                }
            }

            return null;
        }
    }
}
