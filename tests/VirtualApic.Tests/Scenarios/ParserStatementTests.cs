// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Cpu;
using VirtualApic.Registers;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>Every statement of scenario-format.md parses to the right AST node (one row per form).</summary>
public class ParserStatementTests
{
    private static readonly SourceLine S = default;

    private static Expectation Eq(ulong value) => Expectation.EqualTo(value);

    private static Expectation Masked(ulong mask, ulong value) => Expectation.MaskedEqualTo(mask, value);

    private static readonly Expectation Gp = Expectation.GeneralProtection;

    private static Expectation Ev(ExpectationKind kind, ulong vector = 0) => new(kind, vector);

    private static IpiStatement Ipi(
        byte vector,
        uint dest = 0,
        DeliveryMode mode = DeliveryMode.Fixed,
        DestinationMode destinationMode = DestinationMode.Physical,
        DestinationShorthand shorthand = DestinationShorthand.None,
        bool assert = true,
        TriggerMode trigger = TriggerMode.Edge,
        Expectation? expect = null,
        int cpu = 0) =>
        new(S, cpu, vector, dest, mode, destinationMode, shorthand, assert, trigger, expect);

    private static IoApicRouteStatement Route(
        int pin,
        byte vector,
        uint dest = 0,
        DestinationMode destinationMode = DestinationMode.Physical,
        TriggerMode trigger = TriggerMode.Edge,
        PinPolarity polarity = PinPolarity.ActiveHigh,
        DeliveryMode mode = DeliveryMode.Fixed,
        bool masked = false) =>
        new(S, pin, vector, dest, destinationMode, trigger, polarity, mode, masked);

    public static TheoryData<string, Statement> CpuRows => new()
    {
        // wrmsr: MSR by name (resolved, text kept) or number; observes ok or #GP.
        { "cpu0 wrmsr APIC_BASE 0xfee00d00      # enable x2APIC", new WrmsrStatement(S, 0, new MsrRef(0x1B, "APIC_BASE"), 0xFEE00D00, null) },
        { "cpu1 wrmsr 0x1b 0xfee0_0900 == ok", new WrmsrStatement(S, 1, new MsrRef(0x1B, "0x1b"), 0xFEE00900, new Expectation(ExpectationKind.Ok)) },
        { "cpu0 wrmsr X2APIC_SELF_IPI 0x100 !gp # reserved bits set", new WrmsrStatement(S, 0, new MsrRef(0x83F, "X2APIC_SELF_IPI"), 0x100, Gp) },
        { "CPU2 WRMSR tsc_deadline 1000 == #GP", new WrmsrStatement(S, 2, new MsrRef(0x6E0, "tsc_deadline"), 1000, Gp) },
        { "cpu0 wrmsr x2apic_eoi 0 == #gp", new WrmsrStatement(S, 0, new MsrRef(0x80B, "x2apic_eoi"), 0, Gp) },
        { "cpu0 wrmsr X2APIC_ICR 0x0000_0001_0000_0051", new WrmsrStatement(S, 0, new MsrRef(0x830, "X2APIC_ICR"), 0x1_0000_0051, null) },
        { "cpu3 wrmsr X2APIC_LVT_TIMER 0x10051 !GP", new WrmsrStatement(S, 3, new MsrRef(0x832, "X2APIC_LVT_TIMER"), 0x10051, Gp) },
        { "cpu0 wrmsr 4294967295 1", new WrmsrStatement(S, 0, new MsrRef(0xFFFF_FFFF, "4294967295"), 1, null) },

        // rdmsr: observes a value or #GP.
        { "cpu0 rdmsr X2APIC_EOI !gp            # EOI is write-only in x2APIC mode", new RdmsrStatement(S, 0, new MsrRef(0x80B, "X2APIC_EOI"), Gp) },
        { "cpu0 rdmsr APIC_BASE == 0xfee00900", new RdmsrStatement(S, 0, new MsrRef(0x1B, "APIC_BASE"), Eq(0xFEE00900)) },
        { "cpu0 rdmsr APIC_BASE & 0xc00 == 0x800", new RdmsrStatement(S, 0, new MsrRef(0x1B, "APIC_BASE"), Masked(0xC00, 0x800)) },
        { "cpu0 rdmsr 0x802", new RdmsrStatement(S, 0, new MsrRef(0x802, "0x802"), null) },
        { "cpu0 rdmsr X2APIC_ISR7 == 0", new RdmsrStatement(S, 0, new MsrRef(0x817, "X2APIC_ISR7"), Eq(0)) },

        // mmio-write / mmio-read with size= (default 4).
        { "cpu0 mmio-write 0xfee000b0 0", new MmioWriteStatement(S, 0, 0xFEE000B0, 0, 4) },
        { "cpu0 mmio-write 0xfee00080 0xff size=1", new MmioWriteStatement(S, 0, 0xFEE00080, 0xFF, 1) },
        { "cpu0 mmio-write 0xfee00080 0xffff SIZE=2", new MmioWriteStatement(S, 0, 0xFEE00080, 0xFFFF, 2) },
        { "cpu0 mmio-write 0xfee00300 0x1_0000_0000 size=8", new MmioWriteStatement(S, 0, 0xFEE00300, 0x1_0000_0000, 8) },
        { "cpu0 mmio-read 0xfee00030", new MmioReadStatement(S, 0, 0xFEE00030, 4, null) },
        { "cpu0 mmio-read 0xfee00030 size=8 == 0x50014", new MmioReadStatement(S, 0, 0xFEE00030, 8, Eq(0x50014)) },
        { "cpu0 mmio-read 0xfee00020 & 0xff000000 == 0", new MmioReadStatement(S, 0, 0xFEE00020, 4, Masked(0xFF00_0000, 0)) },
        { "cpu0 mmio-read 0xfee00020 size=1 == 0xff", new MmioReadStatement(S, 0, 0xFEE00020, 1, Eq(0xFF)) },

        // write / read REG: offset or name.
        { "cpu0 write TPR 0x20", new WriteRegisterStatement(S, 0, new RegisterRef(0x80, "TPR"), 0x20, null) },
        { "cpu0 write 0x80 0x20 == ok", new WriteRegisterStatement(S, 0, new RegisterRef(0x80, "0x80"), 0x20, new Expectation(ExpectationKind.Ok)) },
        { "cpu1 write lvt_timer 0x10051 !gp", new WriteRegisterStatement(S, 1, new RegisterRef(0x320, "lvt_timer"), 0x10051, Gp) },
        { "cpu0 write SELF_IPI 0x51", new WriteRegisterStatement(S, 0, new RegisterRef(0x3F0, "SELF_IPI"), 0x51, null) },
        { "cpu0 read PPR == 0x20", new ReadRegisterStatement(S, 0, new RegisterRef(0xA0, "PPR"), Eq(0x20)) },
        { "cpu0 read ISR7", new ReadRegisterStatement(S, 0, new RegisterRef(0x170, "ISR7"), null) },
        { "cpu0 read EOI !gp", new ReadRegisterStatement(S, 0, new RegisterRef(0xB0, "EOI"), Gp) },
        { "cpu0 read 0xff0", new ReadRegisterStatement(S, 0, new RegisterRef(0xFF0, "0xff0"), null) },
        { "cpu0 read 0 == 0", new ReadRegisterStatement(S, 0, new RegisterRef(0, "0"), Eq(0)) },
        { "cpu0 read ICR & 0x1000 == 0", new ReadRegisterStatement(S, 0, new RegisterRef(0x300, "ICR"), Masked(0x1000, 0)) },

        // eoi: write EOI 0; observes ok or #GP.
        { "cpu0 eoi", new EoiStatement(S, 0, null) },
        { "cpu3 eoi == ok", new EoiStatement(S, 3, new Expectation(ExpectationKind.Ok)) },
        { "cpu0 eoi !gp", new EoiStatement(S, 0, Gp) },

        // ipi: every option, in any order; defaults dest=0 fixed physical none assert edge.
        { "cpu0 ipi 0x51", Ipi(0x51) },
        { "cpu2 ipi 0x51 dest=3 mode=lowest logical shorthand=others level=deassert trigger=level == ok",
            Ipi(0x51, 3, DeliveryMode.LowestPriority, DestinationMode.Logical, DestinationShorthand.AllExcludingSelf, false, TriggerMode.Level, new Expectation(ExpectationKind.Ok), cpu: 2) },
        { "cpu0 ipi 0 mode=init level=deassert trigger=level", Ipi(0, mode: DeliveryMode.Init, assert: false, trigger: TriggerMode.Level) },
        { "cpu0 ipi 0x10 mode=sipi dest=0xffffffff", Ipi(0x10, 0xFFFF_FFFF, DeliveryMode.StartUp) },
        { "cpu0 ipi 2 shorthand=self mode=nmi", Ipi(2, mode: DeliveryMode.Nmi, shorthand: DestinationShorthand.Self) },
        { "cpu0 ipi 255 shorthand=all mode=smi level=assert trigger=edge", Ipi(255, mode: DeliveryMode.Smi, shorthand: DestinationShorthand.AllIncludingSelf) },
        { "cpu0 ipi 0x51 trigger=level dest=1 mode=fixed shorthand=none", Ipi(0x51, 1, trigger: TriggerMode.Level) },
        { "cpu0 ipi 0x51 dest=1 !gp", Ipi(0x51, 1, expect: Gp) },

        // flag, halt and return statements observe nothing.
        { "cpu0 sti", new StiStatement(S, 0) },
        { "cpu3 cli", new CliStatement(S, 3) },
        { "cpu1 iret", new IretStatement(S, 1) },
        { "cpu2 hlt", new HltStatement(S, 2) },

        // take: observes an event.
        { "cpu0 take", new TakeStatement(S, 0, null) },
        { "cpu0 take == vector 0x51", new TakeStatement(S, 0, Ev(ExpectationKind.Vector, 0x51)) },
        { "cpu0 take == extint 0x20", new TakeStatement(S, 0, Ev(ExpectationKind.ExtInt, 0x20)) },
        { "cpu1 take == sipi 0x10", new TakeStatement(S, 1, Ev(ExpectationKind.Sipi, 0x10)) },
        { "cpu0 take == nmi", new TakeStatement(S, 0, Ev(ExpectationKind.Nmi)) },
        { "cpu0 take == smi", new TakeStatement(S, 0, Ev(ExpectationKind.Smi)) },
        { "cpu0 take == INIT", new TakeStatement(S, 0, Ev(ExpectationKind.Init)) },
        { "cpu0 take == none", new TakeStatement(S, 0, Ev(ExpectationKind.None)) },

        // rdtsc, host-wrmsr, wrcr8, rdcr8, cpuid.
        { "cpu0 rdtsc", new RdtscStatement(S, 0, null) },
        { "cpu0 rdtsc == 0", new RdtscStatement(S, 0, Eq(0)) },
        { "cpu0 rdtsc & 0xffff == 0x10", new RdtscStatement(S, 0, Masked(0xFFFF, 0x10)) },
        { "cpu0 host-wrmsr APIC_BASE 0xfee00c00 == ok", new HostWrmsrStatement(S, 0, new MsrRef(0x1B, "APIC_BASE"), 0xFEE00C00, new Expectation(ExpectationKind.Ok)) },
        { "cpu0 host-wrmsr APIC_BASE 0xfee00400 == error", new HostWrmsrStatement(S, 0, new MsrRef(0x1B, "APIC_BASE"), 0xFEE00400, new Expectation(ExpectationKind.Error)) },
        { "cpu0 host-wrmsr 0x6e0 5", new HostWrmsrStatement(S, 0, new MsrRef(0x6E0, "0x6e0"), 5, null) },
        { "cpu0 wrcr8 2", new Wrcr8Statement(S, 0, 2, null) },
        { "cpu0 wrcr8 0x10 !gp", new Wrcr8Statement(S, 0, 0x10, Gp) },
        { "cpu0 rdcr8 == 2", new Rdcr8Statement(S, 0, Eq(2)) },
        { "cpu0 rdcr8", new Rdcr8Statement(S, 0, null) },
        { "cpu0 cpuid 1 ecx & 0x200000 == 0x200000", new CpuidStatement(S, 0, 1, 0, CpuidRegister.Ecx, Masked(0x20_0000, 0x20_0000)) },
        { "cpu3 cpuid 0xb 0 edx == 3", new CpuidStatement(S, 3, 0xB, 0, CpuidRegister.Edx, Eq(3)) },
        { "cpu0 cpuid 0xb 1 EAX", new CpuidStatement(S, 0, 0xB, 1, CpuidRegister.Eax, null) },
        { "cpu0 cpuid 1 ebx & 0xff000000 == 0", new CpuidStatement(S, 0, 1, 0, CpuidRegister.Ebx, Masked(0xFF00_0000, 0)) },

        // lint0 / lint1.
        { "cpu0 lint0 assert", new LintStatement(S, 0, 0, LineAction.Assert) },
        { "cpu1 lint1 pulse", new LintStatement(S, 1, 1, LineAction.Pulse) },
        { "cpu0 LINT0 Deassert", new LintStatement(S, 0, 0, LineAction.Deassert) },
    };

    public static TheoryData<string, Statement> DeviceRows => new()
    {
        { "ioapic write 0x10 0xa051", new IoApicWriteStatement(S, 0x10, 0xA051) },
        { "ioapic write 0xffffffff 0xffffffff", new IoApicWriteStatement(S, 0xFFFF_FFFF, 0xFFFF_FFFF) },
        { "ioapic read 0x01 == 0x170011", new IoApicReadStatement(S, 1, Eq(0x170011)) },
        { "ioapic read 0 & 0x0f000000 == 0", new IoApicReadStatement(S, 0, Masked(0x0F00_0000, 0)) },
        { "ioapic read 0x11", new IoApicReadStatement(S, 0x11, null) },
        { "ioapic route 10 vector=0x51", Route(10, 0x51) },
        { "ioapic route 23 vector=0x60 dest=3 logical trigger=level polarity=low mode=lowest masked",
            Route(23, 0x60, 3, DestinationMode.Logical, TriggerMode.Level, PinPolarity.ActiveLow, DeliveryMode.LowestPriority, true) },
        { "ioapic route 0 mode=extint vector=0", Route(0, 0, mode: DeliveryMode.ExtInt) },
        { "ioapic route 2 masked polarity=high trigger=edge vector=255 dest=255 mode=nmi", Route(2, 255, 255, mode: DeliveryMode.Nmi, masked: true) },
        { "ioapic route 3 vector=1 mode=smi", Route(3, 1, mode: DeliveryMode.Smi) },
        { "ioapic route 4 vector=1 mode=init", Route(4, 1, mode: DeliveryMode.Init) },
        { "ioapic route 5 vector=1 mode=fixed", Route(5, 1) },
        { "irq 10 assert", new IrqStatement(S, 10, LineAction.Assert) },
        { "irq 0 deassert", new IrqStatement(S, 0, LineAction.Deassert) },
        { "IRQ 23 PULSE", new IrqStatement(S, 23, LineAction.Pulse) },
        { "msi 0xfee00000 0x4051", new MsiStatement(S, 0xFEE00000, 0x4051) },
        { "msi 0x1_fee0_1000 0xffffffff", new MsiStatement(S, 0x1_FEE0_1000, 0xFFFF_FFFF) },
        { "advance 250us", new AdvanceStatement(S, 250_000) },
        { "advance 1ms", new AdvanceStatement(S, 1_000_000) },
        { "advance 0ns", new AdvanceStatement(S, 0) },
        { "advance 1_000NS", new AdvanceStatement(S, 1000) },
        { "advance 0x10us", new AdvanceStatement(S, 16_000) },
        { "pic raise 0x20", new PicRaiseStatement(S, 0x20) },
        { "pic lower", new PicLowerStatement(S) },
        { "snapshot before-eoi.1_a", new SnapshotStatement(S, "before-eoi.1_a") },
        { "migrate accel=x2avic", new MigrateStatement(S, AccelKind.X2Avic) },
        { "migrate ACCEL=None", new MigrateStatement(S, AccelKind.None) },
        { "migrate accel=apicv", new MigrateStatement(S, AccelKind.Apicv) },
        { "migrate accel=avic", new MigrateStatement(S, AccelKind.Avic) },
    };

    public static TheoryData<string, Statement> ProbeRows => new()
    {
        { "expect cpu0 irr has 0x51", new ExpectVectorsProbe(S, 0, ApicVectorRegister.Irr, VectorSetCheck.Has, 0x51) },
        { "expect cpu0 isr empty", new ExpectVectorsProbe(S, 0, ApicVectorRegister.Isr, VectorSetCheck.Empty, 0) },
        { "expect cpu2 tmr lacks 0x51", new ExpectVectorsProbe(S, 2, ApicVectorRegister.Tmr, VectorSetCheck.Lacks, 0x51) },
        { "expect cpu0 reg PPR == 0x20     # any REG", new ExpectRegisterProbe(S, 0, new RegisterRef(0xA0, "PPR"), 0x20, null) },
        { "expect cpu0 reg 0x80 & 0xf0 == 0x20", new ExpectRegisterProbe(S, 0, new RegisterRef(0x80, "0x80"), 0x20, 0xF0) },
        { "expect cpu0 pending has nmi", new ExpectPendingProbe(S, 0, true, PendingEvent.Nmi) },
        { "expect cpu1 pending lacks extint", new ExpectPendingProbe(S, 1, false, PendingEvent.ExtInt) },
        { "expect cpu0 pending has sipi", new ExpectPendingProbe(S, 0, true, PendingEvent.Sipi) },
        { "expect cpu0 pending has init", new ExpectPendingProbe(S, 0, true, PendingEvent.Init) },
        { "expect cpu0 pending lacks smi", new ExpectPendingProbe(S, 0, false, PendingEvent.Smi) },
        { "expect ioapic pin 10 line == 1  # the input level", new ExpectIoApicLineProbe(S, 10, true) },
        { "expect ioapic pin 0 line == 0", new ExpectIoApicLineProbe(S, 0, false) },
        { "expect ioapic pin 10 remote-irr == 0", new ExpectIoApicRemoteIrrProbe(S, 10, false) },
        { "expect ioapic pin 23 remote-irr == 1", new ExpectIoApicRemoteIrrProbe(S, 23, true) },
        { "expect ioapic pin 10 entry == 0x0000_0000_0000_a051", new ExpectIoApicEntryProbe(S, 10, 0xA051, null) },
        { "expect ioapic pin 10 entry & 0x4000 == 0x4000", new ExpectIoApicEntryProbe(S, 10, 0x4000, 0x4000) },
        { "expect cpu0 mode == x2apic", new ExpectModeProbe(S, 0, ApicMode.X2Apic) },
        { "expect cpu0 mode == xapic", new ExpectModeProbe(S, 0, ApicMode.XApic) },
        { "expect cpu0 mode == disabled", new ExpectModeProbe(S, 0, ApicMode.Disabled) },
        { "expect cpu0 state == running", new ExpectStateProbe(S, 0, VcpuRunState.Running) },
        { "expect cpu1 state == halted", new ExpectStateProbe(S, 1, VcpuRunState.Halted) },
        { "expect cpu3 state == wait-for-sipi", new ExpectStateProbe(S, 3, VcpuRunState.WaitForSipi) },
        { "expect cpu0 if == 1", new ExpectInterruptFlagProbe(S, 0, true) },
        { "expect cpu0 if == 0", new ExpectInterruptFlagProbe(S, 0, false) },
        { "expect vm running", new ExpectVmProbe(S, VmRunState.Running) },
        { "expect vm dead", new ExpectVmProbe(S, VmRunState.Dead) },
        { "expect accel=avic,x2avic cpu0 exits == 0", new ExpectExitsProbe(S, 0, AccelFilter.Of(AccelKind.Avic, AccelKind.X2Avic), null, 0) },
        { "expect accel=x2avic cpu0 exits avic-noaccel == 1", new ExpectExitsProbe(S, 0, AccelFilter.Of(AccelKind.X2Avic), "avic-noaccel", 1) },
        { "expect accel=none,apicv,avic,x2avic cpu3 exits AVIC_NoAccel == 0x10",
            new ExpectExitsProbe(S, 3, AccelFilter.Of(AccelKind.None, AccelKind.Apicv, AccelKind.Avic, AccelKind.X2Avic), "avic_noaccel", 0x10) },
    };

    [Theory]
    [MemberData(nameof(CpuRows))]
    public void Cpu_statements_parse_to_their_nodes(string line, Statement expected) =>
        Assert.Equal(expected, ScenarioAssert.Statement(line));

    [Theory]
    [MemberData(nameof(DeviceRows))]
    public void Device_and_backend_statements_parse_to_their_nodes(string line, Statement expected) =>
        Assert.Equal(expected, ScenarioAssert.Statement(line));

    [Theory]
    [MemberData(nameof(ProbeRows))]
    public void Probes_parse_to_their_nodes(string line, Statement expected) =>
        Assert.Equal(expected, ScenarioAssert.Statement(line));

    [Theory]
    [InlineData("restore s1")]
    [InlineData("restore S1")]
    public void Restore_names_an_earlier_snapshot_case_insensitively(string line)
    {
        var statement = ScenarioAssert.Statement(line, "vm cpus=4\nsnapshot s1");
        Assert.Equal(new RestoreStatement(S, line[8..]), statement);
    }

    [Fact]
    public void Route_dest_takes_15_bits_with_ext_dest_id()
    {
        var statement = ScenarioAssert.Statement("ioapic route 1 vector=0x30 dest=0x7fff", "vm cpus=4 ext-dest-id=on");
        Assert.Equal(Route(1, 0x30, 0x7FFF), statement);
    }

    [Fact]
    public void Ipi_defaults_are_dest_0_fixed_physical_no_shorthand_assert_edge()
    {
        var ipi = Assert.IsType<IpiStatement>(ScenarioAssert.Statement("cpu1 ipi 0x40"));
        Assert.Equal(1, ipi.Cpu);
        Assert.Equal(0x40, ipi.Vector);
        Assert.Equal(0u, ipi.Destination);
        Assert.Equal(DeliveryMode.Fixed, ipi.Mode);
        Assert.Equal(DestinationMode.Physical, ipi.DestinationMode);
        Assert.Equal(DestinationShorthand.None, ipi.Shorthand);
        Assert.True(ipi.Assert);
        Assert.Equal(TriggerMode.Edge, ipi.Trigger);
        Assert.Null(ipi.Expect);
    }

    [Fact]
    public void Route_defaults_are_dest_0_physical_edge_high_fixed_unmasked()
    {
        var route = Assert.IsType<IoApicRouteStatement>(ScenarioAssert.Statement("ioapic route 7 vector=0x33"));
        Assert.Equal((7, (byte)0x33, 0u), (route.Pin, route.Vector, route.Destination));
        Assert.Equal(DestinationMode.Physical, route.DestinationMode);
        Assert.Equal(TriggerMode.Edge, route.Trigger);
        Assert.Equal(PinPolarity.ActiveHigh, route.Polarity);
        Assert.Equal(DeliveryMode.Fixed, route.Mode);
        Assert.False(route.Masked);
    }

    [Fact]
    public void Mmio_size_defaults_to_4()
    {
        var read = Assert.IsType<MmioReadStatement>(ScenarioAssert.Statement("cpu0 mmio-read 0xfee00030"));
        var write = Assert.IsType<MmioWriteStatement>(ScenarioAssert.Statement("cpu0 mmio-write 0xfee00080 0xffffffff"));
        Assert.Equal(4, read.Size);
        Assert.Equal(4, write.Size);
    }

    [Fact]
    public void Cpuid_subleaf_defaults_to_0()
    {
        var cpuid = Assert.IsType<CpuidStatement>(ScenarioAssert.Statement("cpu0 cpuid 0xb edx"));
        Assert.Equal(0u, cpuid.Subleaf);
    }

    [Fact]
    public void Every_x2apic_msr_name_is_0x800_plus_offset_over_16()
    {
        foreach (var (name, offset) in ApicRegisterNames.All)
        {
            var statement = Assert.IsType<RdmsrStatement>(ScenarioAssert.Statement($"cpu0 rdmsr X2APIC_{name}"));
            Assert.Equal(0x800u + (uint)(offset / 16), statement.Msr.Number);
            Assert.Equal($"X2APIC_{name}", statement.Msr.Text);
        }
    }

    [Fact]
    public void Every_register_name_resolves_to_its_offset()
    {
        foreach (var (name, offset) in ApicRegisterNames.All)
        {
            var statement = Assert.IsType<ReadRegisterStatement>(ScenarioAssert.Statement($"cpu0 read {name.ToLowerInvariant()}"));
            Assert.Equal(new RegisterRef(offset, name.ToLowerInvariant()), statement.Register);
        }
    }

    [Fact]
    public void Statements_keep_file_order_line_numbers_and_text_without_comments()
    {
        var scenario = ScenarioAssert.Parses(
            "# a scenario\n" +
            "vm cpus=2   # two vCPUs\n" +
            "\n" +
            "   cpu0 sti\t\t# IF=1\n" +
            "\t# indented comment\n" +
            "cpu1   ipi   0x51   dest=0    \n" +
            "expect cpu1 irr has 0x51#glued comment\n" +
            "cpu0 rdmsr X2APIC_EOI == #GP # a comment after #GP\n");

        Assert.Equal(new SourceLine(2, "vm cpus=2"), scenario.VmSource);
        Assert.Equal(
            [
                new SourceLine(4, "cpu0 sti"),
                new SourceLine(6, "cpu1   ipi   0x51   dest=0"),
                new SourceLine(7, "expect cpu1 irr has 0x51"),
                new SourceLine(8, "cpu0 rdmsr X2APIC_EOI == #GP"),
            ],
            scenario.Statements.Select(s => s.Source));
        Assert.Equal(ScenarioAssert.File, scenario.FileName);
        Assert.Equal(Gp, ((RdmsrStatement)scenario.Statements[3]).Expect);
    }

    [Fact]
    public void Crlf_line_endings_and_a_byte_order_mark_are_accepted()
    {
        var scenario = ScenarioAssert.Parses("\uFEFFvm cpus=2\r\ncpu1 sti\r\n\r\ncpu0 cli");
        Assert.Equal(2, scenario.Vm.Cpus);
        Assert.Equal(new StiStatement(new SourceLine(2, "cpu1 sti"), 1), scenario.Statements[0]);
        Assert.Equal(new CliStatement(new SourceLine(4, "cpu0 cli"), 0), scenario.Statements[1]);
    }

    [Fact]
    public void Observing_statements_expose_their_expectation_through_the_interface()
    {
        var scenario = ScenarioAssert.Parses("vm\ncpu0 take == nmi\ncpu0 rdtsc\ncpu0 sti\nioapic read 1 == 0x170011\n");
        var observing = scenario.Statements.OfType<IObservingStatement>().ToArray();
        Assert.Equal(3, observing.Length);
        Assert.Equal(new Expectation(ExpectationKind.Nmi), observing[0].Expect);
        Assert.Null(observing[1].Expect);
        Assert.Equal(Eq(0x170011), observing[2].Expect);
    }

    [Theory]
    [InlineData("== 0x20", ExpectationKind.Value, 0x20ul, null)]
    [InlineData("& 0xff == 0x20", ExpectationKind.Value, 0x20ul, 0xFFul)]
    [InlineData("== #GP", ExpectationKind.GeneralProtection, 0ul, null)]
    [InlineData("== vector 0x51", ExpectationKind.Vector, 0x51ul, null)]
    [InlineData("== extint 0x20", ExpectationKind.ExtInt, 0x20ul, null)]
    [InlineData("== sipi 0x10", ExpectationKind.Sipi, 0x10ul, null)]
    [InlineData("== none", ExpectationKind.None, 0ul, null)]
    [InlineData("== ok", ExpectationKind.Ok, 0ul, null)]
    [InlineData("== error", ExpectationKind.Error, 0ul, null)]
    public void Expectation_prints_in_canonical_syntax(string text, ExpectationKind kind, ulong value, ulong? mask) =>
        Assert.Equal(text, new Expectation(kind, value, mask).ToString());

    [Fact]
    public void Accel_filter_holds_exactly_its_backends_and_prints_them()
    {
        var filter = AccelFilter.Of(AccelKind.Apicv, AccelKind.X2Avic);
        Assert.True(filter.Contains(AccelKind.Apicv));
        Assert.True(filter.Contains(AccelKind.X2Avic));
        Assert.False(filter.Contains(AccelKind.None));
        Assert.False(filter.Contains(AccelKind.Avic));
        Assert.Equal("apicv,x2avic", filter.ToString());
    }
}
