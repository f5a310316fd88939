// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Registers;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>The statement grammar: the <c>vm</c> line, vCPU, device and backend statements.</summary>
internal sealed partial class Parser
{
    // The backend names as the usage messages list them, from the one spelling (AccelNames).
    private static readonly string AccelChoices = string.Join('|', AccelNames.Names);

    private enum TopLevel
    {
        Vm,
        IoApic,
        Irq,
        Msi,
        MsiRoute,
        Gsi,
        Advance,
        Pic,
        Expect,
        Snapshot,
        Restore,
        Migrate,
        Dump,
    }

    private enum VmOption
    {
        Cpus,
        Accel,
        Profile,
        TscKhz,
        BusMhz,
        X2Apic,
        TscDeadline,
        Cmci,
        MaxPhyAddr,
        IoApicVersion,
        ExtDestId,
        ApState,
        X2Apic32BitIds,
        X2ApicBroadcastQuirk,
        SplitIrqchip,
    }

    private enum CpuOp
    {
        Wrmsr,
        Rdmsr,
        MmioWrite,
        MmioRead,
        Write,
        Read,
        Eoi,
        Ipi,
        Sti,
        Cli,
        Take,
        Iret,
        Hlt,
        Rdtsc,
        HostWrmsr,
        Wrcr8,
        Rdcr8,
        Cpuid,
        Lint0,
        Lint1,
        KickCpu,
        PvEoi,
    }

    private enum IpiOption
    {
        Dest,
        Mode,
        Logical,
        Shorthand,
        Level,
        Trigger,
    }

    private enum RouteOption
    {
        Vector,
        Dest,
        Logical,
        Trigger,
        Polarity,
        Mode,
        Masked,
    }

    private static readonly KeywordTable<TopLevel> Statements = new(
        ("vm", TopLevel.Vm), ("ioapic", TopLevel.IoApic), ("irq", TopLevel.Irq), ("msi", TopLevel.Msi),
        ("msi-route", TopLevel.MsiRoute), ("gsi", TopLevel.Gsi), ("advance", TopLevel.Advance), ("pic", TopLevel.Pic), ("expect", TopLevel.Expect),
        ("snapshot", TopLevel.Snapshot), ("restore", TopLevel.Restore), ("migrate", TopLevel.Migrate),
        ("dump", TopLevel.Dump));

    private static readonly KeywordTable<VmOption> VmOptionNames = new(
        ("cpus", VmOption.Cpus), ("accel", VmOption.Accel), ("profile", VmOption.Profile), ("tsc-khz", VmOption.TscKhz),
        ("bus-mhz", VmOption.BusMhz), ("x2apic", VmOption.X2Apic), ("tsc-deadline", VmOption.TscDeadline),
        ("cmci", VmOption.Cmci), ("maxphyaddr", VmOption.MaxPhyAddr), ("ioapic-version", VmOption.IoApicVersion),
        ("ext-dest-id", VmOption.ExtDestId), ("ap-state", VmOption.ApState),
        ("x2apic-32bit-ids", VmOption.X2Apic32BitIds), ("x2apic-broadcast-quirk", VmOption.X2ApicBroadcastQuirk),
        ("split-irqchip", VmOption.SplitIrqchip));

    private static readonly KeywordTable<CpuOp> CpuOps = new(
        ("wrmsr", CpuOp.Wrmsr), ("rdmsr", CpuOp.Rdmsr), ("mmio-write", CpuOp.MmioWrite), ("mmio-read", CpuOp.MmioRead),
        ("write", CpuOp.Write), ("read", CpuOp.Read), ("eoi", CpuOp.Eoi), ("ipi", CpuOp.Ipi), ("sti", CpuOp.Sti),
        ("cli", CpuOp.Cli), ("take", CpuOp.Take), ("iret", CpuOp.Iret), ("hlt", CpuOp.Hlt), ("rdtsc", CpuOp.Rdtsc),
        ("host-wrmsr", CpuOp.HostWrmsr), ("wrcr8", CpuOp.Wrcr8), ("rdcr8", CpuOp.Rdcr8), ("cpuid", CpuOp.Cpuid),
        ("lint0", CpuOp.Lint0), ("lint1", CpuOp.Lint1), ("kick-cpu", CpuOp.KickCpu), ("pv-eoi", CpuOp.PvEoi));

    private static readonly KeywordTable<PvEoiAction> PvEoiActions = new(
        ("enable", PvEoiAction.Enable), ("disable", PvEoiAction.Disable), ("eoi", PvEoiAction.Eoi));

    private static readonly KeywordTable<AccelKind> Accels = new([.. AccelNames.All.Select(k => (AccelNames.Format(k), k))]);

    private static readonly KeywordTable<ApicProfile> Profiles = new(
        (ApicProfile.Kvm.Name, ApicProfile.Kvm), (ApicProfile.Architectural.Name, ApicProfile.Architectural));

    private static readonly KeywordTable<bool> OnOff = new(("on", true), ("off", false));

    // ap-state: whether the APs wait for INIT-SIPI (VmOptions.ApsWaitForSipi).
    private static readonly KeywordTable<bool> ApStates = new(("running", false), ("wait-for-sipi", true));

    private static readonly KeywordTable<IpiOption> IpiOptions = new(
        ("dest", IpiOption.Dest), ("mode", IpiOption.Mode), ("logical", IpiOption.Logical),
        ("shorthand", IpiOption.Shorthand), ("level", IpiOption.Level), ("trigger", IpiOption.Trigger));

    private static readonly KeywordTable<DeliveryMode> IpiModes = new(
        ("fixed", DeliveryMode.Fixed), ("lowest", DeliveryMode.LowestPriority), ("smi", DeliveryMode.Smi),
        ("nmi", DeliveryMode.Nmi), ("init", DeliveryMode.Init), ("sipi", DeliveryMode.StartUp));

    private static readonly KeywordTable<DestinationShorthand> Shorthands = new(
        ("none", DestinationShorthand.None), ("self", DestinationShorthand.Self),
        ("all", DestinationShorthand.AllIncludingSelf), ("others", DestinationShorthand.AllExcludingSelf));

    private static readonly KeywordTable<bool> Levels = new(("assert", true), ("deassert", false));

    private static readonly KeywordTable<TriggerMode> Triggers = new(("edge", TriggerMode.Edge), ("level", TriggerMode.Level));

    private static readonly KeywordTable<RouteOption> RouteOptions = new(
        ("vector", RouteOption.Vector), ("dest", RouteOption.Dest), ("logical", RouteOption.Logical),
        ("trigger", RouteOption.Trigger), ("polarity", RouteOption.Polarity), ("mode", RouteOption.Mode),
        ("masked", RouteOption.Masked));

    private static readonly KeywordTable<DeliveryMode> RouteModes = new(
        ("fixed", DeliveryMode.Fixed), ("lowest", DeliveryMode.LowestPriority), ("smi", DeliveryMode.Smi),
        ("nmi", DeliveryMode.Nmi), ("init", DeliveryMode.Init), ("extint", DeliveryMode.ExtInt));

    private static readonly KeywordTable<PinPolarity> Polarities = new(("high", PinPolarity.ActiveHigh), ("low", PinPolarity.ActiveLow));

    private static readonly KeywordTable<LineAction> LineActions = new(
        ("assert", LineAction.Assert), ("deassert", LineAction.Deassert), ("pulse", LineAction.Pulse));

    private static readonly KeywordTable<CpuidRegister> CpuidRegisters = new(
        ("eax", CpuidRegister.Eax), ("ebx", CpuidRegister.Ebx), ("ecx", CpuidRegister.Ecx), ("edx", CpuidRegister.Edx));

    private static readonly KeywordTable<int> MmioSizes = new(("1", 1), ("2", 2), ("4", 4), ("8", 8));

    private void ParseStatement()
    {
        var first = _tokens[_cursor++];
        if (first.Kind != TokenKind.Word)
        {
            throw At(first, $"expected a statement, found {Show(first)}");
        }

        var word = Span(first);
        bool isVm = word.Equals("vm", StringComparison.OrdinalIgnoreCase);
        if (_firstStatementLine == _line && !isVm && !_unreadableFirst)
        {
            throw At(first, $"the first statement must be `vm` (for example `vm cpus=1`), found {Show(first)}");
        }

        if (IsCpuName(word))
        {
            _statements.Add(ParseCpuStatement(CpuIndex(first)));
            return;
        }

        if (!Statements.TryGet(word, out var kind))
        {
            throw At(first, $"unknown statement {Show(first)}; expected vm, cpuN, ioapic, irq, msi, advance, pic, expect, snapshot, restore, migrate or dump");
        }

        var statement = kind switch
        {
            TopLevel.Vm => ParseVm(first),
            TopLevel.IoApic => ParseIoApic(),
            TopLevel.Irq => ParseIrq(),
            TopLevel.Msi => ParseMsi(),
            TopLevel.MsiRoute => ParseMsiRoute(),
            TopLevel.Gsi => ParseGsi(),
            TopLevel.Advance => ParseAdvance(),
            TopLevel.Pic => ParsePic(),
            TopLevel.Expect => ParseProbe(),
            TopLevel.Snapshot => ParseSnapshot(),
            TopLevel.Restore => ParseRestore(),
            TopLevel.Migrate => ParseMigrate(),
            TopLevel.Dump => ParseDump(),
            _ => throw new InvalidOperationException($"unhandled statement {kind}"),
        };
        if (statement is not null)
        {
            _statements.Add(statement);
        }
    }

    // ---- vm ------------------------------------------------------------------------------------

    private const string VmUsage = "vm [cpus=N] [accel=KIND] [profile=kvm|architectural] [tsc-khz=N] [bus-mhz=N] [x2apic=on|off] "
        + "[tsc-deadline=on|off] [cmci=on|off] [maxphyaddr=N] [ioapic-version=0x11|0x20] [ext-dest-id=on|off] [ap-state=running|wait-for-sipi] "
        + "[x2apic-32bit-ids=on|off] [x2apic-broadcast-quirk=on|off] [split-irqchip=on|off]";

    /// <summary>The <c>vm</c> line: sets <see cref="_vm"/>; it is not a statement of the list.</summary>
    private Statement? ParseVm(Token first)
    {
        if (_vmLine != 0)
        {
            throw At(first, $"duplicate `vm` statement: the vm is declared on line {_vmLine}");
        }

        _vmLine = _line;
        if (_firstStatementLine != _line)
        {
            throw At(first, $"`vm` must be the first statement (line {_firstStatementLine} comes before it)");
        }

        var options = new VmOptions();
        uint seen = 0;
        while (!AtEnd)
        {
            var key = _tokens[_cursor++];
            if (key.Kind != TokenKind.Word)
            {
                throw At(key, $"expected a vm option such as cpus=N, found {Show(key)}; usage: {VmUsage}");
            }

            var option = Choice(key, VmOptionNames, "vm option");
            Once(ref seen, (int)option, key);
            options = option switch
            {
                VmOption.Cpus => options with { Cpus = (int)Ranged(OptionValue(key, "cpus=N"), "cpus", VmUsage, 1, VmOptions.MaxCpus, $"1..{VmOptions.MaxCpus}") },
                VmOption.Accel => options with { Accel = Choice(OptionValue(key, "accel=" + AccelChoices), Accels, "accel") },
                VmOption.Profile => options with { Profile = Choice(OptionValue(key, "profile=kvm|architectural"), Profiles, "profile") },
                VmOption.TscKhz => options with { TscKhz = (long)Ranged(OptionValue(key, "tsc-khz=N"), "tsc-khz", VmUsage, 1, uint.MaxValue, "1..4294967295") },
                VmOption.BusMhz => options with { BusMhz = (long)Ranged(OptionValue(key, "bus-mhz=N"), "bus-mhz", VmUsage, 1, uint.MaxValue, "1..4294967295") },
                VmOption.X2Apic => options with { X2Apic = Choice(OptionValue(key, "x2apic=on|off"), OnOff, "x2apic value") },
                VmOption.TscDeadline => options with { TscDeadline = Choice(OptionValue(key, "tsc-deadline=on|off"), OnOff, "tsc-deadline value") },
                VmOption.Cmci => options with { Cmci = Choice(OptionValue(key, "cmci=on|off"), OnOff, "cmci value") },
                VmOption.MaxPhyAddr => options with { MaxPhysAddr = (int)Ranged(OptionValue(key, "maxphyaddr=N"), "maxphyaddr", VmUsage, 32, 52, "32..52") },
                VmOption.IoApicVersion => options with { IoApicVersion = IoApicVersion(OptionValue(key, "ioapic-version=0x11|0x20")) },
                VmOption.ExtDestId => options with { ExtendedDestinationId = Choice(OptionValue(key, "ext-dest-id=on|off"), OnOff, "ext-dest-id value") },
                VmOption.X2Apic32BitIds => options with { X2ApicApi = With(options.X2ApicApi, X2ApicApiFlags.Use32BitIds, Choice(OptionValue(key, "x2apic-32bit-ids=on|off"), OnOff, "x2apic-32bit-ids value")) },
                VmOption.X2ApicBroadcastQuirk => options with { X2ApicApi = With(options.X2ApicApi, X2ApicApiFlags.DisableBroadcastQuirk, !Choice(OptionValue(key, "x2apic-broadcast-quirk=on|off"), OnOff, "x2apic-broadcast-quirk value")) },
                VmOption.SplitIrqchip => options with { SplitIrqchip = Choice(OptionValue(key, "split-irqchip=on|off"), OnOff, "split-irqchip value") },
                VmOption.ApState => options with { ApsWaitForSipi = Choice(OptionValue(key, "ap-state=running|wait-for-sipi"), ApStates, "ap-state") },
                _ => throw new InvalidOperationException($"unhandled vm option {option}"),
            };
        }

        _vm = options;
        _vmSource = Source();
        return null;
    }

    private static X2ApicApiFlags With(X2ApicApiFlags flags, X2ApicApiFlags flag, bool on) => on ? flags | flag : flags & ~flag;

    private byte IoApicVersion(Token token)
    {
        ulong version = Number(token, "ioapic-version", "ioapic-version=0x11|0x20");
        return version is 0x11 or 0x20
            ? (byte)version
            : throw At(token, $"ioapic-version {Span(token)} is not supported; expected 0x11 or 0x20");
    }

    // ---- cpuN OP -------------------------------------------------------------------------------

    private Statement ParseCpuStatement(int cpu)
    {
        var opToken = TakeWord("an operation", "cpuN OP ...");
        var op = Choice(opToken, CpuOps, "vCPU operation");
        switch (op)
        {
            case CpuOp.Wrmsr:
                {
                    const string usage = "cpuN wrmsr MSR VALUE";
                    var msr = TakeMsr(usage);
                    ulong value = TakeNumber("VALUE", usage);
                    return new WrmsrStatement(Source(), cpu, msr, value, TakeExpectation(Observes.OkOrFault, "wrmsr", usage));
                }

            case CpuOp.Rdmsr:
                {
                    const string usage = "cpuN rdmsr MSR";
                    var msr = TakeMsr(usage);
                    return new RdmsrStatement(Source(), cpu, msr, TakeExpectation(Observes.ValueOrFault, "rdmsr", usage));
                }

            case CpuOp.MmioWrite:
                {
                    const string usage = "cpuN mmio-write ADDR VALUE [size=1|2|4|8]";
                    ulong address = TakeNumber("ADDR", usage);
                    var valueToken = Take("VALUE", usage);
                    ulong value = Number(valueToken, "VALUE", usage);
                    int size = TakeMmioSize(usage);
                    if (size < 8 && value >> (size * 8) != 0)
                    {
                        throw At(valueToken, $"VALUE {Span(valueToken)} does not fit in {size} byte{(size == 1 ? "" : "s")}");
                    }

                    EndWithoutExpectation("mmio-write", usage);
                    return new MmioWriteStatement(Source(), cpu, address, value, size);
                }

            case CpuOp.MmioRead:
                {
                    const string usage = "cpuN mmio-read ADDR [size=1|2|4|8]";
                    ulong address = TakeNumber("ADDR", usage);
                    int size = TakeMmioSize(usage);
                    ulong largest = size == 8 ? ulong.MaxValue : (1ul << (size * 8)) - 1;
                    return new MmioReadStatement(Source(), cpu, address, size, TakeExpectation(Observes.Value, "mmio-read", usage, largest));
                }

            case CpuOp.Write:
                {
                    const string usage = "cpuN write REG VALUE";
                    var register = TakeRegister(usage);
                    ulong value = TakeNumber("VALUE", usage);
                    return new WriteRegisterStatement(Source(), cpu, register, value, TakeExpectation(Observes.OkOrFault, "write", usage));
                }

            case CpuOp.Read:
                {
                    const string usage = "cpuN read REG";
                    var register = TakeRegister(usage);
                    return new ReadRegisterStatement(Source(), cpu, register, TakeExpectation(Observes.ValueOrFault, "read", usage));
                }

            case CpuOp.Eoi:
                return new EoiStatement(Source(), cpu, TakeExpectation(Observes.OkOrFault, "eoi", "cpuN eoi"));
            case CpuOp.Ipi:
                return ParseIpi(cpu);
            case CpuOp.Sti:
                EndWithoutExpectation("sti", "cpuN sti");
                return new StiStatement(Source(), cpu);
            case CpuOp.Cli:
                EndWithoutExpectation("cli", "cpuN cli");
                return new CliStatement(Source(), cpu);
            case CpuOp.Take:
                return new TakeStatement(Source(), cpu, TakeExpectation(Observes.Event, "take", "cpuN take"));
            case CpuOp.Iret:
                EndWithoutExpectation("iret", "cpuN iret");
                return new IretStatement(Source(), cpu);
            case CpuOp.Hlt:
                EndWithoutExpectation("hlt", "cpuN hlt");
                return new HltStatement(Source(), cpu);
            case CpuOp.KickCpu:
                {
                    const string usage = "cpuN kick-cpu APICID";
                    uint apicId = TakeUInt32("APICID", usage);
                    return new KickCpuStatement(Source(), cpu, apicId, TakeExpectation(Observes.Value, "kick-cpu", usage));
                }

            case CpuOp.PvEoi:
                {
                    const string usage = "cpuN pv-eoi enable ADDR|disable|eoi";
                    var action = TakeChoice(PvEoiActions, "PV EOI action", usage);
                    ulong address = action == PvEoiAction.Enable ? TakeNumber("ADDR", usage) : 0;
                    return new PvEoiStatement(Source(), cpu, action, address, TakeExpectation(Observes.OkOrFault, "pv-eoi", usage));
                }

            case CpuOp.Rdtsc:
                return new RdtscStatement(Source(), cpu, TakeExpectation(Observes.Value, "rdtsc", "cpuN rdtsc"));
            case CpuOp.HostWrmsr:
                {
                    const string usage = "cpuN host-wrmsr MSR VALUE";
                    var msr = TakeMsr(usage);
                    ulong value = TakeNumber("VALUE", usage);
                    return new HostWrmsrStatement(Source(), cpu, msr, value, TakeExpectation(Observes.OkOrError, "host-wrmsr", usage));
                }

            case CpuOp.Wrcr8:
                {
                    const string usage = "cpuN wrcr8 VALUE";
                    ulong value = TakeNumber("VALUE", usage);
                    return new Wrcr8Statement(Source(), cpu, value, TakeExpectation(Observes.OkOrFault, "wrcr8", usage));
                }

            case CpuOp.Rdcr8:
                return new Rdcr8Statement(Source(), cpu, TakeExpectation(Observes.Value, "rdcr8", "cpuN rdcr8", 0xF));
            case CpuOp.Cpuid:
                return ParseCpuid(cpu);
            case CpuOp.Lint0:
            case CpuOp.Lint1:
                {
                    string name = op == CpuOp.Lint0 ? "lint0" : "lint1";
                    string usage = op == CpuOp.Lint0 ? "cpuN lint0 assert|deassert|pulse" : "cpuN lint1 assert|deassert|pulse";
                    var action = TakeChoice(LineActions, $"{name} action", usage);
                    EndWithoutExpectation(name, usage);
                    return new LintStatement(Source(), cpu, op == CpuOp.Lint0 ? 0 : 1, action);
                }

            default:
                throw new InvalidOperationException($"unhandled vCPU operation {op}");
        }
    }

    /// <summary>The optional <c>size=1|2|4|8</c> of an MMIO access (default 4).</summary>
    private int TakeMmioSize(string usage)
    {
        if (AtEnd || AtExpectation)
        {
            return 4;
        }

        var key = _tokens[_cursor++];
        if (!Is(key, "size"))
        {
            throw At(key, $"unexpected {Show(key)}; usage: {usage}");
        }

        var value = OptionValue(key, "size=1|2|4|8");
        return MmioSizes.TryGet(Span(value), out int size) ? size : throw At(value, $"size {Show(value)} is not 1, 2, 4 or 8");
    }

    private const string IpiUsage = "cpuN ipi VECTOR [dest=ID] [mode=fixed|lowest|smi|nmi|init|sipi] [logical] "
        + "[shorthand=none|self|all|others] [level=assert|deassert] [trigger=edge|level]";

    private IpiStatement ParseIpi(int cpu)
    {
        byte vector = TakeVector(IpiUsage);
        uint destination = 0;
        var mode = DeliveryMode.Fixed;
        var destinationMode = DestinationMode.Physical;
        var shorthand = DestinationShorthand.None;
        bool assert = true;
        var trigger = TriggerMode.Edge;
        uint seen = 0;
        while (!AtEnd && !AtExpectation)
        {
            var key = _tokens[_cursor++];
            if (key.Kind != TokenKind.Word || !IpiOptions.TryGet(Span(key), out var option))
            {
                throw At(key, $"unknown ipi option {Show(key)}; expected dest=, mode=, logical, shorthand=, level= or trigger=");
            }

            Once(ref seen, (int)option, key);
            switch (option)
            {
                case IpiOption.Dest:
                    destination = (uint)Ranged(OptionValue(key, "dest=ID"), "dest", IpiUsage, 0, uint.MaxValue, "0..0xffffffff (32 bits)");
                    break;
                case IpiOption.Mode:
                    mode = Choice(OptionValue(key, "mode=fixed|lowest|smi|nmi|init|sipi"), IpiModes, "ipi mode");
                    break;
                case IpiOption.Logical:
                    destinationMode = DestinationMode.Logical;
                    break;
                case IpiOption.Shorthand:
                    shorthand = Choice(OptionValue(key, "shorthand=none|self|all|others"), Shorthands, "shorthand");
                    break;
                case IpiOption.Level:
                    assert = Choice(OptionValue(key, "level=assert|deassert"), Levels, "level");
                    break;
                case IpiOption.Trigger:
                    trigger = Choice(OptionValue(key, "trigger=edge|level"), Triggers, "trigger");
                    break;
                default:
                    throw new InvalidOperationException($"unhandled ipi option {option}");
            }
        }

        var expect = TakeExpectation(Observes.OkOrFault, "ipi", IpiUsage);
        return new IpiStatement(Source(), cpu, vector, destination, mode, destinationMode, shorthand, assert, trigger, expect);
    }

    private CpuidStatement ParseCpuid(int cpu)
    {
        const string usage = "cpuN cpuid LEAF [SUBLEAF] eax|ebx|ecx|edx";
        uint leaf = TakeUInt32("LEAF", usage);
        uint subleaf = 0;
        var token = Take("the output register (eax, ebx, ecx or edx)", usage);
        if (!CpuidRegisters.TryGet(Span(token), out var register))
        {
            if (token.Kind != TokenKind.Word || !Literals.LooksNumeric(Span(token)))
            {
                throw At(token, $"expected SUBLEAF or eax, ebx, ecx or edx, found {Show(token)}; usage: {usage}");
            }

            subleaf = (uint)Ranged(token, "SUBLEAF", usage, 0, uint.MaxValue, "0..0xffffffff (32 bits)");
            register = TakeChoice(CpuidRegisters, "CPUID output register", usage);
        }

        return new CpuidStatement(Source(), cpu, leaf, subleaf, register, TakeExpectation(Observes.Value, "cpuid", usage, uint.MaxValue));
    }

    // ---- devices -------------------------------------------------------------------------------

    private const string IoApicUsage = "ioapic write INDEX VALUE | ioapic read INDEX | ioapic route PIN vector=V ...";

    private const string RouteUsage = "ioapic route PIN vector=V [dest=ID] [logical] [trigger=edge|level] [polarity=high|low] "
        + "[mode=fixed|lowest|smi|nmi|init|extint] [masked]";

    private Statement ParseIoApic()
    {
        var verb = TakeWord("write, read or route", IoApicUsage);
        if (Is(verb, "write"))
        {
            const string usage = "ioapic write INDEX VALUE";
            uint index = TakeUInt32("INDEX", usage);
            uint value = TakeUInt32("VALUE", usage);
            EndWithoutExpectation("ioapic write", usage);
            return new IoApicWriteStatement(Source(), index, value);
        }

        if (Is(verb, "read"))
        {
            const string usage = "ioapic read INDEX";
            uint index = TakeUInt32("INDEX", usage);
            return new IoApicReadStatement(Source(), index, TakeExpectation(Observes.Value, "ioapic read", usage, uint.MaxValue));
        }

        if (Is(verb, "route"))
        {
            return ParseRoute();
        }

        throw At(verb, $"unknown ioapic operation {Show(verb)}; expected write, read or route");
    }

    private IoApicRouteStatement ParseRoute()
    {
        int pin = TakePin(RouteUsage);
        byte? vector = null;
        uint destination = 0;
        var destinationMode = DestinationMode.Physical;
        var trigger = TriggerMode.Edge;
        var polarity = PinPolarity.ActiveHigh;
        var mode = DeliveryMode.Fixed;
        bool masked = false;
        uint seen = 0;
        bool extended = _vm?.ExtendedDestinationId ?? false;
        while (!AtEnd && !AtExpectation)
        {
            var key = _tokens[_cursor++];
            if (key.Kind != TokenKind.Word || !RouteOptions.TryGet(Span(key), out var option))
            {
                throw At(key, $"unknown route option {Show(key)}; expected vector=, dest=, logical, trigger=, polarity=, mode= or masked");
            }

            Once(ref seen, (int)option, key);
            switch (option)
            {
                case RouteOption.Vector:
                    vector = Vector(OptionValue(key, "vector=V"), RouteUsage);
                    break;
                case RouteOption.Dest:
                    destination = extended
                        ? (uint)Ranged(OptionValue(key, "dest=ID"), "dest", RouteUsage, 0, 0x7FFF, "0..0x7fff (15 bits with ext-dest-id=on)")
                        : (uint)Ranged(OptionValue(key, "dest=ID"), "dest", RouteUsage, 0, 0xFF, "0..0xff (8 bits; 15 with ext-dest-id=on)");
                    break;
                case RouteOption.Logical:
                    destinationMode = DestinationMode.Logical;
                    break;
                case RouteOption.Trigger:
                    trigger = Choice(OptionValue(key, "trigger=edge|level"), Triggers, "trigger");
                    break;
                case RouteOption.Polarity:
                    polarity = Choice(OptionValue(key, "polarity=high|low"), Polarities, "polarity");
                    break;
                case RouteOption.Mode:
                    mode = Choice(OptionValue(key, "mode=fixed|lowest|smi|nmi|init|extint"), RouteModes, "route mode");
                    break;
                case RouteOption.Masked:
                    masked = true;
                    break;
                default:
                    throw new InvalidOperationException($"unhandled route option {option}");
            }
        }

        EndWithoutExpectation("ioapic route", RouteUsage);
        if (vector is not { } routed)
        {
            throw Missing("vector=V", RouteUsage);
        }

        return new IoApicRouteStatement(Source(), pin, routed, destination, destinationMode, trigger, polarity, mode, masked);
    }

    private IrqStatement ParseIrq()
    {
        const string usage = "irq PIN assert|deassert|pulse";
        int pin = TakePin(usage);
        var action = TakeChoice(LineActions, "irq action", usage);
        EndWithoutExpectation("irq", usage);
        return new IrqStatement(Source(), pin, action);
    }

    private MsiStatement ParseMsi()
    {
        const string usage = "msi ADDR DATA";
        ulong address = TakeNumber("ADDR", usage);
        uint data = TakeUInt32("DATA", usage);
        EndWithoutExpectation("msi", usage);
        return new MsiStatement(Source(), address, data);
    }

    private MsiRouteStatement ParseMsiRoute()
    {
        const string usage = "msi-route GSI ADDR DATA";
        int gsi = (int)TakeRanged("GSI", usage, 0, 4095, "0..4095");
        ulong address = TakeNumber("ADDR", usage);
        uint data = TakeUInt32("DATA", usage);
        EndWithoutExpectation("msi-route", usage);
        return new MsiRouteStatement(Source(), gsi, address, data);
    }

    private GsiStatement ParseGsi()
    {
        const string usage = "gsi GSI";
        int gsi = (int)TakeRanged("GSI", usage, 0, 4095, "0..4095");
        EndWithoutExpectation("gsi", usage);
        return new GsiStatement(Source(), gsi);
    }

    private AdvanceStatement ParseAdvance()
    {
        const string usage = "advance DURATION (for example advance 250us)";
        long nanoseconds = TakeDuration(usage);
        EndWithoutExpectation("advance", usage);
        return new AdvanceStatement(Source(), nanoseconds);
    }

    private Statement ParsePic()
    {
        const string usage = "pic raise VECTOR | pic lower";
        var verb = TakeWord("raise or lower", usage);
        if (Is(verb, "raise"))
        {
            byte vector = TakeVector("pic raise VECTOR");
            EndWithoutExpectation("pic raise", "pic raise VECTOR");
            return new PicRaiseStatement(Source(), vector);
        }

        if (Is(verb, "lower"))
        {
            EndWithoutExpectation("pic lower", "pic lower");
            return new PicLowerStatement(Source());
        }

        throw At(verb, $"unknown pic operation {Show(verb)}; expected raise or lower");
    }

    // ---- backends ------------------------------------------------------------------------------

    private SnapshotStatement ParseSnapshot()
    {
        const string usage = "snapshot NAME";
        string name = TakeName(usage);
        EndWithoutExpectation("snapshot", usage);
        _snapshots.Add(name);
        return new SnapshotStatement(Source(), name);
    }

    private RestoreStatement ParseRestore()
    {
        const string usage = "restore NAME";
        var token = _cursor < _tokens.Count ? _tokens[_cursor] : default;
        string name = TakeName(usage);
        EndWithoutExpectation("restore", usage);
        return _snapshots.Contains(name)
            ? new RestoreStatement(Source(), name)
            : throw At(token, $"no snapshot {Show(token)} to restore: no earlier `snapshot {name}`");
    }

    private MigrateStatement ParseMigrate()
    {
        string usage = "migrate accel=" + AccelChoices;
        var key = TakeWord("accel=KIND", usage);
        if (!Is(key, "accel"))
        {
            throw At(key, $"expected accel=KIND, found {Show(key)}; usage: {usage}");
        }

        var accel = Choice(OptionValue(key, usage), Accels, "accel");
        EndWithoutExpectation("migrate", usage);
        return new MigrateStatement(Source(), accel);
    }

    // ---- dump ----------------------------------------------------------------------------------

    private DumpStatement ParseDump()
    {
        const string usage = "dump [cpuN|ioapic]";
        if (AtEnd)
        {
            return new DumpStatement(Source(), DumpTarget.All, 0);
        }

        var token = TakeWord("cpuN or ioapic", usage);
        DumpStatement statement;
        if (IsCpuName(Span(token)))
        {
            statement = new DumpStatement(Source(), DumpTarget.Cpu, CpuIndex(token));
        }
        else if (Is(token, "ioapic"))
        {
            statement = new DumpStatement(Source(), DumpTarget.IoApic, 0);
        }
        else
        {
            throw At(token, $"expected cpuN or ioapic, found {Show(token)}; usage: {usage}");
        }

        EndWithoutExpectation("dump", usage);
        return statement;
    }
}
