// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Scenarios.Syntax;

/// <summary>The probe grammar: <c>expect ...</c>.</summary>
internal sealed partial class Parser
{
    private enum CpuProbe
    {
        Irr,
        Isr,
        Tmr,
        Reg,
        Pending,
        Mode,
        State,
        If,
        Exits,
        PvEoi,
    }

    private enum PinProbe
    {
        Line,
        RemoteIrr,
        Entry,
    }

    private const string ProbeUsage = "expect cpuN ... | expect ioapic pin N ... | expect vm running|dead | expect accel=KIND[,KIND...] cpuN exits [REASON] == N";

    private static readonly KeywordTable<CpuProbe> CpuProbes = new(
        ("irr", CpuProbe.Irr), ("isr", CpuProbe.Isr), ("tmr", CpuProbe.Tmr), ("reg", CpuProbe.Reg),
        ("pending", CpuProbe.Pending), ("mode", CpuProbe.Mode), ("state", CpuProbe.State), ("if", CpuProbe.If),
        ("exits", CpuProbe.Exits), ("pv-eoi", CpuProbe.PvEoi));

    private static readonly KeywordTable<PinProbe> PinProbes = new(
        ("line", PinProbe.Line), ("remote-irr", PinProbe.RemoteIrr), ("entry", PinProbe.Entry));

    private static readonly KeywordTable<bool> HasLacks = new(("has", true), ("lacks", false));

    private static readonly KeywordTable<VectorSetCheck> VectorChecks = new(
        ("has", VectorSetCheck.Has), ("lacks", VectorSetCheck.Lacks), ("empty", VectorSetCheck.Empty));

    private static readonly KeywordTable<PendingEvent> PendingEvents = new(
        ("nmi", PendingEvent.Nmi), ("smi", PendingEvent.Smi), ("init", PendingEvent.Init), ("sipi", PendingEvent.Sipi),
        ("extint", PendingEvent.ExtInt));

    private static readonly KeywordTable<ApicMode> Modes = new(
        ("disabled", ApicMode.Disabled), ("xapic", ApicMode.XApic), ("x2apic", ApicMode.X2Apic));

    private static readonly KeywordTable<VcpuRunState> RunStates = new(
        ("running", VcpuRunState.Running), ("halted", VcpuRunState.Halted), ("wait-for-sipi", VcpuRunState.WaitForSipi));

    private static readonly KeywordTable<VmRunState> VmStates = new(("running", VmRunState.Running), ("dead", VmRunState.Dead));

    private Probe ParseProbe()
    {
        var subject = TakeWord("what to expect", ProbeUsage);
        AccelFilter? accels = null;
        var accelToken = subject;
        if (Is(subject, "accel"))
        {
            accels = TakeAccelFilter(subject);
            subject = TakeWord("cpuN", "expect accel=KIND[,KIND...] cpuN exits [REASON] == N");
        }

        Probe probe;
        if (IsCpuName(Span(subject)))
        {
            probe = ParseCpuProbe(CpuIndex(subject), accels, accelToken);
        }
        else if (accels is not null)
        {
            throw At(accelToken, "`accel=` only applies to `exits` and `pv-eoi` probes: expect accel=KIND[,KIND...] cpuN exits [REASON] == N");
        }
        else if (Is(subject, "vm"))
        {
            const string usage = "expect vm running|dead";
            probe = new ExpectVmProbe(default, TakeChoice(VmStates, "vm state", usage));
            ExpectEnd(usage);
        }
        else if (Is(subject, "ioapic"))
        {
            probe = ParsePinProbe();
        }
        else
        {
            throw At(subject, $"unknown probe {Show(subject)}; expected cpuN, ioapic, vm or accel=");
        }

        return probe with { Source = Source() };
    }

    private Probe ParseCpuProbe(int cpu, AccelFilter? accels, Token accelToken)
    {
        const string usage = "expect cpuN irr|isr|tmr|reg|pending|mode|state|if|pv-eoi ...";
        var what = TakeChoice(CpuProbes, "vCPU probe", usage);
        if (what == CpuProbe.Exits)
        {
            return ParseExitsProbe(cpu, accels);
        }

        if (what == CpuProbe.PvEoi)
        {
            const string pvUsage = "expect accel=KIND[,KIND...] cpuN pv-eoi == 0|1";
            if (accels is not { } filter)
            {
                throw At(_tokens[_cursor - 1], $"the PV EOI flag differs by backend: a `pv-eoi` probe must name its backends; usage: {pvUsage}");
            }

            TakeEqualEqual(pvUsage);
            bool set = TakeBit("flag", pvUsage);
            ExpectEnd(pvUsage);
            return new ExpectPvEoiProbe(default, cpu, filter, set);
        }

        if (accels is not null)
        {
            throw At(accelToken, "`accel=` only applies to `exits` and `pv-eoi` probes: expect accel=KIND[,KIND...] cpuN exits [REASON] == N");
        }

        switch (what)
        {
            case CpuProbe.Irr:
            case CpuProbe.Isr:
            case CpuProbe.Tmr:
                {
                    var register = what switch { CpuProbe.Irr => ApicVectorRegister.Irr, CpuProbe.Isr => ApicVectorRegister.Isr, _ => ApicVectorRegister.Tmr };
                    const string vectorUsage = "expect cpuN irr|isr|tmr has V|lacks V|empty";
                    var check = TakeChoice(VectorChecks, "vector test", vectorUsage);
                    byte vector = check == VectorSetCheck.Empty ? (byte)0 : TakeVector(vectorUsage);
                    ExpectEnd(vectorUsage);
                    return new ExpectVectorsProbe(default, cpu, register, check, vector);
                }

            case CpuProbe.Reg:
                {
                    const string regUsage = "expect cpuN reg REG [& MASK] == V";
                    var register = TakeRegister(regUsage);
                    var (value, mask) = TakeCompare(regUsage);
                    return new ExpectRegisterProbe(default, cpu, register, value, mask);
                }

            case CpuProbe.Pending:
                {
                    const string pendingUsage = "expect cpuN pending has|lacks nmi|smi|init|sipi|extint";
                    bool has = TakeChoice(HasLacks, "pending test", pendingUsage);
                    var pending = TakeChoice(PendingEvents, "pending event", pendingUsage);
                    ExpectEnd(pendingUsage);
                    return new ExpectPendingProbe(default, cpu, has, pending);
                }

            case CpuProbe.Mode:
                {
                    const string modeUsage = "expect cpuN mode == disabled|xapic|x2apic";
                    TakeEqualEqual(modeUsage);
                    var mode = TakeChoice(Modes, "APIC mode", modeUsage);
                    ExpectEnd(modeUsage);
                    return new ExpectModeProbe(default, cpu, mode);
                }

            case CpuProbe.State:
                {
                    const string stateUsage = "expect cpuN state == running|halted|wait-for-sipi";
                    TakeEqualEqual(stateUsage);
                    var state = TakeChoice(RunStates, "vCPU state", stateUsage);
                    ExpectEnd(stateUsage);
                    return new ExpectStateProbe(default, cpu, state);
                }

            case CpuProbe.If:
                {
                    const string ifUsage = "expect cpuN if == 0|1";
                    TakeEqualEqual(ifUsage);
                    bool set = TakeBit("IF", ifUsage);
                    ExpectEnd(ifUsage);
                    return new ExpectInterruptFlagProbe(default, cpu, set);
                }

            default:
                throw new InvalidOperationException($"unhandled vCPU probe {what}");
        }
    }

    private ExpectExitsProbe ParseExitsProbe(int cpu, AccelFilter? accels)
    {
        const string usage = "expect accel=KIND[,KIND...] cpuN exits [REASON] == N";
        if (accels is not { } filter)
        {
            throw At(_tokens[_cursor - 1], $"exit counts differ by backend: an `exits` probe must name its backends; usage: {usage}");
        }

        string? reason = null;
        if (NextIs(TokenKind.Word))
        {
            var token = _tokens[_cursor++];
            var text = Span(token);
            if (!char.IsAsciiLetter(text[0]) || text.ContainsAnyExcept(ReasonChars))
            {
                throw At(token, $"bad exit reason {Show(token)}: expected a name of letters, digits, `-` and `_` (for example avic-noaccel)");
            }

            reason = text.ToString().ToLowerInvariant();
        }

        TakeEqualEqual(usage);
        ulong count = TakeNumber("N", usage);
        ExpectEnd(usage);
        return new ExpectExitsProbe(default, cpu, filter, reason, count);
    }

    private static readonly System.Buffers.SearchValues<char> ReasonChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");

    private Probe ParsePinProbe()
    {
        const string usage = "expect ioapic pin N line|remote-irr|entry ...";
        TakeKeyword("pin", usage);
        int pin = TakePin(usage);
        switch (TakeChoice(PinProbes, "IOAPIC pin probe", usage))
        {
            case PinProbe.Line:
                {
                    const string lineUsage = "expect ioapic pin N line == 0|1";
                    TakeEqualEqual(lineUsage);
                    bool high = TakeBit("line level", lineUsage);
                    ExpectEnd(lineUsage);
                    return new ExpectIoApicLineProbe(default, pin, high);
                }

            case PinProbe.RemoteIrr:
                {
                    const string irrUsage = "expect ioapic pin N remote-irr == 0|1";
                    TakeEqualEqual(irrUsage);
                    bool set = TakeBit("remote-irr", irrUsage);
                    ExpectEnd(irrUsage);
                    return new ExpectIoApicRemoteIrrProbe(default, pin, set);
                }

            default:
                {
                    const string entryUsage = "expect ioapic pin N entry [& MASK] == V";
                    var (value, mask) = TakeCompare(entryUsage);
                    return new ExpectIoApicEntryProbe(default, pin, value, mask);
                }
        }
    }

    /// <summary><c>accel=KIND[,KIND...]</c> after the <c>accel</c> key: at least one backend, each once.</summary>
    private AccelFilter TakeAccelFilter(Token key)
    {
        string form = $"accel=KIND[,KIND...] with KIND {string.Join(", ", AccelNames.Names.SkipLast(1))} or {AccelNames.Names[^1]}";
        var token = OptionValue(key, form);
        byte bits = 0;
        while (true)
        {
            var kind = Choice(token, Accels, "accel");
            byte bit = (byte)(1 << (int)kind);
            if ((bits & bit) != 0)
            {
                throw At(token, $"duplicate backend {Show(token)} in accel=");
            }

            bits |= bit;
            if (!NextIs(TokenKind.Comma))
            {
                return new AccelFilter(bits);
            }

            _cursor++;
            token = TakeWord("a backend after `,`", form);
        }
    }

    private void TakeEqualEqual(string usage)
    {
        if (AtEnd)
        {
            throw Missing("`==`", usage);
        }

        var token = _tokens[_cursor++];
        if (token.Kind != TokenKind.EqualEqual)
        {
            throw At(token, $"expected `==`, found {Show(token)}; usage: {usage}");
        }
    }

    /// <summary><c>[&amp; MASK] == V</c> at the end of a probe.</summary>
    private (ulong Value, ulong? Mask) TakeCompare(string usage)
    {
        ulong? mask = null;
        Token maskToken = default;
        if (NextIs(TokenKind.Ampersand))
        {
            _cursor++;
            maskToken = Take("MASK", usage);
            mask = Number(maskToken, "MASK", usage);
        }

        TakeEqualEqual(usage);
        var valueToken = Take("V", usage);
        ulong value = Number(valueToken, "V", usage);
        ExpectEnd(usage);
        if (mask is { } m && (value & ~m) != 0)
        {
            throw At(valueToken, $"`& {Span(maskToken)} == {Span(valueToken)}` can never match: V has bits outside MASK");
        }

        return (value, mask);
    }
}
