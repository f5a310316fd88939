// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using System.Text;
using VirtualApic.Fabric;
using VirtualApic.Guest.Boot;
using VirtualApic.Guest.Cpu;
using VirtualApic.Guest.Platform;
using VirtualApic.Guest.Platform.Devices;
using VirtualApic.Registers;

namespace VirtualApic.Guest.Machine;

/// <summary>
/// A small PC: a <see cref="VirtualMachine"/> (local APICs, IOAPIC, virtual clock) with one
/// <see cref="X86Cpu"/> per vCPU, RAM, and the devices kvm-unit-tests touches (COM1, isa-debug-exit,
/// pc-testdev, fw_cfg, the 8259 masks). All vCPUs run on the calling thread in deterministic
/// round-robin slices; the same image and options give the same serial output, instruction count and
/// virtual time on every host and under every backend.
/// </summary>
public sealed class GuestMachine : IDisposable
{
    /// <summary>Serial lines kept with their times for traces (<see cref="GuestRunResult.SerialLines"/>).</summary>
    public const int MaxSerialLines = 65_536;

    private readonly GuestMachineOptions _options;
    private readonly VcpuHost[] _hosts;
    private readonly X86Cpu[] _cpus;
    private readonly TimeModel _time;
    private readonly List<(long, string)> _serialLines = [];
    private readonly StringBuilder _lineBuffer = new();
    private int _current = -1;
    private long _instructions;

    /// <summary>Builds the machine and loads <paramref name="image"/> as a Multiboot kernel.</summary>
    /// <exception cref="ArgumentException">Invalid options.</exception>
    /// <exception cref="BootImageException">The image does not fit the machine.</exception>
    public GuestMachine(MultibootImage image, GuestMachineOptions options)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = options.Time;
        Vm = new VirtualMachine(new VmOptions
        {
            Cpus = options.Cpus,
            Accel = options.Accel,
            Profile = options.Profile,
            X2Apic = options.CpuModel.X2Apic,
            TscDeadline = options.CpuModel.TscDeadline,
            ApsWaitForSipi = true,
            ConcurrentDelivery = false,
        });
        Memory = new PhysicalMemory((long)options.RamMiB << 20);
        Stats = new GuestStatistics(options.Cpus);

        Serial = new Uart16550();
        Serial.Transmitted += OnSerialByte;
        DebugExit = new DebugExit();
        PcTestDev = new PcTestDev(SetIrqLine);
        Ports.Register(Uart16550.Com1, 8, Serial);
        Ports.Register(DebugExit.Port, 4, DebugExit);
        Ports.Register(PcTestDev.IrqBase, PcTestDev.IrqCount, PcTestDev);
        Ports.Register(PcTestDev.FlushPage, 4, PcTestDev);
        Ports.Register(FwCfg.SelectorPort, 2, new FwCfg(options.Cpus, (ulong)Memory.Size));
        var pic = new Pic8259Stub();
        Ports.Register(0x20, 2, pic);
        Ports.Register(0xA0, 2, pic);

        var cpuid = new CpuidTable(options.CpuModel, options.Cpus, Vm.Options.MaxPhysAddr);
        _hosts = new VcpuHost[options.Cpus];
        _cpus = new X86Cpu[options.Cpus];
        for (int i = 0; i < options.Cpus; i++)
        {
            var host = new VcpuHost(this, Vm.Vcpus[i], (ulong)Memory.Size, Ports, cpuid, options.CpuModel.Vendor);
            var cpu = new X86Cpu(host, Memory) { MaxPhysicalAddressBits = Vm.Options.MaxPhysAddr };
            host.Attach(cpu);
            _hosts[i] = host;
            _cpus[i] = cpu;
        }

        Vm.VcpuKicked += OnVcpuKicked;

        string commandLine = string.IsNullOrEmpty(options.Append) ? image.Name : image.Name + " " + options.Append;
        var env = new StringBuilder();
        foreach (string line in options.Environment)
        {
            env.Append(line).Append('\n');
        }

        uint info = image.Load(Memory, commandLine, Encoding.ASCII.GetBytes(env.ToString()));
        _cpus[0].SetMultibootEntryState(image.Entry, info);
        for (int i = 1; i < _cpus.Length; i++)
        {
            _cpus[i].InitAndWaitForSipi();
        }
    }

    /// <summary>The interrupt fabric.</summary>
    public VirtualMachine Vm { get; }

    /// <summary>Guest RAM.</summary>
    public PhysicalMemory Memory { get; }

    /// <summary>The port bus.</summary>
    public PortBus Ports { get; } = new();

    /// <summary>COM1.</summary>
    public Uart16550 Serial { get; }

    /// <summary>isa-debug-exit.</summary>
    public DebugExit DebugExit { get; }

    /// <summary>pc-testdev.</summary>
    public PcTestDev PcTestDev { get; }

    /// <summary>Counters of the run.</summary>
    public GuestStatistics Stats { get; }

    /// <summary>The CPUs, by vCPU index.</summary>
    public IReadOnlyList<X86Cpu> Cpus => _cpus;

    /// <summary>Guest instructions retired so far by all vCPUs.</summary>
    public long Instructions => _instructions;

    /// <summary>Runs until the guest exits through the debug-exit port, hangs, or hits a limit.</summary>
    public GuestRunResult Run()
    {
        var watch = Stopwatch.StartNew();
        var (outcome, diagnosis) = RunLoop();
        watch.Stop();
        return new GuestRunResult(outcome, DebugExit.Status, Serial.Text, _instructions, Vm.Clock.NowNs, watch.Elapsed, diagnosis, FormatStatistics(), _serialLines);
    }

    private string FormatStatistics()
    {
        var sb = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        for (int i = 0; i < _cpus.Length; i++)
        {
            var exits = Vm.Vcpus[i].Exits;
            sb.Append(c, $"cpu{i} exits {exits.Total}:");
            foreach (var reason in VirtualApic.Assist.ExitStatistics.Reasons)
            {
                if (exits[reason] > 0)
                {
                    sb.Append(c, $" {VirtualApic.Assist.ExitStatistics.NameOf(reason)}={exits[reason]}");
                }
            }

            sb.Append('\n');
        }

        return sb.Append(Stats.Format()).ToString();
    }

    private void OnSerialByte(byte b)
    {
        if (b == (byte)'\n')
        {
            // Bounded like the UART's text: past the cap one marker line, then nothing more.
            if (_serialLines.Count < MaxSerialLines)
            {
                _serialLines.Add((Vm.Clock.NowNs, _lineBuffer.ToString()));
            }
            else if (_serialLines.Count == MaxSerialLines)
            {
                _serialLines.Add((Vm.Clock.NowNs, $"[vapic: serial lines past the first {MaxSerialLines} are not traced]"));
            }

            _lineBuffer.Clear();
        }
        else if (b != (byte)'\r' && _lineBuffer.Length < 4096)
        {
            _lineBuffer.Append((char)b);
        }
    }

    private (GuestOutcome, string?) RunLoop()
    {
        var clock = Vm.Clock;
        bool probed = false;
        while (true)
        {
            bool ran = false;
            for (int i = 0; i < _cpus.Length; i++)
            {
                var host = _hosts[i];
                var cpu = _cpus[i];
                if ((cpu.IsHalted || cpu.IsWaitingForSipi || cpu.IsShutdown) && !host.Kicked)
                {
                    continue;
                }

                host.Kicked = false;
                _current = i;
                cpu.RequestEventCheck();
                var result = cpu.Run(_time.Quantum);
                _current = -1;
                FlushTime(host);
                Stats.CountSlice(i);
                if (result.Retired > 0)
                {
                    ran = true;
                }

                switch (result.Reason)
                {
                    case StopReason.Pause:
                        ChargePause(host, cpu);
                        break;
                    case StopReason.Halted:
                        Stats.CountHalt(i);
                        break;
                    case StopReason.Unsupported:
                        return (GuestOutcome.Unsupported, $"cpu{i}: {result.Unsupported}\n{Dump()}");
                    case StopReason.Shutdown:
                        return (GuestOutcome.Shutdown, $"cpu{i}: triple fault (shutdown)\n{Dump()}");
                    default:
                        break;
                }

                if (DebugExit.Status is not null)
                {
                    return (GuestOutcome.Exited, null);
                }

                if (_instructions >= _options.MaxInstructions)
                {
                    return (GuestOutcome.InstructionLimit, $"instruction limit {_options.MaxInstructions} reached\n{Dump()}");
                }

                if (clock.NowNs >= _options.VirtualTimeoutNs)
                {
                    return (GuestOutcome.Timeout, $"virtual timeout {FormatNs(_options.VirtualTimeoutNs)} reached\n{Dump()}");
                }
            }

            if (ran || AnyRunnable())
            {
                probed = false;
                continue;
            }

            // Every vCPU is idle. First give each one a look at its events (a delivery that did not
            // kick is not lost); then skip to the next timer deadline; with none, the guest hung.
            if (!probed)
            {
                probed = true;
                foreach (var h in _hosts)
                {
                    h.Kick();
                }

                continue;
            }

            if (clock.TryPeekNextDeadline(out long deadline))
            {
                probed = false;
                long target = Math.Max(deadline, clock.NowNs);
                if (target >= _options.VirtualTimeoutNs)
                {
                    clock.AdvanceTo(_options.VirtualTimeoutNs);
                    return (GuestOutcome.Timeout, $"virtual timeout {FormatNs(_options.VirtualTimeoutNs)} reached while every vCPU was idle\n{Dump()}");
                }

                Stats.IdleSkips++;
                Stats.IdleSkippedNs += target - clock.NowNs;
                clock.AdvanceTo(target);
                FabricTouched(endSlice: false);
                continue;
            }

            return (GuestOutcome.Hang, $"hang: every vCPU is halted or waiting for SIPI, nothing is deliverable and no timer is armed (virtual time {FormatNs(clock.NowNs)})\n{Dump()}");
        }
    }

    private bool AnyRunnable()
    {
        for (int i = 0; i < _cpus.Length; i++)
        {
            var c = _cpus[i];
            if (_hosts[i].Kicked || !(c.IsHalted || c.IsWaitingForSipi || c.IsShutdown))
            {
                return true;
            }
        }

        return false;
    }

    private void ChargePause(VcpuHost host, X86Cpu cpu)
    {
        long at = cpu.InstructionsRetired;
        host.PauseStreak = at - host.LastPauseAt < _time.PauseStreakGap ? host.PauseStreak + 1 : 0;
        host.LastPauseAt = at;
        Advance(_time.PauseCost(host.PauseStreak));
    }

    /// <summary>Charges the instructions <paramref name="host"/>'s CPU retired since the last flush to the clock.</summary>
    internal void FlushTime(VcpuHost host)
    {
        long retired = host.Cpu.InstructionsRetired;
        long delta = retired - host.ChargedInstructions;
        host.ChargedInstructions = retired;
        _instructions += delta;
        Advance(delta * _time.InstructionNs);
    }

    /// <summary>An exit-class operation: bring time up to this instruction and charge the exit.</summary>
    internal void ExitToHost(VcpuHost host)
    {
        long retired = host.Cpu.InstructionsRetired;
        long delta = retired - host.ChargedInstructions;
        host.ChargedInstructions = retired;
        _instructions += delta;
        Advance((delta * _time.InstructionNs) + _time.ExitNs);
    }

    private void Advance(long ns)
    {
        if (ns <= 0)
        {
            return;
        }

        var clock = Vm.Clock;
        long target = clock.NowNs + ns;
        bool fires = clock.TryPeekNextDeadline(out long deadline) && deadline <= target;
        clock.AdvanceTo(target);
        if (fires)
        {
            FabricTouched(endSlice: true);
        }
    }

    // The library's kick: the target must look at its events. It never ends a slice: whether a
    // delivery kicks depends on the backend (a doorbell to a running AVIC vCPU or a post while ON is
    // set does not), and slices must end at the same instructions under every backend.
    private void OnVcpuKicked(int index) => _hosts[index].Kick();

    /// <summary>
    /// The running vCPU touched the interrupt fabric (an APIC or IOAPIC write, an IRQ line, a
    /// hypercall) or a timer fired: every vCPU looks at its events at its next boundary (a spare look
    /// costs nothing), and when <paramref name="endSlice"/> the running vCPU yields so that the
    /// target of an IPI or IRQ runs now. Both rules depend only on what the guest did, never on the
    /// backend, which keeps instruction counts and virtual time identical across backends.
    /// </summary>
    internal void FabricTouched(bool endSlice)
    {
        foreach (var h in _hosts)
        {
            h.Kick();
        }

        if (endSlice && _current >= 0)
        {
            _cpus[_current].RequestYield();
        }
    }

    private void SetIrqLine(int line, bool level) => Vm.IoApic.SetLine(line, level);

    /// <summary>Registers and APIC state of every vCPU, for hang and failure reports.</summary>
    public string Dump()
    {
        var sb = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        for (int i = 0; i < _cpus.Length; i++)
        {
            var v = Vm.Vcpus[i];
            var a = v.Apic;
            sb.Append(c, $"--- cpu{i} (run state {v.State}, IF {v.InterruptFlag}, NMI blocked {v.NmiBlocked}, NMIs queued {v.NmiQueued}, pending {v.PendingEvents})\n");
            sb.Append(_cpus[i].DumpState()).Append('\n');
            sb.Append(c, $"APIC_BASE={a.ApicBaseMsr:X} mode={a.Mode} ID={a.ApicId:X} TPR={a.Tpr:X2} PPR={a.Ppr:X2} SVR={a.Page.Read(ApicOffset.Svr):X} LVTT={a.Page.Read(ApicOffset.LvtTimer):X} TMICT={a.Page.Read(ApicOffset.Tmict):X} TDCR={a.Page.Read(ApicOffset.Tdcr):X}\n");
            sb.Append("IRR=").Append(Vectors(a, ApicOffset.Irr)).Append(" ISR=").Append(Vectors(a, ApicOffset.Isr)).Append(" TMR=").Append(Vectors(a, ApicOffset.Tmr)).Append('\n');
        }

        sb.Append(c, $"virtual time {FormatNs(Vm.Clock.NowNs)}, {_instructions} instructions, timers armed {Vm.Clock.ArmedCount}");
        return sb.ToString();
    }

    private static string Vectors(VirtualApic.Core.LocalApic apic, int offset)
    {
        var list = new List<string>();
        for (int v = 0; v < 256; v++)
        {
            if (apic.Page.TestVector(offset, (byte)v))
            {
                list.Add(v.ToString("x2", CultureInfo.InvariantCulture));
            }
        }

        return list.Count == 0 ? "-" : string.Join(',', list);
    }

    /// <summary>Formats virtual nanoseconds for reports (e.g. <c>1.84s</c>, <c>3.2ms</c>).</summary>
    public static string FormatNs(long ns) => ns switch
    {
        >= 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{ns / 1e9:0.###}s"),
        >= 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{ns / 1e6:0.###}ms"),
        >= 1_000 => string.Create(CultureInfo.InvariantCulture, $"{ns / 1e3:0.###}us"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{ns}ns"),
    };

    /// <inheritdoc/>
    public void Dispose()
    {
        Vm.VcpuKicked -= OnVcpuKicked;
        Vm.Dispose();
    }
}
