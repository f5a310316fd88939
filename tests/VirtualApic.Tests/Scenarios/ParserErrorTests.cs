// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Scenarios.Syntax;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Scenarios;

/// <summary>Every error path gives one diagnostic, <c>FILE:LINE:COL: message</c>, at the offending token.</summary>
public class ParserErrorTests
{
    /// <summary>Statement errors: each line follows <c>vm cpus=4</c>, so it is line 2.</summary>
    public static TheoryData<string, string> StatementErrors => new()
    {
        { "cpu0 wrmsr", "t.vapic:2:11: missing MSR; usage: cpuN wrmsr MSR VALUE" },
        { "cpu0 wrmsr APIC_BASE", "t.vapic:2:21: missing VALUE; usage: cpuN wrmsr MSR VALUE" },
        { "cpu0 wrmsr FOO 1", "t.vapic:2:12: unknown MSR `FOO`; expected a number, APIC_BASE, TSC_DEADLINE or X2APIC_<REG>" },
        { "cpu0 wrmsr X2APIC_FOO 1", "t.vapic:2:12: unknown MSR `X2APIC_FOO`: `FOO` is not an APIC register name" },
        { "cpu0 wrmsr 0x1_0000_0000 1", "t.vapic:2:12: MSR 0x1_0000_0000 is out of range 0..0xffffffff (32 bits)" },
        { "cpu0 wrmsr 0x1b 0xzz", "t.vapic:2:17: bad number `0xzz` for VALUE: `z` is not a hex digit" },
        { "cpu0 wrmsr 0x1b 1__0", "t.vapic:2:17: bad number `1__0` for VALUE: `_` may only separate two digits" },
        { "cpu0 wrmsr 0x1b 18446744073709551616", "t.vapic:2:17: bad number `18446744073709551616` for VALUE: the number does not fit in 64 bits" },
        { "cpu0 wrmsr 0x1b 1 == nmi", "t.vapic:2:22: `wrmsr` observes ok or #GP, so `== nmi` can never match" },
        { "cpu0 wrmsr 0x1b 1 == 5", "t.vapic:2:22: `wrmsr` observes ok or #GP, so `== 5` can never match" },
        { "cpu0 rdmsr 0x1b == ok", "t.vapic:2:20: `rdmsr` observes a value or #GP, so `== ok` can never match" },
        { "cpu0 rdmsr 0x1b & 0xff == 0x100", "t.vapic:2:27: `& 0xff == 0x100` can never match: VALUE has bits outside MASK" },
        { "cpu0 rdmsr 0x1b & 0xff", "t.vapic:2:23: missing `== VALUE` after `& MASK`; usage: & MASK == VALUE" },
        { "cpu0 rdmsr 0x1b == vector", "t.vapic:2:26: missing VECTOR; usage: == vector VECTOR" },
        { "cpu0 rdmsr 0x1b == bogus", "t.vapic:2:20: unknown expectation `bogus`; expected a number, #GP, ok, error, none, nmi, smi, init, vector V, extint V or sipi V" },
        { "cpu0 rdmsr 0x1b foo", "t.vapic:2:17: unexpected `foo`; usage: cpuN rdmsr MSR" },
        { "cpu4 sti", "t.vapic:2:1: `cpu4` does not exist: the vm has 4 vCPUs (cpu0..cpu3)" },
        { "cpu01 sti", "t.vapic:2:1: bad vCPU `cpu01`: expected `cpu` and a decimal index without leading zeros (cpu0..cpu3)" },
        { "cpux sti", "t.vapic:2:1: bad vCPU `cpux`: expected `cpu` and a decimal index without leading zeros (cpu0..cpu3)" },
        { "cpu99999999999 sti", "t.vapic:2:1: `cpu99999999999` does not exist: the vm has 4 vCPUs (cpu0..cpu3)" },
        { "cpu0 sti == ok", "t.vapic:2:10: `sti` observes nothing, so it takes no expectation" },
        { "cpu0 sti extra", "t.vapic:2:10: unexpected `extra`; usage: cpuN sti" },
        { "cpu0 frob", "t.vapic:2:6: unknown vCPU operation `frob`; expected wrmsr, rdmsr, mmio-write, mmio-read, write, read, eoi, ipi, sti, cli, take, iret, hlt, rdtsc, host-wrmsr, wrcr8, rdcr8, cpuid, lint0, lint1, kick-cpu or pv-eoi" },
        { "frob", "t.vapic:2:1: unknown statement `frob`; expected vm, cpuN, ioapic, irq, msi, advance, pic, expect, snapshot, restore, migrate or dump" },
        { "== 5", "t.vapic:2:1: expected a statement, found `==`" },
        { "cpu0 mmio-write 0xfee00080 0x100 size=1", "t.vapic:2:28: VALUE 0x100 does not fit in 1 byte" },
        { "cpu0 mmio-write 0xfee00080 1 size=3", "t.vapic:2:35: size `3` is not 1, 2, 4 or 8" },
        { "cpu0 mmio-write 0xfee00080 1 == ok", "t.vapic:2:30: `mmio-write` observes nothing, so it takes no expectation" },
        { "cpu0 mmio-read 0xfee00080 size=2 == 0x10000", "t.vapic:2:37: `== 0x10000` can never match: `mmio-read` observes at most 0xffff" },
        { "cpu0 mmio-read 0xfee00080 bogus", "t.vapic:2:27: unexpected `bogus`; usage: cpuN mmio-read ADDR [size=1|2|4|8]" },
        { "cpu0 mmio-read 0xfee00080 size", "t.vapic:2:27: option `size` needs a value: size=1|2|4|8" },
        { "cpu0 mmio-read 0xfee00080 size=", "t.vapic:2:32: missing the value of `size`; usage: size=1|2|4|8" },
        { "cpu0 write FOO 1", "t.vapic:2:12: unknown APIC register `FOO`; expected an offset (0xb0) or a name such as TPR, EOI, ICR, LVT_TIMER, IRR0" },
        { "cpu0 write 0xb4 1", "t.vapic:2:12: register offset 0xb4 is not a multiple of 0x10 in 0x0..0xff0" },
        { "cpu0 write 0x1000 1", "t.vapic:2:12: register offset 0x1000 is not a multiple of 0x10 in 0x0..0xff0" },
        { "cpu0 read", "t.vapic:2:10: missing REG; usage: cpuN read REG" },
        { "cpu0 ipi", "t.vapic:2:9: missing VECTOR; usage: cpuN ipi VECTOR [dest=ID] [mode=fixed|lowest|smi|nmi|init|sipi] [logical] [shorthand=none|self|all|others] [level=assert|deassert] [trigger=edge|level]" },
        { "cpu0 ipi 256", "t.vapic:2:10: vector 256 is out of range 0..255" },
        { "cpu0 ipi 0x51 mode=extint", "t.vapic:2:20: unknown ipi mode `extint`; expected fixed, lowest, smi, nmi, init or sipi" },
        { "cpu0 ipi 0x51 dest=1 dest=2", "t.vapic:2:22: duplicate option `dest`" },
        { "cpu0 ipi 0x51 bogus=1", "t.vapic:2:15: unknown ipi option `bogus`; expected dest=, mode=, logical, shorthand=, level= or trigger=" },
        { "cpu0 ipi 0x51 dest", "t.vapic:2:15: option `dest` needs a value: dest=ID" },
        { "cpu0 ipi 0x51 dest=0x1_0000_0000", "t.vapic:2:20: dest 0x1_0000_0000 is out of range 0..0xffffffff (32 bits)" },
        { "cpu0 take == 0x51", "t.vapic:2:14: `take` observes an event (vector V, extint V, sipi V, nmi, smi, init or none), so `== 0x51` can never match" },
        { "cpu0 take == vector 256", "t.vapic:2:21: vector 256 is out of range 0..255" },
        { "cpu0 take & 1 == 1", "t.vapic:2:11: `take` observes an event (vector V, extint V, sipi V, nmi, smi, init or none), so `& 1 == 1` can never match" },
        { "cpu0 host-wrmsr 0x1b 0 !gp", "t.vapic:2:24: `host-wrmsr` observes ok or error, so `!gp` can never match" },
        { "cpu0 rdcr8 == 16", "t.vapic:2:15: `== 16` can never match: `rdcr8` observes at most 0xf" },
        { "cpu0 cpuid 1", "t.vapic:2:13: missing the output register (eax, ebx, ecx or edx); usage: cpuN cpuid LEAF [SUBLEAF] eax|ebx|ecx|edx" },
        { "cpu0 cpuid 1 0 foo", "t.vapic:2:16: unknown CPUID output register `foo`; expected eax, ebx, ecx or edx" },
        { "cpu0 cpuid 1 foo", "t.vapic:2:14: expected SUBLEAF or eax, ebx, ecx or edx, found `foo`; usage: cpuN cpuid LEAF [SUBLEAF] eax|ebx|ecx|edx" },
        { "cpu0 cpuid 1 eax == 0x1_0000_0000", "t.vapic:2:21: `== 0x1_0000_0000` can never match: `cpuid` observes at most 0xffffffff" },
        { "cpu0 lint2 assert", "t.vapic:2:6: unknown vCPU operation `lint2`; expected wrmsr, rdmsr, mmio-write, mmio-read, write, read, eoi, ipi, sti, cli, take, iret, hlt, rdtsc, host-wrmsr, wrcr8, rdcr8, cpuid, lint0, lint1, kick-cpu or pv-eoi" },
        { "cpu0 lint0 up", "t.vapic:2:12: unknown lint0 action `up`; expected assert, deassert or pulse" },
        { "ioapic route 24 vector=1", "t.vapic:2:14: IOAPIC pin 24 is out of range 0..23 (the IOAPIC has 24 pins)" },
        { "ioapic route 1", "t.vapic:2:15: missing vector=V; usage: ioapic route PIN vector=V [dest=ID] [logical] [trigger=edge|level] [polarity=high|low] [mode=fixed|lowest|smi|nmi|init|extint] [masked]" },
        { "ioapic route 1 vector=1 dest=256", "t.vapic:2:30: dest 256 is out of range 0..0xff (8 bits; 15 with ext-dest-id=on)" },
        { "ioapic route 1 vector=1 == ok", "t.vapic:2:25: `ioapic route` observes nothing, so it takes no expectation" },
        { "ioapic frob", "t.vapic:2:8: unknown ioapic operation `frob`; expected write, read or route" },
        { "ioapic write 0 0x1_0000_0000", "t.vapic:2:16: VALUE 0x1_0000_0000 is out of range 0..0xffffffff (32 bits)" },
        { "irq 24 assert", "t.vapic:2:5: IOAPIC pin 24 is out of range 0..23 (the IOAPIC has 24 pins)" },
        { "irq 1", "t.vapic:2:6: missing irq action; usage: irq PIN assert|deassert|pulse" },
        { "msi 0xfee00000", "t.vapic:2:15: missing DATA; usage: msi ADDR DATA" },
        { "advance 10", "t.vapic:2:9: bad duration `10`: a duration needs a unit: ns, us or ms (for example 250us)" },
        { "advance 10s", "t.vapic:2:9: bad duration `10s`: expected a number followed by ns, us or ms (for example 250us)" },
        { "advance 9223372036854776us", "t.vapic:2:9: bad duration `9223372036854776us`: the duration does not fit in 9223372036854775807ns (about 292 years)" },
        { "advance 0x", "t.vapic:2:9: bad duration `0x`: expected a number followed by ns, us or ms (for example 250us)" },
        { "pic raise", "t.vapic:2:10: missing VECTOR; usage: pic raise VECTOR" },
        { "pic up", "t.vapic:2:5: unknown pic operation `up`; expected raise or lower" },
        { "snapshot bad/name", "t.vapic:2:10: bad snapshot name `bad/name`: use letters, digits, `_`, `-` and `.`" },
        { "restore nothing", "t.vapic:2:9: no snapshot `nothing` to restore: no earlier `snapshot nothing`" },
        { "migrate accel=foo", "t.vapic:2:15: unknown accel `foo`; expected none, apicv, avic or x2avic" },
        { "migrate avic", "t.vapic:2:9: expected accel=KIND, found `avic`; usage: migrate accel=none|apicv|avic|x2avic" },
        { "expect cpu0 irr has", "t.vapic:2:20: missing VECTOR; usage: expect cpuN irr|isr|tmr has V|lacks V|empty" },
        { "expect cpu0 irr full", "t.vapic:2:17: unknown vector test `full`; expected has, lacks or empty" },
        { "expect cpu0 reg PPR = 0x20", "t.vapic:2:21: expected `==`, found `=`; usage: expect cpuN reg REG [& MASK] == V" },
        { "expect cpu0 reg PPR == ", "t.vapic:2:23: missing V; usage: expect cpuN reg REG [& MASK] == V" },
        { "expect cpu0 reg PPR & 0xf == 0x20", "t.vapic:2:30: `& 0xf == 0x20` can never match: V has bits outside MASK" },
        { "expect cpu0 pending has foo", "t.vapic:2:25: unknown pending event `foo`; expected nmi, smi, init, sipi or extint" },
        { "expect cpu0 mode == x3apic", "t.vapic:2:21: unknown APIC mode `x3apic`; expected disabled, xapic or x2apic" },
        { "expect cpu0 state running", "t.vapic:2:19: expected `==`, found `running`; usage: expect cpuN state == running|halted|wait-for-sipi" },
        { "expect cpu0 if == 2", "t.vapic:2:19: IF 2 is out of range 0..1" },
        { "expect cpu0 exits == 0", "t.vapic:2:13: exit counts differ by backend: an `exits` probe must name its backends; usage: expect accel=KIND[,KIND...] cpuN exits [REASON] == N" },
        { "expect accel=avic cpu0 irr empty", "t.vapic:2:8: `accel=` only applies to `exits` and `pv-eoi` probes: expect accel=KIND[,KIND...] cpuN exits [REASON] == N" },
        { "expect accel=avic,avic cpu0 exits == 0", "t.vapic:2:19: duplicate backend `avic` in accel=" },
        { "expect accel=avic, cpu0 exits == 0", "t.vapic:2:20: unknown accel `cpu0`; expected none, apicv, avic or x2avic" },
        { "expect accel=avic cpu0 exits 9bad == 0", "t.vapic:2:30: bad exit reason `9bad`: expected a name of letters, digits, `-` and `_` (for example avic-noaccel)" },
        { "expect accel=avic vm running", "t.vapic:2:8: `accel=` only applies to `exits` and `pv-eoi` probes: expect accel=KIND[,KIND...] cpuN exits [REASON] == N" },
        { "expect vm sleeping", "t.vapic:2:11: unknown vm state `sleeping`; expected running or dead" },
        { "expect ioapic pin 10 line == 2", "t.vapic:2:30: line level 2 is out of range 0..1" },
        { "expect ioapic pin 24 line == 1", "t.vapic:2:19: IOAPIC pin 24 is out of range 0..23 (the IOAPIC has 24 pins)" },
        { "expect ioapic 10 line == 1", "t.vapic:2:15: expected `pin`, found `10`; usage: expect ioapic pin N line|remote-irr|entry ..." },
        { "expect ioapic pin 10 lines == 1", "t.vapic:2:22: unknown IOAPIC pin probe `lines`; expected line, remote-irr or entry" },
        { "expect foo", "t.vapic:2:8: unknown probe `foo`; expected cpuN, ioapic, vm or accel=" },
        { "expect", "t.vapic:2:7: missing what to expect; usage: expect cpuN ... | expect ioapic pin N ... | expect vm running|dead | expect accel=KIND[,KIND...] cpuN exits [REASON] == N" },
        { "cpu0 rdmsr 0x1b é", "t.vapic:2:17: unexpected character U+00E9: only ASCII may appear outside comments" },
        { "cpu0 rdmsr 0x1b ==", "t.vapic:2:19: missing the expected result after `==`: `rdmsr` observes a value or #GP" },
        { "cpu0 take ==  # comment", "t.vapic:2:13: missing the expected result after `==`: `take` observes an event (vector V, extint V, sipi V, nmi, smi, init or none)" },
        { "cpu0 rdmsr 0x1b == #GPX", "t.vapic:2:19: missing the expected result after `==`: `rdmsr` observes a value or #GP" },
        { "cpu0 rdmsr 0x1b == ==", "t.vapic:2:20: expected a number, #GP, ok, error, none, nmi, smi, init, vector V, extint V or sipi V after `==`, found `==`" },
        { "cpu0 rdmsr 0x1b !gp == 1", "t.vapic:2:21: unexpected `==`; usage: cpuN rdmsr MSR" },
        { "cpu0 rdmsr 0x1b & 0xff 0x20", "t.vapic:2:24: expected `==` after `& MASK`, found `0x20`" },
        { "cpu0 rdmsr 0x1b & foo == 1", "t.vapic:2:19: expected MASK (a number), found `foo`; usage: & MASK == VALUE" },
        { "cpu0 rdmsr 0x1b == vector 0x51", "t.vapic:2:20: `rdmsr` observes a value or #GP, so `== vector 0x51` can never match" },
        { "cpu0 eoi == 0", "t.vapic:2:13: `eoi` observes ok or #GP, so `== 0` can never match" },
        { "cpu0 rdtsc !gp", "t.vapic:2:12: `rdtsc` observes a value, so `!gp` can never match" },
        { "cpu0 wrmsr 0x1b 1 & 1 == 1", "t.vapic:2:19: `wrmsr` observes ok or #GP, so `& 1 == 1` can never match" },
        { "cpu0 host-wrmsr 0x1b 1 == #GP", "t.vapic:2:27: `host-wrmsr` observes ok or error, so `== #GP` can never match" },
        { "cpu0 ipi 0x51 == error", "t.vapic:2:18: `ipi` observes ok or #GP, so `== error` can never match" },
        { "cpu0 take == vector", "t.vapic:2:20: missing VECTOR; usage: == vector VECTOR" },
        { "cpu0 take == sipi 0x100", "t.vapic:2:19: vector 0x100 is out of range 0..255" },
        { "cpu0 take == extint x", "t.vapic:2:21: expected vector (a number), found `x`; usage: == extint VECTOR" },
        { "cpu0 hlt !gp", "t.vapic:2:10: `hlt` observes nothing, so it takes no expectation" },
        { "cpu0 iret & 1 == 1", "t.vapic:2:11: `iret` observes nothing, so it takes no expectation" },
        { "cpu0 lint1 pulse == ok", "t.vapic:2:18: `lint1` observes nothing, so it takes no expectation" },
        { "irq 1 pulse == ok", "t.vapic:2:13: `irq` observes nothing, so it takes no expectation" },
        { "advance 1us == ok", "t.vapic:2:13: `advance` observes nothing, so it takes no expectation" },
        { "pic lower == 0", "t.vapic:2:11: `pic lower` observes nothing, so it takes no expectation" },
        { "snapshot a == ok", "t.vapic:2:12: `snapshot` observes nothing, so it takes no expectation" },
        { "ioapic write 1 2 == ok", "t.vapic:2:18: `ioapic write` observes nothing, so it takes no expectation" },
        { "ioapic read 1 == 0x1_0000_0000", "t.vapic:2:18: `== 0x1_0000_0000` can never match: `ioapic read` observes at most 0xffffffff" },
        { "cpu0 mmio-read 0xfee00080 size=4 size=4", "t.vapic:2:34: unexpected `size`; usage: cpuN mmio-read ADDR [size=1|2|4|8]" },
        { "cpu0 mmio-write 0xfee00080 0x10000 size=2", "t.vapic:2:28: VALUE 0x10000 does not fit in 2 bytes" },
        { "cpu0 mmio-read 0xfee00080 size=1 == 0x100", "t.vapic:2:37: `== 0x100` can never match: `mmio-read` observes at most 0xff" },
        { "cpu0 wrmsr 0x1b -1", "t.vapic:2:17: expected VALUE (a number), found `-1`; usage: cpuN wrmsr MSR VALUE" },
        { "cpu0 wrmsr 0x1b 0x", "t.vapic:2:17: bad number `0x` for VALUE: no digits after `0x`" },
        { "cpu0 wrmsr 0x1b 1_", "t.vapic:2:17: bad number `1_` for VALUE: `_` may only separate two digits" },
        { "cpu0 wrmsr 0x1b 0x_1", "t.vapic:2:17: bad number `0x_1` for VALUE: `_` may only separate two digits" },
        { "cpu0 wrmsr 0x1b 0b101", "t.vapic:2:17: bad number `0b101` for VALUE: `b` is not a decimal digit" },
        { "cpu0 wrmsr 0x1b 0x1_0000_0000_0000_0000", "t.vapic:2:17: bad number `0x1_0000_0000_0000_0000` for VALUE: the number does not fit in 64 bits" },
        { "cpu0 wrmsr X2APIC_0xb0 0", "t.vapic:2:12: unknown MSR `X2APIC_0xb0`: `0xb0` is not an APIC register name" },
        { "cpu0 read ISR8", "t.vapic:2:11: unknown APIC register `ISR8`; expected an offset (0xb0) or a name such as TPR, EOI, ICR, LVT_TIMER, IRR0" },
        { "cpu", "t.vapic:2:1: bad vCPU `cpu`: expected `cpu` and a decimal index without leading zeros (cpu0..cpu3)" },
        { "cpu0", "t.vapic:2:5: missing an operation; usage: cpuN OP ..." },
        { "cpu0 =", "t.vapic:2:6: expected an operation, found `=`; usage: cpuN OP ..." },
        { "cpu0 ipi 0x51 logical logical", "t.vapic:2:23: duplicate option `logical`" },
        { "cpu0 ipi 0x51 mode=", "t.vapic:2:20: missing the value of `mode`; usage: mode=fixed|lowest|smi|nmi|init|sipi" },
        { "cpu0 ipi 0x51 level=high", "t.vapic:2:21: unknown level `high`; expected assert or deassert" },
        { "cpu0 ipi 0x51 trigger=pulse", "t.vapic:2:23: unknown trigger `pulse`; expected edge or level" },
        { "cpu0 ipi 0x51 shorthand=everyone", "t.vapic:2:25: unknown shorthand `everyone`; expected none, self, all or others" },
        { "cpu0 ipi 0x51 dest=,", "t.vapic:2:20: expected the value of `dest`, found `,`; usage: dest=ID" },
        { "ioapic route 1 vector=1 vector=2", "t.vapic:2:25: duplicate option `vector`" },
        { "ioapic route 1 vector=1 mode=sipi", "t.vapic:2:30: unknown route mode `sipi`; expected fixed, lowest, smi, nmi, init or extint" },
        { "ioapic route 1 vector=1 polarity=up", "t.vapic:2:34: unknown polarity `up`; expected high or low" },
        { "ioapic route 1 vector=256", "t.vapic:2:23: vector 256 is out of range 0..255" },
        { "ioapic route 1 dest=1", "t.vapic:2:22: missing vector=V; usage: ioapic route PIN vector=V [dest=ID] [logical] [trigger=edge|level] [polarity=high|low] [mode=fixed|lowest|smi|nmi|init|extint] [masked]" },
        { "ioapic route 1 vector=1 unmasked", "t.vapic:2:25: unknown route option `unmasked`; expected vector=, dest=, logical, trigger=, polarity=, mode= or masked" },
        { "ioapic", "t.vapic:2:7: missing write, read or route; usage: ioapic write INDEX VALUE | ioapic read INDEX | ioapic route PIN vector=V ..." },
        { "ioapic read 0x1_0000_0000", "t.vapic:2:13: INDEX 0x1_0000_0000 is out of range 0..0xffffffff (32 bits)" },
        { "msi 0xfee00000 0x1_0000_0000", "t.vapic:2:16: DATA 0x1_0000_0000 is out of range 0..0xffffffff (32 bits)" },
        { "advance", "t.vapic:2:8: missing DURATION; usage: advance DURATION (for example advance 250us)" },
        { "advance 250 us", "t.vapic:2:9: bad duration `250`: a duration needs a unit: ns, us or ms (for example 250us)" },
        { "advance 9223372036855ms", "t.vapic:2:9: bad duration `9223372036855ms`: the duration does not fit in 9223372036854775807ns (about 292 years)" },
        { "advance 18446744073709551616ns", "t.vapic:2:9: bad duration `18446744073709551616ns`: the number does not fit in 64 bits" },
        { "advance ms", "t.vapic:2:9: bad duration `ms`: no digits" },
        { "advance 1__0us", "t.vapic:2:9: bad duration `1__0us`: `_` may only separate two digits" },
        { "pic raise 256", "t.vapic:2:11: vector 256 is out of range 0..255" },
        { "pic", "t.vapic:2:4: missing raise or lower; usage: pic raise VECTOR | pic lower" },
        { "snapshot", "t.vapic:2:9: missing NAME; usage: snapshot NAME" },
        { "restore", "t.vapic:2:8: missing NAME; usage: restore NAME" },
        { "migrate accel=avic,x2avic", "t.vapic:2:19: unexpected `,`; usage: migrate accel=none|apicv|avic|x2avic" },
        { "migrate", "t.vapic:2:8: missing accel=KIND; usage: migrate accel=none|apicv|avic|x2avic" },
        { "expect cpu0 reg PPR", "t.vapic:2:20: missing `==`; usage: expect cpuN reg REG [& MASK] == V" },
        { "expect cpu0 reg PPR == 0x20 extra", "t.vapic:2:29: unexpected `extra`; usage: expect cpuN reg REG [& MASK] == V" },
        { "expect cpu0 reg PPR !gp", "t.vapic:2:21: expected `==`, found `!gp`; usage: expect cpuN reg REG [& MASK] == V" },
        { "expect cpu0 isr empty 0x51", "t.vapic:2:23: unexpected `0x51`; usage: expect cpuN irr|isr|tmr has V|lacks V|empty" },
        { "expect cpu0 irr has 256", "t.vapic:2:21: vector 256 is out of range 0..255" },
        { "expect cpu0 pending nmi", "t.vapic:2:21: unknown pending test `nmi`; expected has or lacks" },
        { "expect cpu0 mode == invalid", "t.vapic:2:21: unknown APIC mode `invalid`; expected disabled, xapic or x2apic" },
        { "expect cpu0 state == sleeping", "t.vapic:2:22: unknown vCPU state `sleeping`; expected running, halted or wait-for-sipi" },
        { "expect cpu0 if == 0x2", "t.vapic:2:19: IF 0x2 is out of range 0..1" },
        { "expect cpu0 frob", "t.vapic:2:13: unknown vCPU probe `frob`; expected irr, isr, tmr, reg, pending, mode, state, if, exits or pv-eoi" },
        { "expect cpu4 if == 1", "t.vapic:2:8: `cpu4` does not exist: the vm has 4 vCPUs (cpu0..cpu3)" },
        { "expect accel=avic cpu4 exits == 0", "t.vapic:2:19: `cpu4` does not exist: the vm has 4 vCPUs (cpu0..cpu3)" },
        { "expect accel=avic", "t.vapic:2:18: missing cpuN; usage: expect accel=KIND[,KIND...] cpuN exits [REASON] == N" },
        { "expect accel cpu0 exits == 0", "t.vapic:2:8: option `accel` needs a value: accel=KIND[,KIND...] with KIND none, apicv, avic or x2avic" },
        { "expect accel=avic cpu0 exits", "t.vapic:2:29: missing `==`; usage: expect accel=KIND[,KIND...] cpuN exits [REASON] == N" },
        { "expect accel=avic cpu0 exits == x", "t.vapic:2:33: expected N (a number), found `x`; usage: expect accel=KIND[,KIND...] cpuN exits [REASON] == N" },
        { "expect accel=avic cpu0 exits a b == 0", "t.vapic:2:32: expected `==`, found `b`; usage: expect accel=KIND[,KIND...] cpuN exits [REASON] == N" },
        { "expect accel=avic cpu0 exits a!b == 0", "t.vapic:2:30: bad exit reason `a!b`: expected a name of letters, digits, `-` and `_` (for example avic-noaccel)" },
        { "expect accel=avic ioapic pin 1 line == 1", "t.vapic:2:8: `accel=` only applies to `exits` and `pv-eoi` probes: expect accel=KIND[,KIND...] cpuN exits [REASON] == N" },
        { "expect vm", "t.vapic:2:10: missing vm state; usage: expect vm running|dead" },
        { "expect vm running now", "t.vapic:2:19: unexpected `now`; usage: expect vm running|dead" },
        { "expect ioapic pin", "t.vapic:2:18: missing IOAPIC pin; usage: expect ioapic pin N line|remote-irr|entry ..." },
        { "expect ioapic pin 1 remote-irr == 2", "t.vapic:2:35: remote-irr 2 is out of range 0..1" },
        { "expect ioapic pin 1 entry & 0xff == 0x100", "t.vapic:2:37: `& 0xff == 0x100` can never match: V has bits outside MASK" },
        { "expect ioapic pin 1 entry == 0x1_0000_0000_0000_0000", "t.vapic:2:30: bad number `0x1_0000_0000_0000_0000` for V: the number does not fit in 64 bits" },
        { "cpu0 sti # bell \a", "t.vapic:2:17: control character U+0007 is not allowed" },
        { "cpu0 sti\0", "t.vapic:2:9: control character U+0000 is not allowed" },
        { "cpu0\u0085sti", "t.vapic:2:5: control character U+0085 is not allowed" },
        { "cpu0 sti\rcpu0 cli", "t.vapic:2:9: control character U+000D is not allowed" },
        { "cpu0\u00a0sti", "t.vapic:2:5: unexpected character U+00A0: only ASCII may appear outside comments" },
        { "cpu0 sti\u200b", "t.vapic:2:9: unexpected character U+200B: only ASCII may appear outside comments" },
        { "cpu0 sti # \u00e9t\u00e9 \t\u2014 non-ASCII comments are fine\ncpu0 frob", "t.vapic:3:6: unknown vCPU operation `frob`; expected wrmsr, rdmsr, mmio-write, mmio-read, write, read, eoi, ipi, sti, cli, take, iret, hlt, rdtsc, host-wrmsr, wrcr8, rdcr8, cpuid, lint0, lint1, kick-cpu or pv-eoi" },
    };

    /// <summary>Errors that are about the file as a whole or the <c>vm</c> line.</summary>
    public static TheoryData<string, string> FileErrors => new()
    {
        { "", "t.vapic:1:1: the scenario is empty: the first statement must be `vm` (for example `vm cpus=1`)" },
        { "# only a comment\n\n   \n", "t.vapic:1:1: the scenario is empty: the first statement must be `vm` (for example `vm cpus=1`)" },
        { "\n\ncpu0 sti\n", "t.vapic:3:1: the first statement must be `vm` (for example `vm cpus=1`), found `cpu0`" },
        { "vm cpus=2\nvm cpus=2\n", "t.vapic:2:1: duplicate `vm` statement: the vm is declared on line 1" },
        { "vm cpus=4\ncpu0 sti\nVM\n", "t.vapic:3:1: duplicate `vm` statement: the vm is declared on line 1" },
        { "vm cpus=0", "t.vapic:1:9: cpus 0 is out of range 1..4096" },
        { "vm cpus=4097", "t.vapic:1:9: cpus 4097 is out of range 1..4096" },
        { "vm cpus=0x1001", "t.vapic:1:9: cpus 0x1001 is out of range 1..4096" },
        { "vm cpus=-1", "t.vapic:1:9: expected cpus (a number), found `-1`; usage: " + VmUsage },
        { "vm cpus", "t.vapic:1:4: option `cpus` needs a value: cpus=N" },
        { "vm cpus=", "t.vapic:1:9: missing the value of `cpus`; usage: cpus=N" },
        { "vm cpus=4 CPUS=2", "t.vapic:1:11: duplicate option `CPUS`" },
        { "vm frob=1", "t.vapic:1:4: unknown vm option `frob`; expected cpus, accel, profile, tsc-khz, bus-mhz, x2apic, tsc-deadline, cmci, maxphyaddr, ioapic-version, ext-dest-id, ap-state, x2apic-32bit-ids, x2apic-broadcast-quirk or split-irqchip" },
        { "vm = 5", "t.vapic:1:4: expected a vm option such as cpus=N, found `=`; usage: " + VmUsage },
        { "vm accel=foo", "t.vapic:1:10: unknown accel `foo`; expected none, apicv, avic or x2avic" },
        { "vm profile=qemu", "t.vapic:1:12: unknown profile `qemu`; expected kvm or architectural" },
        { "vm x2apic=maybe", "t.vapic:1:11: unknown x2apic value `maybe`; expected on or off" },
        { "vm tsc-deadline=1", "t.vapic:1:17: unknown tsc-deadline value `1`; expected on or off" },
        { "vm cmci=yes", "t.vapic:1:9: unknown cmci value `yes`; expected on or off" },
        { "vm ext-dest-id=", "t.vapic:1:16: missing the value of `ext-dest-id`; usage: ext-dest-id=on|off" },
        { "vm ioapic-version=0x12", "t.vapic:1:19: ioapic-version 0x12 is not supported; expected 0x11 or 0x20" },
        { "vm ioapic-version=v2", "t.vapic:1:19: expected ioapic-version (a number), found `v2`; usage: ioapic-version=0x11|0x20" },
        { "vm maxphyaddr=53", "t.vapic:1:15: maxphyaddr 53 is out of range 32..52" },
        { "vm maxphyaddr=31", "t.vapic:1:15: maxphyaddr 31 is out of range 32..52" },
        { "vm tsc-khz=0", "t.vapic:1:12: tsc-khz 0 is out of range 1..4294967295" },
        { "vm tsc-khz=4294967296", "t.vapic:1:12: tsc-khz 4294967296 is out of range 1..4294967295" },
        { "vm bus-mhz=0", "t.vapic:1:12: bus-mhz 0 is out of range 1..4294967295" },
        { "vm ap-state=halted", "t.vapic:1:13: unknown ap-state `halted`; expected running or wait-for-sipi" },
        { "vm\ncpu1 sti", "t.vapic:2:1: `cpu1` does not exist: the vm has 1 vCPU (cpu0)" },
        { "vm cpus=4096\ncpu4096 sti", "t.vapic:2:1: `cpu4096` does not exist: the vm has 4096 vCPUs (cpu0..cpu4095)" },
        { "vm\nioapic route 1 vector=1 dest=0x8000", "t.vapic:2:30: dest 0x8000 is out of range 0..0xff (8 bits; 15 with ext-dest-id=on)" },
        { "vm ext-dest-id=on\nioapic route 1 vector=1 dest=0x8000", "t.vapic:2:30: dest 0x8000 is out of range 0..0x7fff (15 bits with ext-dest-id=on)" },
        { "vm\nrestore a\nsnapshot a\nrestore a", "t.vapic:2:9: no snapshot `a` to restore: no earlier `snapshot a`" },
        { "vm\r\ncpu0 frob\r\n", "t.vapic:2:6: unknown vCPU operation `frob`; expected wrmsr, rdmsr, mmio-write, mmio-read, write, read, eoi, ipi, sti, cli, take, iret, hlt, rdtsc, host-wrmsr, wrcr8, rdcr8, cpuid, lint0, lint1, kick-cpu or pv-eoi" },
    };

    private const string VmUsage = "vm [cpus=N] [accel=KIND] [profile=kvm|architectural] [tsc-khz=N] [bus-mhz=N] [x2apic=on|off] "
        + "[tsc-deadline=on|off] [cmci=on|off] [maxphyaddr=N] [ioapic-version=0x11|0x20] [ext-dest-id=on|off] [ap-state=running|wait-for-sipi] "
        + "[x2apic-32bit-ids=on|off] [x2apic-broadcast-quirk=on|off] [split-irqchip=on|off]";

    [Theory]
    [MemberData(nameof(StatementErrors))]
    public void Statement_errors_name_the_offending_token(string line, string expected) =>
        Assert.Equal([expected], ScenarioAssert.Fails("vm cpus=4\n" + line + "\n"));

    [Theory]
    [MemberData(nameof(FileErrors))]
    public void File_and_vm_line_errors_name_their_place(string text, string expected) =>
        Assert.Equal([expected], ScenarioAssert.Fails(text));

    [Fact]
    public void A_vm_line_after_another_statement_is_reported_at_both_places()
    {
        Assert.Equal(
            [
                "t.vapic:1:1: the first statement must be `vm` (for example `vm cpus=1`), found `cpu0`",
                "t.vapic:2:1: `vm` must be the first statement (line 1 comes before it)",
            ],
            ScenarioAssert.Fails("cpu0 sti\nvm cpus=2\ncpu1 sti\n"));
    }

    public static TheoryData<string, string[]> UnreadableLines => new()
    {
        // A bad character on the vm line: later lines are checked against the largest vm, not refused.
        { "vm cpus=2\0\ncpu1 sti\n", ["t.vapic:1:10: control character U+0000 is not allowed"] },
        // A bad character before a comment on line 1: the vm on line 2 still counts as first.
        { "\a# comment\nvm\ncpu0 sti\n", ["t.vapic:1:1: control character U+0007 is not allowed"] },
        // Nothing readable at all: the bad character is the news, not an "empty scenario".
        { "vm\0", ["t.vapic:1:3: control character U+0000 is not allowed"] },
        { "# \0\n", ["t.vapic:1:3: control character U+0000 is not allowed"] },
        // A readable statement before the vm is still reported.
        { "x\0\ncpu0 sti\nvm\n", ["t.vapic:1:2: control character U+0000 is not allowed", "t.vapic:3:1: `vm` must be the first statement (line 2 comes before it)"] },
        { new string('x', 5000) + "\nvm\ncpu0 sti\n", ["t.vapic:1:4097: line is longer than 4096 characters"] },
    };

    [Theory]
    [MemberData(nameof(UnreadableLines))]
    public void An_unreadable_line_is_reported_without_cascading(string text, string[] expected) =>
        Assert.Equal(expected, ScenarioAssert.Fails(text));

    [Fact]
    public void Every_bad_line_is_reported_once_in_file_order()
    {
        string[] errors = ScenarioAssert.Fails("vm cpus=2\ncpu0 frob\ncpu0 sti\ncpu2 sti\nadvance 5\ncpu0 wrmsr FOO 1 == nmi\n");
        Assert.Equal(
            [
                "t.vapic:2:6: unknown vCPU operation `frob`; expected wrmsr, rdmsr, mmio-write, mmio-read, write, read, eoi, ipi, sti, cli, take, iret, hlt, rdtsc, host-wrmsr, wrcr8, rdcr8, cpuid, lint0, lint1, kick-cpu or pv-eoi",
                "t.vapic:4:1: `cpu2` does not exist: the vm has 2 vCPUs (cpu0..cpu1)",
                "t.vapic:5:9: bad duration `5`: a duration needs a unit: ns, us or ms (for example 250us)",
                "t.vapic:6:12: unknown MSR `FOO`; expected a number, APIC_BASE, TSC_DEADLINE or X2APIC_<REG>",
            ],
            errors);
    }

    [Fact]
    public void A_bad_vm_line_still_lets_later_lines_be_checked_against_the_largest_vm()
    {
        string[] errors = ScenarioAssert.Fails("vm cpus=0\ncpu4095 sti\ncpu4096 sti\n");
        Assert.Equal(
            [
                "t.vapic:1:9: cpus 0 is out of range 1..4096",
                "t.vapic:3:1: `cpu4096` does not exist: at most 4096 vCPUs (cpu0..cpu4095)",
            ],
            errors);
    }

    [Fact]
    public void Diagnostic_prints_as_file_line_column_message()
    {
        var diagnostic = new ScenarioDiagnostic("dir/a b.vapic", 12, 7, "unknown statement `x`");
        Assert.Equal("dir/a b.vapic:12:7: unknown statement `x`", diagnostic.ToString());
    }

    [Fact]
    public void Diagnostics_carry_the_given_file_name_and_1_based_positions()
    {
        var result = ScenarioParser.Parse("vm\n  cpu0 frob\n", "scenarios/regress/avic-eoi.vapic");
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(("scenarios/regress/avic-eoi.vapic", 2, 8), (diagnostic.File, diagnostic.Line, diagnostic.Column));
        Assert.StartsWith("scenarios/regress/avic-eoi.vapic:2:8: unknown vCPU operation `frob`", diagnostic.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Long_tokens_are_cut_short_in_messages()
    {
        string word = new('x', 100);
        string[] errors = ScenarioAssert.Fails("vm\n" + word + "\n");
        Assert.Equal(["t.vapic:2:1: unknown statement `" + new string('x', 40) + "...`; expected vm, cpuN, ioapic, irq, msi, advance, pic, expect, snapshot, restore, migrate or dump"], errors);
    }
}
