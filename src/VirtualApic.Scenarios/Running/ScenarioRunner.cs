// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using VirtualApic.Assist;
using VirtualApic.Cpu;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Scenarios.Syntax;

namespace VirtualApic.Scenarios.Running;

/// <summary>Runs parsed scenarios against <see cref="Fabric.VirtualMachine"/> and compares backends.</summary>
public static class ScenarioRunner
{
    /// <summary>Runs <paramref name="scenario"/> once.</summary>
    /// <param name="scenario">The parsed scenario.</param>
    /// <param name="accelOverride">The backend to use instead of the <c>vm</c> line's <c>accel=</c>.</param>
    /// <param name="profileOverride">The profile to use instead of the <c>vm</c> line's <c>profile=</c>.</param>
    /// <param name="tracer">Receives exits, deliveries and EOIs (and statements when it is an <see cref="IScenarioTracer"/>).</param>
    /// <returns>The observation log, failures and exit statistics.</returns>
    /// <param name="afterStep">Called after every statement (and the timers it made due) with the VM, for
    /// invariant checks and state comparison by the fuzzer.</param>
    public static ScenarioResult Run(Scenario scenario, AccelKind? accelOverride, ApicProfile? profileOverride, IVmTracer? tracer = null, Action<Fabric.VirtualMachine, Statement>? afterStep = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        using var run = new Runner(scenario, accelOverride ?? scenario.Vm.Accel, profileOverride ?? scenario.Vm.Profile, tracer) { AfterStep = afterStep };
        return run.Execute();
    }

    /// <summary>
    /// Runs <paramref name="scenario"/> under every backend and compares each observation log with
    /// the emulated (<c>none</c>) one line for line.
    /// </summary>
    /// <param name="scenario">The parsed scenario.</param>
    /// <param name="profileOverride">The profile to use instead of the <c>vm</c> line's <c>profile=</c>.</param>
    /// <param name="tracer">Receives the events of every run.</param>
    /// <returns>The four results and the first difference of each log from the emulated one.</returns>
    public static CrossBackendResult RunAll(Scenario scenario, ApicProfile? profileOverride, IVmTracer? tracer = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var profile = profileOverride ?? scenario.Vm.Profile;
        var results = Fabric.AccelNames.All.Select(kind => Run(scenario, kind, profile, tracer)).ToArray();
        var divergences = new List<Divergence>();
        for (int i = 1; i < results.Length; i++)
        {
            if (LogComparer.FirstDifference(results[0].Log, results[i].Log) is { } diff)
            {
                string? known = KnownDivergences.Explain(scenario, profile, Fabric.AccelNames.All[i], diff.Line);
                divergences.Add(new Divergence(results[0].Backend, results[i].Backend, diff, known));
            }
        }

        return new CrossBackendResult(results, divergences);
    }

    private sealed class Runner : IDisposable
    {
        private readonly Scenario _scenario;
        private readonly ApicProfile _profile;
        private readonly IVmTracer? _tracer;
        private readonly IScenarioTracer? _scenarioTracer;
        private readonly string _backend;
        private readonly List<Observation> _log = [];
        private readonly List<ScenarioFailure> _failures = [];
        private readonly List<string> _dumps = [];
        private readonly Dictionary<string, Fabric.VmSnapshot> _snapshots = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, SparseGuestMemory> _memorySnapshots = new(StringComparer.OrdinalIgnoreCase);
        private readonly SparseGuestMemory _memory = new();
        private readonly SortedDictionary<int, (ulong Address, uint Data)> _routes = [];
        private readonly Dictionary<(string Backend, int Cpu, ExitReason Reason), long> _exits = [];
        private AccelKind _accel;
        private Fabric.VirtualMachine _vm;
        private bool _dead;

        public Runner(Scenario scenario, AccelKind accel, ApicProfile profile, IVmTracer? tracer)
        {
            _scenario = scenario;
            _profile = profile;
            _tracer = tracer;
            _scenarioTracer = tracer as IScenarioTracer;
            _accel = accel;
            _backend = Fabric.AccelNames.Format(accel);
            _vm = Build(accel);
        }

        public Action<Fabric.VirtualMachine, Statement>? AfterStep { get; init; }

        public void Dispose() => _vm.Dispose();

        // KVM kicks every vCPU in guest mode out for a request (kvm_make_all_cpus_request), and it
        // exits and enters again before its next instruction: a running vCPU that owes one after a
        // statement has its exit and entry before the next statement (a PV EOI flag armed before an
        // IOAPIC rescan is taken back, as KVM's kick takes it back; fuzzer seed 2948428). A halted vCPU
        // serves its requests when it next runs; a restore or migration is the VMM's, done while no
        // vCPU is in guest mode, so what it leaves owed waits for the next entry without an exit.
        private void ReenterKickedVcpus()
        {
            foreach (var vcpu in _vm.Vcpus)
            {
                if (vcpu.State == VcpuRunState.Running && vcpu.HasPendingRequests)
                {
                    vcpu.Reenter();
                }
            }
        }

        public ScenarioResult Execute()
        {
            _scenarioTracer?.OnRunStart(_scenario.FileName, _backend, _scenario.Vm.Cpus, () => _vm.Clock.NowNs);
            _scenarioTracer?.OnIrrProbe(cpu => _vm.Vcpus[cpu].Apic.Page.CountVectors(ApicOffset.Irr));
            foreach (var statement in _scenario.Statements)
            {
                if (_dead && statement is not ExpectVmProbe)
                {
                    continue;
                }

                int? statementCpu = statement is CpuStatement cs ? cs.Cpu : null;
                _scenarioTracer?.OnStatementStart(statementCpu, statement.Source.Line, statement.Source.Text);
                try
                {
                    Step(statement);
                    if (!_dead)
                    {
                        _vm.Clock.RunDue();
                        if (statement is not (RestoreStatement or MigrateStatement))
                        {
                            ReenterKickedVcpus();
                        }

                        AfterStep?.Invoke(_vm, statement);
                    }
                }
#pragma warning disable CA1031 // An exception escaping the library is a finding, recorded as the VM dying.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _dead = true;
                    Fail(statement, $"the VM died: {ex.GetType().Name}: {ex.Message}");
                    _scenarioTracer?.OnStatement(statementCpu, statement.Source.Line, statement.Source.Text, "the VM died");
                }
            }

            _scenarioTracer?.OnRunEnd();

            CollectExits(_vm, _accel);
            var exits = _exits
                .Where(e => e.Value != 0)
                .OrderBy(e => e.Key.Backend, StringComparer.Ordinal).ThenBy(e => e.Key.Cpu).ThenBy(e => e.Key.Reason)
                .Select(e => new ExitCount(e.Key.Backend, e.Key.Cpu, ExitStatistics.NameOf(e.Key.Reason), e.Value))
                .ToArray();
            return new ScenarioResult(_scenario.FileName, _backend, _log, _failures, _dead, exits) { Dumps = _dumps };
        }

        private Fabric.VirtualMachine Build(AccelKind accel)
        {
            // The vm line's options, with the run's backend and profile (either may be overridden).
            var vm = new Fabric.VirtualMachine(_scenario.Vm with { Accel = accel, Profile = _profile });
            Attach(vm);
            return vm;
        }

        // Every VM the runner builds or restores reports to the run's tracer (the core's deliveries
        // and EOIs, the dispatcher's exits).
        private void Attach(Fabric.VirtualMachine vm)
        {
            vm.Tracer = _tracer;
            vm.GuestMemory = _memory; // the VM's RAM outlives a migration, as a VMM's does
            foreach (var (gsi, route) in _routes)
            {
                vm.SetMsiRoute(gsi, route.Address, route.Data); // so does its GSI routing table
            }
        }

        private void CollectExits(Fabric.VirtualMachine vm, AccelKind accel)
        {
            string name = Fabric.AccelNames.Format(accel);
            foreach (var v in vm.Vcpus)
            {
                foreach (var reason in ExitStatistics.Reasons)
                {
                    long n = v.Exits[reason];
                    if (n != 0)
                    {
                        var key = (name, v.Index, reason);
                        _exits[key] = _exits.GetValueOrDefault(key) + n;
                    }
                }
            }
        }

        private void Fail(Statement statement, string message) => _failures.Add(new ScenarioFailure(statement.Source.Line, message));

        private void Observe(Statement statement, int? cpu, Result result)
        {
            string text = result.ToString();
            _log.Add(new Observation(statement.Source.Line, string.Create(CultureInfo.InvariantCulture, $"{statement.Source.Line} {statement.Source.Text} -> {text}")));
            _scenarioTracer?.OnStatement(cpu, statement.Source.Line, statement.Source.Text, text);
            if (statement is IObservingStatement { Expect: { } expect } && !result.Matches(expect))
            {
                Fail(statement, $"expected {Describe(expect)}, observed {text}");
            }
        }

        private static string Describe(Expectation expect)
        {
            string s = expect.ToString();
            return s.StartsWith("== ", StringComparison.Ordinal) ? s[3..] : s;
        }

        private void Step(Statement statement)
        {
            switch (statement)
            {
                case CpuStatement c:
                    StepCpu(c, _vm.Vcpus[c.Cpu]);
                    break;
                case Probe p:
                    StepProbe(p);
                    break;
                default:
                    StepDevice(statement);
                    break;
            }
        }

        private void StepCpu(CpuStatement statement, Vcpu cpu)
        {
            switch (statement)
            {
                case WrmsrStatement s:
                    Observe(s, s.Cpu, Result.OkOrGp(cpu.TryWriteMsr(s.Msr.Number, s.Value)));
                    break;
                case RdmsrStatement s:
                    Observe(s, s.Cpu, cpu.TryReadMsr(s.Msr.Number, out ulong msr) ? Result.Of(msr) : Result.Gp);
                    break;
                case MmioWriteStatement s:
                    cpu.MmioWrite(s.Address, s.Value, s.Size);
                    Note(s, s.Cpu);
                    break;
                case MmioReadStatement s:
                    Observe(s, s.Cpu, Result.Of(cpu.MmioRead(s.Address, s.Size)));
                    break;
                case WriteRegisterStatement s:
                    Observe(s, s.Cpu, WriteRegister(cpu, s.Register.Offset, s.Value));
                    break;
                case ReadRegisterStatement s:
                    Observe(s, s.Cpu, ReadRegister(cpu, s.Register.Offset));
                    break;
                case EoiStatement s:
                    Observe(s, s.Cpu, WriteRegister(cpu, ApicOffset.Eoi, 0));
                    break;
                case IpiStatement s:
                    Observe(s, s.Cpu, SendIpi(cpu, s));
                    break;
                case StiStatement s:
                    cpu.Sti();
                    Note(s, s.Cpu);
                    break;
                case CliStatement s:
                    cpu.Cli();
                    Note(s, s.Cpu);
                    break;
                case IretStatement s:
                    cpu.Iret();
                    Note(s, s.Cpu);
                    break;
                case HltStatement s:
                    cpu.Hlt();
                    _scenarioTracer?.OnHalt(s.Cpu);
                    Note(s, s.Cpu);
                    break;
                case TakeStatement s:
                    {
                        var taken = cpu.Take();
                        _scenarioTracer?.OnTake(s.Cpu, taken);
                        Observe(s, s.Cpu, Result.Of(taken));
                        break;
                    }

                case PvEoiStatement s:
                    Observe(s, s.Cpu, PvEoi(cpu, s));
                    break;
                case KickCpuStatement s:
                    Observe(s, s.Cpu, Result.Of(unchecked((ulong)cpu.Hypercall(Vcpu.KvmHcKickCpu, 0, s.ApicId))));
                    break;
                case RdtscStatement s:
                    Observe(s, s.Cpu, Result.Of(cpu.Rdtsc()));
                    break;
                case HostWrmsrStatement s:
                    Observe(s, s.Cpu, cpu.HostWriteMsr(s.Msr.Number, s.Value) ? Result.Ok : Result.Error);
                    break;
                case Wrcr8Statement s:
                    Observe(s, s.Cpu, Result.OkOrGp(cpu.WriteCr8(s.Value)));
                    break;
                case Rdcr8Statement s:
                    Observe(s, s.Cpu, Result.Of(cpu.ReadCr8()));
                    break;
                case CpuidStatement s:
                    Observe(s, s.Cpu, Result.Of(cpu.Cpuid(s.Leaf, s.Subleaf, s.Register)));
                    break;
                case LintStatement s:
                    if (s.Action == LineAction.Pulse)
                    {
                        cpu.SetLint(s.Pin, true);
                        cpu.SetLint(s.Pin, false);
                    }
                    else
                    {
                        cpu.SetLint(s.Pin, s.Action == LineAction.Assert);
                    }

                    Note(s, s.Cpu);
                    break;
                default:
                    throw new NotSupportedException($"statement {statement.GetType().Name} is not supported by the runner");
            }
        }

        private void Note(Statement statement, int? cpu) =>
            _scenarioTracer?.OnStatement(cpu, statement.Source.Line, statement.Source.Text, null);

        private static Result WriteRegister(Vcpu cpu, int offset, ulong value)
        {
            if (cpu.Apic.IsX2Apic)
            {
                return Result.OkOrGp(cpu.TryWriteMsr(0x800u + (uint)(offset >> 4), value));
            }

            cpu.MmioWrite(cpu.Apic.BaseAddress + (ulong)offset, (uint)value, 4);
            return Result.Ok;
        }

        private static Result ReadRegister(Vcpu cpu, int offset)
        {
            if (cpu.Apic.IsX2Apic)
            {
                return cpu.TryReadMsr(0x800u + (uint)(offset >> 4), out ulong value) ? Result.Of(value) : Result.Gp;
            }

            return Result.Of(cpu.MmioRead(cpu.Apic.BaseAddress + (ulong)offset, 4));
        }

        // Linux's side of PV EOI: kvm_guest_cpu_init writes the MSR; kvm_guest_apic_eoi_write clears
        // the flag with a locked bit test-and-reset (guest memory, no exit) and writes the EOI
        // register only when the flag was not set.
        private Result PvEoi(Vcpu cpu, PvEoiStatement s)
        {
            switch (s.Action)
            {
                case PvEoiAction.Enable:
                    return Result.OkOrGp(cpu.TryWriteMsr(VirtualApic.Hypervisor.PvEoi.Msr, s.Address | VirtualApic.Hypervisor.PvEoi.EnableBit));
                case PvEoiAction.Disable:
                    return Result.OkOrGp(cpu.TryWriteMsr(VirtualApic.Hypervisor.PvEoi.Msr, 0));
                default:
                    Span<byte> flag = stackalloc byte[1];
                    ulong address = cpu.PvEoi.Address;
                    if (cpu.PvEoi.Enabled && _memory.TryRead(address, flag) && (flag[0] & VirtualApic.Hypervisor.PvEoi.FlagBit) != 0)
                    {
                        flag[0] &= unchecked((byte)~VirtualApic.Hypervisor.PvEoi.FlagBit);
                        _memory.TryWrite(address, flag);
                        return Result.Ok;
                    }

                    return WriteRegister(cpu, ApicOffset.Eoi, 0);
            }
        }

        private static Result SendIpi(Vcpu cpu, IpiStatement s)
        {
            bool x2 = cpu.Apic.IsX2Apic;
            var icr = Icr.Create(s.Vector, s.Mode, s.DestinationMode, s.Shorthand, s.Assert, s.Trigger, x2 ? s.Destination : s.Destination << 24);
            if (x2)
            {
                return Result.OkOrGp(cpu.TryWriteMsr(0x830, icr.Raw));
            }

            ulong baseAddress = cpu.Apic.BaseAddress;
            cpu.MmioWrite(baseAddress + ApicOffset.Icr2, icr.High, 4);
            cpu.MmioWrite(baseAddress + ApicOffset.Icr, icr.Low, 4);
            return Result.Ok;
        }

        private void StepDevice(Statement statement)
        {
            switch (statement)
            {
                case IoApicWriteStatement s:
                    _vm.IoApic.WriteRegister(s.Index, s.Value);
                    Note(s, null);
                    break;
                case IoApicReadStatement s:
                    Observe(s, null, Result.Of(_vm.IoApic.ReadRegister(s.Index)));
                    break;
                case IoApicRouteStatement s:
                    var entry = RedirectionEntry.Create(s.Vector, s.Mode, s.DestinationMode, s.Trigger, s.Polarity == PinPolarity.ActiveLow, s.Masked, (byte)s.Destination);
                    _vm.IoApic.WriteEntry(s.Pin, new RedirectionEntry(entry.Raw | ((ulong)((s.Destination >> 8) & 0x7F) << 49)));
                    Note(s, null);
                    break;
                case IrqStatement s:
                    if (s.Action == LineAction.Pulse)
                    {
                        _vm.IoApic.Pulse(s.Pin);
                    }
                    else
                    {
                        _vm.IoApic.SetLine(s.Pin, s.Action == LineAction.Assert);
                    }

                    Note(s, null);
                    break;
                case MsiStatement s:
                    _vm.DeliverMsi(s.Address, s.Data);
                    Note(s, null);
                    break;
                case MsiRouteStatement s:
                    try
                    {
                        _vm.SetMsiRoute(s.Gsi, s.Address, s.Data);
                        _routes[s.Gsi] = (s.Address, s.Data);
                    }
                    catch (ArgumentException ex)
                    {
                        Fail(s, ex.Message); // the VMM's KVM_SET_GSI_ROUTING fails (-EINVAL); the VM runs on
                    }

                    Note(s, null);
                    break;
                case GsiStatement s:
                    _vm.SignalGsi(s.Gsi);
                    Note(s, null);
                    break;
                case AdvanceStatement s:
                    _vm.Clock.Advance(s.Nanoseconds);
                    Note(s, null);
                    break;
                case PicRaiseStatement s:
                    _vm.Pic.Raise(s.Vector);
                    Note(s, null);
                    break;
                case PicLowerStatement s:
                    _vm.Pic.Lower();
                    Note(s, null);
                    break;
                case SnapshotStatement s:
                    _snapshots[s.Name] = Fabric.VmSnapshot.Capture(_vm);
                    _memorySnapshots[s.Name] = _memory.Clone();
                    Note(s, null);
                    break;
                case RestoreStatement s:
                    if (_snapshots.TryGetValue(s.Name, out var snapshot))
                    {
                        _memory.CopyFrom(_memorySnapshots[s.Name]); // RAM first, as a VMM restores it
                        snapshot.Restore(_vm);
                        _scenarioTracer?.OnStateReplaced();
                    }
                    else
                    {
                        Fail(s, $"no snapshot named '{s.Name}'");
                    }

                    Note(s, null);
                    break;
                case MigrateStatement s:
                    Migrate(s.Accel);
                    Note(s, null);
                    break;
                case DumpStatement s:
                    Dump(s);
                    Note(s, null);
                    break;
                default:
                    throw new NotSupportedException($"statement {statement.GetType().Name} is not supported by the runner");
            }
        }

        private void Dump(DumpStatement statement)
        {
            string header = string.Create(CultureInfo.InvariantCulture, $"{_scenario.FileName}:{statement.Source.Line}: {statement.Source.Text} [{_backend}]\n");
            string text = statement.Target switch
            {
                DumpTarget.Cpu => MonitorDump.InfoLapic(_vm.Vcpus[statement.Cpu]),
                DumpTarget.IoApic => MonitorDump.InfoPic(_vm.IoApic),
                _ => string.Join("\n", _vm.Vcpus.Select(MonitorDump.InfoLapic).Append(MonitorDump.InfoPic(_vm.IoApic))),
            };
            _dumps.Add(header + text);
        }

        private void Migrate(AccelKind accel)
        {
            var next = Fabric.VmSnapshot.Migrate(_vm, _vm.Options with { Accel = accel }, Attach);
            CollectExits(_vm, _accel);
            _vm.Dispose();
            _vm = next;
            _accel = accel;
        }

        private void StepProbe(Probe probe)
        {
            switch (probe)
            {
                case ExpectVectorsProbe p:
                    {
                        var apic = _vm.Vcpus[p.Cpu].Apic;
                        int regBase = p.Register switch
                        {
                            ApicVectorRegister.Irr => ApicOffset.Irr,
                            ApicVectorRegister.Isr => ApicOffset.Isr,
                            _ => ApicOffset.Tmr,
                        };
                        if (p.Register == ApicVectorRegister.Irr)
                        {
                            _ = apic.HighestIrr; // folds posted vectors in
                        }

                        string name = p.Register.ToString().ToUpperInvariant();
                        int highest = apic.Page.HighestVector(regBase);
                        string observed = highest < 0 ? "empty" : $"highest 0x{highest:x2}";
                        switch (p.Check)
                        {
                            case VectorSetCheck.Empty when highest >= 0:
                                Fail(p, $"expected {name} empty, observed {observed}");
                                break;
                            case VectorSetCheck.Has when !apic.Page.TestVector(regBase, p.Vector):
                                Fail(p, $"expected {name} has 0x{p.Vector:x2}, observed it lacks it ({observed})");
                                break;
                            case VectorSetCheck.Lacks when apic.Page.TestVector(regBase, p.Vector):
                                Fail(p, $"expected {name} lacks 0x{p.Vector:x2}, observed it has it");
                                break;
                        }

                        break;
                    }

                case ExpectRegisterProbe p:
                    {
                        ulong value = _vm.Vcpus[p.Cpu].Apic.ReadRegisterRaw(p.Register.Offset);
                        ulong mask = p.Mask ?? ulong.MaxValue;
                        if ((value & mask) != p.Value)
                        {
                            Fail(p, $"expected {p.Register.Text} {(p.Mask is { } m ? $"& 0x{m:x} " : "")}== 0x{p.Value:x}, observed 0x{value:x}");
                        }

                        break;
                    }

                case ExpectPendingProbe p:
                    {
                        var flag = (PendingEvents)(1 << (int)p.Event);
                        bool has = (_vm.Vcpus[p.Cpu].PendingEvents & flag) != 0;
                        if (has != p.Has)
                        {
                            string word = p.Event.ToString().ToLowerInvariant();
                            Fail(p, $"expected pending {(p.Has ? "has" : "lacks")} {word}, observed {(has ? "pending" : "not pending")}");
                        }

                        break;
                    }

                case ExpectModeProbe p:
                    {
                        var mode = _vm.Vcpus[p.Cpu].Apic.Mode;
                        if (mode != p.Mode)
                        {
                            Fail(p, $"expected mode {ModeName(p.Mode)}, observed {ModeName(mode)}");
                        }

                        break;
                    }

                case ExpectStateProbe p:
                    {
                        var state = _vm.Vcpus[p.Cpu].State;
                        if (state != p.State)
                        {
                            Fail(p, $"expected state {StateName(p.State)}, observed {StateName(state)}");
                        }

                        break;
                    }

                case ExpectInterruptFlagProbe p:
                    {
                        bool flag = _vm.Vcpus[p.Cpu].InterruptFlag;
                        if (flag != p.Set)
                        {
                            Fail(p, $"expected if == {(p.Set ? 1 : 0)}, observed {(flag ? 1 : 0)}");
                        }

                        break;
                    }

                case ExpectExitsProbe p:
                    {
                        if (!p.Accels.Contains(_accel))
                        {
                            break;
                        }

                        var exits = _vm.Vcpus[p.Cpu].Exits;
                        long count;
                        if (p.Reason is null)
                        {
                            count = exits.Total;
                        }
                        else if (ExitStatistics.TryParse(p.Reason, out var reason))
                        {
                            count = exits[reason];
                        }
                        else
                        {
                            Fail(p, $"unknown exit reason '{p.Reason}' (known: {string.Join(", ", ExitStatistics.Reasons.Select(ExitStatistics.NameOf))})");
                            break;
                        }

                        if ((ulong)count != p.Count)
                        {
                            Fail(p, $"expected cpu{p.Cpu} exits{(p.Reason is null ? "" : " " + p.Reason)} == {p.Count} under {Fabric.AccelNames.Format(_accel)}, observed {count}");
                        }

                        break;
                    }

                case ExpectPvEoiProbe p:
                    {
                        if (!p.Accels.Contains(_accel))
                        {
                            break;
                        }

                        bool set = _vm.Vcpus[p.Cpu].PvEoi.ReadFlag();
                        if (set != p.Set)
                        {
                            Fail(p, $"expected cpu{p.Cpu} pv-eoi == {(p.Set ? 1 : 0)} under {Fabric.AccelNames.Format(_accel)}, observed {(set ? 1 : 0)}");
                        }

                        break;
                    }

                case ExpectIoApicLineProbe p:
                    {
                        bool line = _vm.IoApic.GetLine(p.Pin);
                        if (line != p.High)
                        {
                            Fail(p, $"expected pin {p.Pin} line == {(p.High ? 1 : 0)}, observed {(line ? 1 : 0)}");
                        }

                        break;
                    }

                case ExpectIoApicRemoteIrrProbe p:
                    {
                        bool irr = _vm.IoApic.GetRemoteIrr(p.Pin);
                        if (irr != p.Set)
                        {
                            Fail(p, $"expected pin {p.Pin} remote-irr == {(p.Set ? 1 : 0)}, observed {(irr ? 1 : 0)}");
                        }

                        break;
                    }

                case ExpectIoApicEntryProbe p:
                    {
                        ulong raw = _vm.IoApic.GetEntry(p.Pin).Raw;
                        if ((raw & (p.Mask ?? ulong.MaxValue)) != p.Value)
                        {
                            Fail(p, $"expected pin {p.Pin} entry {(p.Mask is { } m ? $"& 0x{m:x} " : "")}== 0x{p.Value:x}, observed 0x{raw:x}");
                        }

                        break;
                    }

                case ExpectVmProbe p:
                    {
                        var state = _dead ? VmRunState.Dead : VmRunState.Running;
                        if (state != p.State)
                        {
                            Fail(p, $"expected vm {(p.State == VmRunState.Dead ? "dead" : "running")}, observed {(_dead ? "dead" : "running")}");
                        }

                        break;
                    }

                default:
                    throw new NotSupportedException($"probe {probe.GetType().Name} is not supported by the runner");
            }

            Note(probe, null);
        }

        private static string ModeName(ApicMode mode) => mode switch
        {
            ApicMode.Disabled => "disabled",
            ApicMode.XApic => "xapic",
            ApicMode.X2Apic => "x2apic",
            _ => "invalid",
        };

        private static string StateName(VcpuRunState state) => state switch
        {
            VcpuRunState.Halted => "halted",
            VcpuRunState.WaitForSipi => "wait-for-sipi",
            _ => "running",
        };
    }
}
