// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Profiles;
using VirtualApic.Scenarios.Running;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

public sealed class RunnerTests
{
    private const string Enable = "vm cpus=2\ncpu0 write SVR 0x1ff\ncpu1 write SVR 0x1ff\n";

    private static ScenarioResult Run(string text, AccelKind? accel = null, ApicProfile? profile = null) =>
        ScenarioRunner.Run(ScenarioAssert.Parses(text), accel, profile);

    private static ScenarioResult Passes(string text, AccelKind? accel = null)
    {
        var r = Run(text, accel);
        Assert.True(r.Passed, string.Join("\n", r.Failures.Select(f => $"{f.Line}: {f.Message}")) + "\n" + string.Join("\n", r.Log));
        Assert.True(r.Running);
        return r;
    }

    private static string LogOf(ScenarioResult result, int line) =>
        Assert.Single(result.Log, o => o.Line == line).Text;

    [Fact]
    public void Rdmsr_logs_the_value()
    {
        var r = Passes("vm\ncpu0 rdmsr APIC_BASE == 0xfee00900\n");
        Assert.Equal("2 cpu0 rdmsr APIC_BASE == 0xfee00900 -> 0xfee00900", LogOf(r, 2));
    }

    [Fact]
    public void Failed_expectation_reports_expected_and_observed()
    {
        var r = Run("vm\ncpu0 rdmsr APIC_BASE == 0x1\n");
        var f = Assert.Single(r.Failures);
        Assert.Equal(2, f.Line);
        Assert.Equal("expected 0x1, observed 0xfee00900", f.Message);
    }

    [Fact]
    public void Masked_expectation_and_gp_expectation()
    {
        var r = Passes("vm\ncpu0 rdmsr APIC_BASE & 0xfff == 0x900\ncpu0 rdmsr X2APIC_EOI !gp\n");
        Assert.Equal("3 cpu0 rdmsr X2APIC_EOI !gp -> #GP", LogOf(r, 3));
        var bad = Run("vm\ncpu0 rdmsr APIC_BASE !gp\n");
        Assert.Equal("expected #GP, observed 0xfee00900", Assert.Single(bad.Failures).Message);
    }

    [Fact]
    public void Wrmsr_observes_ok_or_gp()
    {
        var r = Passes("vm\ncpu0 wrmsr APIC_BASE 0xfee00d00 == ok\ncpu0 wrmsr X2APIC_SELF_IPI 0x100 !gp\nexpect cpu0 mode == x2apic\n");
        Assert.Equal("2 cpu0 wrmsr APIC_BASE 0xfee00d00 == ok -> ok", LogOf(r, 2));
    }

    [Fact]
    public void Mmio_write_then_read()
    {
        var r = Passes("vm\ncpu0 mmio-write 0xfee00080 0x20\ncpu0 mmio-read 0xfee00080 == 0x20\nexpect cpu0 reg TPR == 0x20\n");
        Assert.DoesNotContain(r.Log, o => o.Line == 2);
    }

    [Fact]
    public void Write_and_read_register_in_xapic_and_x2apic_mode()
    {
        var r = Passes("vm\ncpu0 write TPR 0x30 == ok\ncpu0 read TPR == 0x30\ncpu0 wrmsr APIC_BASE 0xfee00d00\ncpu0 read TPR == 0x30\ncpu0 read EOI !gp\ncpu0 write TPR 0x40\ncpu0 rdmsr X2APIC_TPR == 0x40\n");
        Assert.Equal("6 cpu0 read EOI !gp -> #GP", LogOf(r, 6));
    }

    [Fact]
    public void Ipi_sti_take_eoi_iret()
    {
        var r = Passes(Enable + "cpu0 ipi 0x51 dest=1\nexpect cpu1 irr has 0x51\nexpect cpu1 if == 0\ncpu1 take == none\ncpu1 sti\nexpect cpu1 if == 1\ncpu1 take == vector 0x51\nexpect cpu1 if == 0\nexpect cpu1 isr has 0x51\nexpect cpu1 irr empty\ncpu1 eoi == ok\nexpect cpu1 isr empty\ncpu1 iret\nexpect cpu1 if == 1\ncpu1 cli\nexpect cpu1 if == 0\n");
        Assert.Equal("4 cpu0 ipi 0x51 dest=1 -> ok", LogOf(r, 4));
        Assert.Equal("10 cpu1 take == vector 0x51 -> vector 0x51", LogOf(r, 10));
    }

    [Fact]
    public void Ipi_in_x2apic_mode_uses_the_icr_msr()
    {
        Passes(Enable + "cpu0 wrmsr APIC_BASE 0xfee00d00\ncpu0 ipi 0x61 dest=1\nexpect cpu1 irr has 0x61\ncpu0 ipi 0x62 shorthand=self\nexpect cpu0 irr has 0x62\n");
    }

    [Fact]
    public void Nmi_ipi_is_pending_until_taken()
    {
        Passes(Enable + "cpu0 ipi 0 dest=1 mode=nmi\nexpect cpu1 pending has nmi\ncpu1 take == nmi\nexpect cpu1 pending lacks nmi\ncpu1 iret\n");
    }

    [Fact]
    public void Hlt_halts_until_an_event_is_taken()
    {
        Passes(Enable + "cpu1 sti\ncpu1 hlt\nexpect cpu1 state == halted\ncpu0 ipi 0x40 dest=1\ncpu1 take == vector 0x40\nexpect cpu1 state == running\n");
    }

    [Fact]
    public void Advance_moves_the_tsc()
    {
        var r = Passes("vm tsc-khz=2000000\ncpu0 rdtsc == 0\nadvance 1ms\ncpu0 rdtsc == 2000000\n");
        Assert.Equal("4 cpu0 rdtsc == 2000000 -> 0x1e8480", LogOf(r, 4));
    }

    [Fact]
    public void Advance_fires_the_apic_timer()
    {
        Passes("vm\ncpu0 write SVR 0x1ff\ncpu0 write TDCR 0xb\ncpu0 write LVT_TIMER 0x70\ncpu0 write TMICT 1000\nexpect cpu0 irr lacks 0x70\nadvance 1us\nexpect cpu0 irr has 0x70\n");
    }

    [Fact]
    public void Tsc_deadline_in_the_past_fires_before_the_next_statement()
    {
        Passes("vm\ncpu0 write SVR 0x1ff\ncpu0 write LVT_TIMER 0x40071\nadvance 1us\ncpu0 wrmsr TSC_DEADLINE 1\nexpect cpu0 irr has 0x71\n");
    }

    [Fact]
    public void Host_wrmsr_observes_ok_or_error()
    {
        var r = Passes("vm\ncpu0 host-wrmsr APIC_BASE 0xfee00d00 == ok\nexpect cpu0 mode == x2apic\ncpu0 host-wrmsr APIC_BASE 0xfee00500 == error\n");
        Assert.Equal("4 cpu0 host-wrmsr APIC_BASE 0xfee00500 == error -> error", LogOf(r, 4));
    }

    [Fact]
    public void Cr8_reads_back_and_reserved_bits_fault()
    {
        Passes("vm\ncpu0 wrcr8 2 == ok\ncpu0 rdcr8 == 2\nexpect cpu0 reg TPR == 0x20\ncpu0 wrcr8 0x10 !gp\n");
    }

    [Fact]
    public void Cpuid_reports_live_apic_bits()
    {
        Passes("vm\ncpu0 cpuid 1 ecx & 0x200000 == 0x200000\ncpu0 cpuid 1 edx & 0x200 == 0x200\ncpu0 wrmsr APIC_BASE 0xfee00100\ncpu0 cpuid 1 edx & 0x200 == 0\n");
    }

    [Fact]
    public void Lint1_fixed_entry_delivers_its_vector()
    {
        Passes("vm\ncpu0 write SVR 0x1ff\ncpu0 write LVT_LINT1 0x60\ncpu0 lint1 pulse\nexpect cpu0 irr has 0x60\n");
    }

    [Fact]
    public void Ioapic_write_read_route_and_irq()
    {
        var r = Passes("vm\ncpu0 write SVR 0x1ff\nioapic read 0x01 & 0xff == 0x11\nioapic write 0x10 0x45\nioapic read 0x10 & 0xff == 0x45\n"
            + "ioapic route 3 vector=0x52 trigger=level\nexpect ioapic pin 3 entry == 0x8052\nirq 3 assert\nexpect ioapic pin 3 line == 1\nexpect ioapic pin 3 remote-irr == 1\nexpect cpu0 irr has 0x52\nexpect cpu0 tmr has 0x52\n"
            + "cpu0 sti\ncpu0 take == vector 0x52\nirq 3 deassert\ncpu0 eoi\nexpect ioapic pin 3 remote-irr == 0\nexpect ioapic pin 3 line == 0\n"
            + "ioapic route 4 vector=0x53\nirq 4 pulse\nexpect cpu0 irr has 0x53\n");
        Assert.Equal("3 ioapic read 0x01 & 0xff == 0x11 -> 0x170011", LogOf(r, 3));
    }

    [Fact]
    public void Msi_delivers_to_its_destination()
    {
        Passes(Enable + "msi 0xfee01000 0x55\nexpect cpu1 irr has 0x55\nexpect cpu0 irr lacks 0x55\n");
    }

    [Fact]
    public void Pic_interrupt_is_taken_as_extint_when_the_apic_is_disabled()
    {
        Passes("vm\ncpu0 wrmsr APIC_BASE 0xfee00100\npic raise 0x20\nexpect cpu0 pending has extint\ncpu0 sti\ncpu0 take == extint 0x20\npic lower\nexpect cpu0 pending lacks extint\n");
    }

    [Fact]
    public void Probes_report_failures_with_expected_and_observed()
    {
        var r = Run(Enable + "expect cpu0 irr has 0x51\nexpect cpu0 reg PPR == 0x20\nexpect cpu0 mode == x2apic\nexpect cpu0 state == halted\nexpect cpu0 if == 1\nexpect cpu0 pending has nmi\nexpect ioapic pin 1 line == 1\nexpect vm dead\n");
        Assert.Equal([4, 5, 6, 7, 8, 9, 10, 11], r.Failures.Select(f => f.Line));
        Assert.Contains("expected IRR has 0x51", r.Failures[0].Message, StringComparison.Ordinal);
        Assert.Equal("expected PPR == 0x20, observed 0x0", r.Failures[1].Message);
        Assert.Equal("expected mode x2apic, observed xapic", r.Failures[2].Message);
        Assert.Equal("expected vm dead, observed running", r.Failures[7].Message);
    }

    [Fact]
    public void Vm_running_probe_passes()
    {
        var r = Passes("vm\nexpect vm running\n");
        Assert.False(r.Dead);
    }

    [Fact]
    public void Exit_probes_apply_only_under_their_backends()
    {
        const string text = "vm\ncpu0 write TPR 0x10\nexpect accel=none cpu0 exits apic-access == 1\nexpect accel=none cpu0 exits == 1\nexpect accel=apicv cpu0 exits == 42\n";
        Passes(text, AccelKind.None);
        var apicv = Run(text, AccelKind.Apicv);
        Assert.Equal(5, Assert.Single(apicv.Failures).Line);
        Passes(text, AccelKind.Avic);
    }

    [Fact]
    public void Unknown_exit_reason_is_a_failure()
    {
        var r = Run("vm\nexpect accel=none cpu0 exits no-such-reason == 0\n");
        Assert.Contains("unknown exit reason", Assert.Single(r.Failures).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Result_carries_exit_statistics_per_backend()
    {
        var r = Passes("vm\ncpu0 write TPR 0x10\nmigrate accel=apicv\ncpu0 write TPR 0x20\n");
        Assert.Contains(r.Exits, e => e.Backend == "none" && e.Cpu == 0 && e.Reason == "apic-access" && e.Count == 1);
        Assert.Equal("none", r.Backend);
    }

    [Fact]
    public void Snapshot_and_restore_bring_back_registers_vectors_and_time()
    {
        Passes(Enable + "cpu0 write TPR 0x20\nadvance 1ms\nsnapshot a\ncpu0 write TPR 0x30\ncpu0 ipi 0x51 dest=1\nadvance 1ms\nrestore a\ncpu0 read TPR == 0x20\nexpect cpu1 irr lacks 0x51\ncpu0 rdtsc == 2000000\n");
    }

    [Theory]
    [InlineData(AccelKind.None, "apicv")]
    [InlineData(AccelKind.Apicv, "avic")]
    [InlineData(AccelKind.Avic, "x2avic")]
    [InlineData(AccelKind.X2Avic, "none")]
    public void Migrate_keeps_guest_state(AccelKind start, string target)
    {
        Passes(Enable + $"cpu0 write TPR 0x20\ncpu0 ipi 0x51 dest=1\ncpu1 sti\nmigrate accel={target}\ncpu0 read TPR == 0x20\nexpect cpu1 irr has 0x51\nexpect cpu1 if == 1\ncpu1 take == vector 0x51\ncpu1 eoi\nexpect cpu1 isr empty\n", start);
    }

    [Fact]
    public void Accel_and_profile_overrides_apply()
    {
        var r = Passes("vm accel=avic\ncpu0 rdmsr APIC_BASE\n", AccelKind.X2Avic);
        Assert.Equal("x2avic", r.Backend);
        // A non-zero x2APIC EOI write faults only under the architectural profile.
        const string eoi = "vm\ncpu0 wrmsr APIC_BASE 0xfee00d00\ncpu0 wrmsr X2APIC_EOI 1 == ok\n";
        Passes(eoi);
        Assert.Single(Run(eoi, null, ApicProfile.Architectural).Failures);
    }

    [Fact]
    public void Run_all_passes_and_logs_agree_under_every_backend()
    {
        var result = ScenarioRunner.RunAll(ScenarioAssert.Parses(Enable + "cpu0 ipi 0x51 dest=1\ncpu1 sti\ncpu1 take == vector 0x51\ncpu1 read ISR2 == 0x20000\ncpu1 eoi\ncpu0 wrmsr APIC_BASE 0xfee00d00\ncpu0 read TPR == 0\n"), null);
        Assert.Equal(["none", "apicv", "avic", "x2avic"], result.Results.Select(r => r.Backend));
        Assert.Empty(result.Divergences);
        Assert.True(result.Passed);
    }

    [Fact]
    public void First_difference_of_two_logs_is_found()
    {
        Observation[] a = [new(2, "2 cpu0 take -> vector 0x51"), new(3, "3 cpu0 read TPR -> 0x0")];
        Observation[] b = [new(2, "2 cpu0 take -> vector 0x51"), new(3, "3 cpu0 read TPR -> 0x10")];
        var diff = LogComparer.FirstDifference(a, b);
        Assert.NotNull(diff);
        Assert.Equal(1, diff.Index);
        Assert.Equal(3, diff.Line);
        Assert.Equal("3 cpu0 read TPR -> 0x0", diff.Left);
        Assert.Equal("3 cpu0 read TPR -> 0x10", diff.Right);
        Assert.Null(LogComparer.FirstDifference(a, a));
        var shorter = LogComparer.FirstDifference(a, a[..1]);
        Assert.Equal("<end of log>", shorter!.Right);
        string text = new Divergence("none", "avic", diff, null).ToString();
        Assert.Contains("line 3", text, StringComparison.Ordinal);
        Assert.Contains("- none: 3 cpu0 read TPR -> 0x0", text, StringComparison.Ordinal);
        Assert.Contains("+ avic: 3 cpu0 read TPR -> 0x10", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Avic_dropping_a_low_vector_ipi_is_a_known_kvm_divergence()
    {
        var scenario = ScenarioAssert.Parses(Enable + "cpu0 ipi 0x5 dest=1\ncpu1 read IRR0\n");
        var result = ScenarioRunner.RunAll(scenario, null);
        Assert.True(result.Passed, string.Join("\n", result.Divergences));
        Assert.All(result.Divergences, d => Assert.True(d.IsKnown));
        Assert.All(result.Divergences, d => Assert.Contains(d.RightBackend, new[] { "avic", "x2avic" }));
        Assert.Null(KnownDivergences.Explain(scenario, ApicProfile.Architectural, AccelKind.Avic, 5));
        Assert.NotNull(KnownDivergences.Explain(scenario, ApicProfile.Kvm, AccelKind.Avic, 5));
        Assert.Null(KnownDivergences.Explain(scenario, ApicProfile.Kvm, AccelKind.Apicv, 5));
    }

    [Fact]
    public void Tracer_sees_statements_exits_and_tracks()
    {
        using var stream = new MemoryStream();
        using (var writer = new ChromeTraceWriter(stream))
        {
            ScenarioRunner.Run(ScenarioAssert.Parses(Enable + "cpu0 ipi 0x51 dest=1\nirq 1 pulse\n"), AccelKind.Apicv, null, writer);
        }

        using var doc = System.Text.Json.JsonDocument.Parse(stream.ToArray());
        var events = doc.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        var names = events.Where(e => e.GetProperty("ph").GetString() == "M" && e.GetProperty("name").GetString() == "thread_name").Select(e => e.GetProperty("args").GetProperty("name").GetString()).ToList();
        Assert.Equal(["cpu0", "cpu1", "ioapic"], names);
        Assert.Contains(events, e => e.GetProperty("name").GetString() == "cpu0 ipi 0x51 dest=1" && e.GetProperty("tid").GetInt32() == 0);
        Assert.Contains(events, e => e.GetProperty("name").GetString() == "irq 1 pulse" && e.GetProperty("tid").GetInt32() == ChromeTraceWriter.DeviceTid);
        Assert.Contains(events, e => e.TryGetProperty("cat", out var cat) && cat.GetString() is "exit" or "delivery");
        Assert.All(events, e => Assert.Equal(1, e.GetProperty("pid").GetInt32()));
    }

    [Fact]
    public void An_exception_escaping_the_library_kills_the_vm_and_is_recorded()
    {
        var r = ScenarioRunner.Run(ScenarioAssert.Parses("vm\ncpu0 write TPR 0x10\ncpu0 read TPR\nexpect vm dead\n"), AccelKind.None, null, new ThrowingTracer());
        Assert.True(r.Dead);
        Assert.False(r.Running);
        var failure = Assert.Single(r.Failures);
        Assert.Equal(2, failure.Line);
        Assert.Contains("the VM died", failure.Message, StringComparison.Ordinal);
        Assert.Empty(r.Log);
    }

    private sealed class ThrowingTracer : VirtualApic.Assist.IVmTracer
    {
        public void OnExit(int vcpu, VirtualApic.Assist.ExitReason reason, int offsetOrMsr, bool trapLike) =>
            throw new InvalidOperationException("tracer failure");

        public void OnDelivery(int vcpu, int vector, bool posted)
        {
        }

        public void OnEoi(int vcpu, int vector)
        {
        }
    }
}
