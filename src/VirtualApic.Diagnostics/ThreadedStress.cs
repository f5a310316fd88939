using System.Diagnostics;
using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Fabric;

namespace VirtualApic.Diagnostics;

/// <summary>The options of a threaded stress run.</summary>
public sealed record StressOptions
{
    /// <summary>vCPUs, each on its own thread (2-64); the last one only toggles inhibits.</summary>
    public int Cpus { get; init; } = 4;

    /// <summary>The backend.</summary>
    public AccelKind Accel { get; init; } = AccelKind.None;

    /// <summary>How long senders keep sending.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Device threads sending MSIs (0-16).</summary>
    public int DeviceThreads { get; init; } = 1;

    /// <summary>Whether the last vCPU keeps changing its xAPIC ID, toggling the APIC_ID_MODIFIED inhibit.</summary>
    public bool ToggleInhibits { get; init; } = true;

    /// <summary>Each vCPU thread binds its vCPU's IRR (plain owner updates, an inbox for the others).</summary>
    public bool BindVcpuThreads { get; init; }

    /// <summary>Seed of the senders' target choices.</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>The counts of a stress run: every interrupt sent must be received exactly once.</summary>
/// <param name="Backend">The backend.</param>
/// <param name="Sent">Interrupts sent (IPIs and MSIs).</param>
/// <param name="Received">Interrupts taken.</param>
/// <param name="Lost">Sent but never taken, summed over sender/target pairs.</param>
/// <param name="Duplicated">Taken more often than sent, summed over pairs.</param>
/// <param name="InhibitToggles">How often the assist was deactivated or reactivated.</param>
/// <param name="Errors">Exceptions that escaped a thread.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record StressResult(string Backend, long Sent, long Received, long Lost, long Duplicated, int InhibitToggles, IReadOnlyList<string> Errors, TimeSpan Elapsed)
{
    /// <summary>Nothing lost, nothing duplicated, no exception.</summary>
    public bool Passed => Lost == 0 && Duplicated == 0 && Errors.Count == 0 && Sent == Received;
}

/// <summary>
/// Runs vCPUs on real threads under load, as a VMM does: vCPU threads send fixed IPIs to each other
/// through their ICRs, take and EOI what arrives, halt when idle; device threads send MSIs; one vCPU
/// keeps toggling the hardware assist's inhibit. Each sender keeps at most one interrupt in flight
/// per target (the IRR would merge a second), so every interrupt sent must be taken exactly once
/// (the style of KVM selftests' xapic_ipi_test).
/// </summary>
public static class ThreadedStress
{
    private const ulong ApicBase = 0xFEE0_0000;

    /// <summary>Runs the stress test.</summary>
    public static StressResult Run(StressOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Cpus is < 2 or > 64 || options.DeviceThreads is < 0 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Cpus must be 2..64 and DeviceThreads 0..16");
        }

        using var vm = new VirtualMachine(new VmOptions { Cpus = options.Cpus, Accel = options.Accel });
        int workers = options.ToggleInhibits ? options.Cpus - 1 : options.Cpus;
        int senders = workers + options.DeviceThreads;
        var inFlight = new int[senders * options.Cpus];
        var sent = new long[senders * options.Cpus];
        var received = new long[senders * options.Cpus];
        var errors = new List<string>();
        using var stop = new CancellationTokenSource();
        using var stopSending = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();

        foreach (var v in vm.Vcpus)
        {
            v.MmioWrite(ApicBase + 0xF0, 0x1FF, 4); // software-enable; xAPIC mode, so the toggler can change its ID
            v.Sti();
        }

        void Guard(Action body, string name)
        {
            try
            {
                body();
            }
#pragma warning disable CA1031 // an exception is a finding, reported
            catch (Exception ex)
#pragma warning restore CA1031
            {
                lock (errors)
                {
                    errors.Add($"{name}: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }

        var threads = new List<Thread>();
        for (int w = 0; w < workers; w++)
        {
            int self = w;
            threads.Add(new Thread(() => Guard(() => Worker(vm.Vcpus[self], self, workers, options, inFlight, sent, received, stopSending.Token, stop.Token), $"cpu{self}")) { IsBackground = true });
        }

        for (int d = 0; d < options.DeviceThreads; d++)
        {
            int sender = workers + d;
            threads.Add(new Thread(() => Guard(() => Device(vm, sender, workers, options, inFlight, sent, stopSending.Token), $"device{sender - workers}")) { IsBackground = true });
        }

        if (options.ToggleInhibits)
        {
            var toggler = vm.Vcpus[options.Cpus - 1];
            threads.Add(new Thread(() => Guard(() => Toggle(toggler, stopSending.Token), "toggler")) { IsBackground = true });
        }

        foreach (var t in threads)
        {
            t.Start();
        }

        Thread.Sleep(options.Duration);
        stopSending.Cancel();

        // Let the receivers drain what is in flight.
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(5) && AnyInFlight(inFlight))
        {
            Thread.Sleep(1);
        }

        stop.Cancel();
        foreach (var v in vm.Vcpus)
        {
            v.Kick();
        }

        foreach (var t in threads)
        {
            t.Join(TimeSpan.FromSeconds(5));
        }

        long lost = 0, duplicated = 0;
        for (int i = 0; i < sent.Length; i++)
        {
            long s = Volatile.Read(ref sent[i]), r = Volatile.Read(ref received[i]);
            lost += Math.Max(0, s - r);
            duplicated += Math.Max(0, r - s);
        }

        int toggles = (vm.Accelerator as HardwareAssist)?.Toggles ?? 0;
        return new StressResult(vm.Accelerator.Name, sent.Sum(), received.Sum(), lost, duplicated, toggles, errors, clock.Elapsed);
    }

    private static bool AnyInFlight(int[] inFlight)
    {
        for (int i = 0; i < inFlight.Length; i++)
        {
            if (Volatile.Read(ref inFlight[i]) != 0)
            {
                return true;
            }
        }

        return false;
    }

    private static byte VectorOf(int sender) => (byte)(0x40 + sender);

    private static void Worker(Vcpu vcpu, int self, int workers, StressOptions options, int[] inFlight, long[] sent, long[] received, CancellationToken stopSending, CancellationToken stop)
    {
        var random = new Random(options.Seed * 131 + self);
        int cpus = options.Cpus;
        if (options.BindVcpuThreads)
        {
            vcpu.BindToCurrentThread();
        }

        while (!stop.IsCancellationRequested)
        {
            // Send one IPI if this sender has nothing in flight to the chosen target.
            if (!stopSending.IsCancellationRequested && workers > 1)
            {
                int target = random.Next(workers - 1);
                target += target >= self ? 1 : 0;
                int slot = (self * cpus) + target;
                if (Volatile.Read(ref inFlight[slot]) == 0)
                {
                    Volatile.Write(ref inFlight[slot], 1);
                    sent[slot]++;
                    vcpu.MmioWrite(ApicBase + 0x310, (ulong)target << 24, 4);
                    vcpu.MmioWrite(ApicBase + 0x300, VectorOf(self), 4);
                }
            }

            // Take whatever arrived; halt and wait for a kick when idle.
            vcpu.PrepareToWait();
            var e = vcpu.Take();
            if (e.Kind == GuestEventKind.Vector)
            {
                int sender = e.Vector - 0x40;
                int slot = (sender * cpus) + self;
                Interlocked.Increment(ref received[slot]);
                Volatile.Write(ref inFlight[slot], 0);
                vcpu.MmioWrite(ApicBase + 0xB0, 0, 4);
                vcpu.Iret();
            }
            else if (random.Next(4) == 0)
            {
                vcpu.Hlt();
                vcpu.WaitForKick(TimeSpan.FromMilliseconds(1));
                if (vcpu.State == VcpuRunState.Halted)
                {
                    vcpu.SetRunState(VcpuRunState.Running); // the host woke it for another reason
                }
            }
        }
    }

    private static void Device(VirtualMachine vm, int sender, int workers, StressOptions options, int[] inFlight, long[] sent, CancellationToken stopSending)
    {
        var random = new Random(options.Seed * 7919 + sender);
        int cpus = options.Cpus;
        while (!stopSending.IsCancellationRequested)
        {
            int target = random.Next(workers);
            int slot = (sender * cpus) + target;
            if (Volatile.Read(ref inFlight[slot]) == 0)
            {
                Volatile.Write(ref inFlight[slot], 1);
                sent[slot]++;
                vm.DeliverMsi(Msi.EncodeAddress((uint)target), VectorOf(sender));
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    private static void Toggle(Vcpu vcpu, CancellationToken stopSending)
    {
        uint id = (uint)vcpu.Index;
        while (!stopSending.IsCancellationRequested)
        {
            vcpu.MmioWrite(ApicBase + 0x20, (id + 0x40) << 24, 4); // APIC_ID_MODIFIED: assist off
            Thread.Sleep(1);
            vcpu.MmioWrite(ApicBase + 0x20, id << 24, 4);          // restored: assist back on
            Thread.Sleep(1);
        }
    }
}
