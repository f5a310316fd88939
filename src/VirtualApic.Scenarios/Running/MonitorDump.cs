// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Devices;
using VirtualApic.Registers;

namespace VirtualApic.Scenarios.Running;

/// <summary>
/// Prints a local APIC and the IOAPIC the way QEMU's monitor does (<c>info lapic</c>,
/// <c>info pic</c>): one line per LVT entry with its decoded fields, the timer, SVR, ICR, ESR, the
/// vectors in ISR and IRR (marked <c>(level)</c> when TMR has them), the priority registers; then
/// one line per IOAPIC pin with its redirection entry decoded, and the pins with their input line
/// high or remote IRR set. The state is the architectural one (posted vectors folded into IRR), so
/// the text is the same under every backend.
/// </summary>
public static class MonitorDump
{
    private static readonly (string Name, int Offset)[] LvtRows =
    [
        ("LVT0", ApicOffset.LvtLint0), ("LVT1", ApicOffset.LvtLint1), ("LVTPC", ApicOffset.LvtPmc),
        ("LVTERR", ApicOffset.LvtError), ("LVTTHMR", ApicOffset.LvtThermal), ("LVTT", ApicOffset.LvtTimer),
    ];

    private static readonly string[] DeliveryModeNames = ["Fixed", "LowPri", "SMI", "RemRd", "NMI", "INIT", "SIPI", "ExtINT"];

    private static readonly string[] TimerModeNames = ["one-shot", "periodic", "tsc-deadline", "reserved"];

    private static readonly string[] ShorthandNames = ["no-shorthand", "self", "all-self", "all"];

    /// <summary>The <c>info lapic</c> text of <paramref name="vcpu"/>'s local APIC.</summary>
    /// <param name="vcpu">The vCPU; its IRR is synchronised with posted vectors first (as probes do).</param>
    public static string InfoLapic(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var apic = vcpu.Apic;
        _ = apic.HighestIrr; // folds posted vectors in, so every backend prints the same IRR
        var s = new StringBuilder();
        string mode = apic.Mode switch
        {
            ApicMode.X2Apic => "x2apic",
            ApicMode.XApic => "xapic",
            ApicMode.Disabled => "disabled",
            _ => "invalid",
        };
        Line(s, $"dumping local APIC state for CPU {vcpu.Index} ({mode}, APIC_BASE 0x{apic.ApicBaseMsr:x})");
        s.Append('\n');
        var rows = apic.Config.CmciSupported ? [.. LvtRows, ("LVTCMCI", ApicOffset.LvtCmci)] : LvtRows;
        foreach (var (name, offset) in rows)
        {
            Line(s, LvtLine(name, offset, apic.ReadRegisterRaw(offset)));
        }

        uint tdcr = apic.ReadRegisterRaw(ApicOffset.Tdcr);
        Line(s, $"Timer\t DCR=0x{tdcr:x} (divide by {DivideBy(tdcr)}) initial_count = {apic.ReadRegisterRaw(ApicOffset.Tmict)} current_count = {apic.ReadRegisterRaw(ApicOffset.Tmcct)}");
        uint svr = apic.ReadRegisterRaw(ApicOffset.Svr);
        Line(s, $"SPIV\t 0x{svr:x8} APIC {((svr & 0x100) != 0 ? "enabled" : "disabled")}, focus={((svr & 0x200) != 0 ? "off" : "on")}, "
            + $"{((svr & 0x1000) != 0 ? "suppress-eoi-broadcast, " : "")}spurious vec {svr & 0xFF}");
        IcrLines(s, apic);
        Line(s, $"ESR\t 0x{apic.ReadRegisterRaw(ApicOffset.Esr):x8}");
        Line(s, "ISR\t " + Vectors(apic, ApicOffset.Isr));
        Line(s, "IRR\t " + Vectors(apic, ApicOffset.Irr));
        s.Append('\n');
        string dfr = apic.IsX2Apic ? "" : $" DFR 0x{apic.ReadRegisterRaw(ApicOffset.Dfr) >> 24:x2}";
        string ldr = apic.IsX2Apic ? $"0x{apic.ReadRegisterRaw(ApicOffset.Ldr):x8}" : $"0x{apic.ReadRegisterRaw(ApicOffset.Ldr) >> 24:x2}";
        Line(s, $"APR 0x{apic.ReadRegisterRaw(ApicOffset.Apr):x2} TPR 0x{apic.ReadRegisterRaw(ApicOffset.Tpr):x2}{dfr} LDR {ldr} PPR 0x{apic.ReadRegisterRaw(ApicOffset.Ppr):x2}");
        return s.ToString();
    }

    /// <summary>The <c>info pic</c> text of <paramref name="ioApic"/>: every pin, then IRR and remote IRR.</summary>
    /// <param name="ioApic">The IOAPIC; read through its saved state, without side effects.</param>
    public static string InfoPic(IoApic ioApic)
    {
        ArgumentNullException.ThrowIfNull(ioApic);
        var state = ioApic.Save();
        var s = new StringBuilder();
        uint sel = state.IoRegSel;
        string selected = sel >= IoApic.RedirectionTableIndex && sel < IoApic.RedirectionTableIndex + (2 * IoApic.PinCount)
            ? $" (redir[{(sel - IoApic.RedirectionTableIndex) / 2}])"
            : "";
        Line(s, $"ioapic0: ver=0x{(byte)state.Version:x} id=0x{state.Id:x2} sel=0x{sel:x2}{selected}");
        for (int pin = 0; pin < state.Entries.Length; pin++)
        {
            var e = new RedirectionEntry(state.Entries[pin]);
            Line(s, ($"  pin {pin,-2} 0x{e.Raw:x16} dest={e.Destination,-3} vec={e.Vector,-3} {(e.ActiveLow ? "active-lo" : "active-hi")} "
                + $"{(e.TriggerMode == TriggerMode.Level ? "level" : "edge ")} {(e.Masked ? "masked" : "      ")} "
                + $"{DeliveryModeNames[(int)e.DeliveryMode].ToLowerInvariant(),-6} {(e.DestinationMode == DestinationMode.Logical ? "logical" : "physical")}"
                + (e.RemoteIrr ? " remote-irr" : "")).TrimEnd());
        }

        Line(s, "  IRR        " + Pins(state.KvmIrr));
        Line(s, "  Lines high " + Pins(state.Lines));
        uint remote = 0;
        for (int pin = 0; pin < state.Entries.Length; pin++)
        {
            if (new RedirectionEntry(state.Entries[pin]).RemoteIrr)
            {
                remote |= 1u << pin;
            }
        }

        Line(s, "  Remote IRR " + Pins(remote));
        return s.ToString();
    }

    private static void Line(StringBuilder s, string text) => s.Append(text).Append('\n');

    private static string LvtLine(string name, int offset, uint raw)
    {
        var lvt = new Lvt(raw);
        string timer = offset == ApicOffset.LvtTimer ? TimerModeNames[(int)lvt.TimerMode] : "";
        string mode = DeliveryModeNames[(int)lvt.DeliveryMode];
        string vector = lvt.DeliveryMode is DeliveryMode.Fixed ? $" (vec {lvt.Vector})" : "";
        return ($"{name}\t 0x{raw:x8} {((raw & Lvt.PolarityBit) != 0 ? "active-lo" : "active-hi")} {(lvt.TriggerMode == TriggerMode.Level ? "level" : "edge ")} "
            + $"{(lvt.Masked ? "masked" : "      ")} {((raw & Lvt.RemoteIrrBit) != 0 ? "remote-irr" : "          ")} {timer,-12} {mode,-6}{vector}").TrimEnd();
    }

    private static void IcrLines(StringBuilder s, LocalApic apic)
    {
        ulong icrRaw = apic.IsX2Apic ? apic.ReadX2ApicIcr() : apic.ReadRegisterRaw(ApicOffset.Icr) | ((ulong)apic.ReadRegisterRaw(ApicOffset.Icr2) << 32);
        var icr = new Icr(icrRaw);
        Line(s, ($"ICR\t 0x{(uint)icrRaw:x8} {(icr.DestinationMode == DestinationMode.Logical ? "logical" : "physical")} {(icr.TriggerMode == TriggerMode.Level ? "level" : "edge")} "
            + $"{(icr.Level ? "assert" : "de-assert")} {ShorthandNames[(int)icr.Shorthand]}"));
        uint destination = apic.IsX2Apic ? (uint)(icrRaw >> 32) : (uint)(icrRaw >> 56);
        string what = icr.DestinationMode == DestinationMode.Logical ? "mask" : "cpu";
        Line(s, string.Create(CultureInfo.InvariantCulture,
            $"ICR2\t 0x{(uint)(icrRaw >> 32):x8} {what} {destination} ({(apic.IsX2Apic ? "X2APIC ID" : "xAPIC ID")})"));
    }

    private static int DivideBy(uint tdcr)
    {
        // TDCR bits 3, 1:0 select 2^(n+1), with 0b111 meaning divide by 1 (SDM 11.5.4).
        int n = (int)(((tdcr >> 1) & 4) | (tdcr & 3));
        return n == 7 ? 1 : 2 << n;
    }

    private static string Vectors(LocalApic apic, int regBase)
    {
        var s = new StringBuilder();
        for (int vector = 0; vector < 256; vector++)
        {
            if (apic.Page.TestVector(regBase, vector))
            {
                s.Append(CultureInfo.InvariantCulture, $"{(s.Length == 0 ? "" : " ")}0x{vector:x2}");
                if (apic.Page.TestVector(ApicOffset.Tmr, vector))
                {
                    s.Append("(level)");
                }
            }
        }

        return s.Length == 0 ? "(none)" : s.ToString();
    }

    private static string Pins(uint bits)
    {
        if (bits == 0)
        {
            return "(none)";
        }

        var pins = new List<string>();
        for (int pin = 0; pin < 32; pin++)
        {
            if ((bits & (1u << pin)) != 0)
            {
                pins.Add(pin.ToString(CultureInfo.InvariantCulture));
            }
        }

        return string.Join(' ', pins);
    }
}
