// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Frozen;
using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using VirtualApic.Registers;

namespace VirtualApic.Cli.Decoding;

/// <summary>
/// Takes a register value apart field by field, for people reading traces (<c>vapic decode KIND
/// VALUE</c>). Layouts follow the Intel SDM vol. 3A chapter 11 and the AMD APM vol. 2 chapter 16;
/// the IOAPIC entry follows the 82093AA datasheet, and the extended destination and remappable
/// format bits follow the Linux/KVM/Xen conventions noted on each field.
/// </summary>
public static class RegisterDecoder
{
    private const string Wide32Note = "the register is 32 bits wide; these bits are reserved in the x2APIC MSR too";

    private static readonly ReadOnlyCollection<string> CanonicalNames = new(
        ["icr", "lvt", "lvt-timer", "rte", "msi-address", "msi-data", "apic-base", "svr", "esr", "tdcr"]);

    private static readonly FrozenDictionary<string, RegisterKind> Aliases = BuildAliases();

    private static readonly DeliveryMode[] IcrModes =
        [DeliveryMode.Fixed, DeliveryMode.LowestPriority, DeliveryMode.Smi, DeliveryMode.Nmi, DeliveryMode.Init, DeliveryMode.StartUp];

    private static readonly DeliveryMode[] LvtModes =
        [DeliveryMode.Fixed, DeliveryMode.Smi, DeliveryMode.Nmi, DeliveryMode.Init, DeliveryMode.ExtInt];

    private static readonly DeliveryMode[] MessageModes =
        [DeliveryMode.Fixed, DeliveryMode.LowestPriority, DeliveryMode.Smi, DeliveryMode.Nmi, DeliveryMode.Init, DeliveryMode.ExtInt];

    /// <summary>
    /// The canonical kind names, in <see cref="RegisterKind"/> order: <c>icr</c>, <c>lvt</c>,
    /// <c>lvt-timer</c>, <c>rte</c>, <c>msi-address</c>, <c>msi-data</c>, <c>apic-base</c>,
    /// <c>svr</c>, <c>esr</c>, <c>tdcr</c>.
    /// </summary>
    public static IReadOnlyList<string> KindNames => CanonicalNames;

    /// <summary>
    /// Parses a kind name, case-insensitively, with <c>_</c> and <c>-</c> interchangeable. Accepted:
    /// the canonical <see cref="KindNames"/>, the enum member names (<c>LvtTimer</c>, ...), and the
    /// aliases <c>redirection-entry</c>, <c>ioredtbl</c>, <c>ioapic-rte</c> (RTE), <c>msi-addr</c>,
    /// <c>ia32-apic-base</c>, <c>lvt-entry</c>, and the LVT register names <c>lvt-cmci</c>,
    /// <c>lvt-thermal</c>, <c>lvt-pmc</c>, <c>lvt-lint0</c>, <c>lvt-lint1</c>, <c>lvt-error</c>
    /// (generic LVT). Numbers and surrounding white space are rejected.
    /// </summary>
    /// <param name="text">The name to parse.</param>
    /// <param name="kind">The kind, when the result is true.</param>
    /// <returns>True if <paramref name="text"/> names a kind.</returns>
    public static bool TryParseKind([NotNullWhen(true)] string? text, out RegisterKind kind)
    {
        kind = default;
        return !string.IsNullOrEmpty(text) && Aliases.TryGetValue(text.Replace('_', '-'), out kind);
    }

    /// <summary>Decodes <paramref name="value"/> as a register of the given kind.</summary>
    /// <param name="kind">The register layout to apply.</param>
    /// <param name="value">
    /// The raw value. 32-bit registers take it in the low half; any bit set above bit 31 is
    /// reported as reserved. An MSI address may be 32- or 64-bit.
    /// </param>
    /// <returns>The fields, a summary and a printable table.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a defined kind.</exception>
    public static DecodedRegister Decode(RegisterKind kind, ulong value) => kind switch
    {
        RegisterKind.Icr => DecodeIcr(value),
        RegisterKind.Lvt => DecodeLvt(value),
        RegisterKind.LvtTimer => DecodeLvtTimer(value),
        RegisterKind.Rte => DecodeRte(value),
        RegisterKind.MsiAddress => DecodeMsiAddress(value),
        RegisterKind.MsiData => DecodeMsiData(value),
        RegisterKind.ApicBase => DecodeApicBase(value),
        RegisterKind.Svr => DecodeSvr(value),
        RegisterKind.Esr => DecodeEsr(value),
        RegisterKind.Tdcr => DecodeTdcr(value),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown register kind."),
    };

    // ICR: SDM 11.6.1 figure 11-12 (xAPIC: ICR2 bits 31:24 = value bits 63:56; ICR2 bits 23:0
    // reserved), 11.12.9 figure 11-28 (x2APIC: bits 63:32 destination, bit 12 not used).
    private static DecodedRegister DecodeIcr(ulong value)
    {
        var icr = new Icr(value);
        var f = new FieldList(RegisterKind.Icr, value);
        var mode = icr.DeliveryMode;
        bool initDeassert = mode == DeliveryMode.Init && !icr.Level && icr.TriggerMode == TriggerMode.Level;
        bool logical = icr.DestinationMode == DestinationMode.Logical;
        string? ignored = icr.Shorthand == DestinationShorthand.None ? null : $"ignored: the {ShorthandWords(icr.Shorthand)} shorthand selects the targets";

        f.Add("vector", 7, 0, VectorMeaning(icr.Vector, mode, IcrModes));
        f.Add("delivery mode", 10, 8, IcrModeMeaning(mode, initDeassert));
        f.Add("destination mode", 11, 11, DestinationModeMeaning(icr.DestinationMode));
        f.Add("delivery status", 12, 12, icr.Busy ? "send pending (xAPIC only: x2APIC has no delivery status and ignores this bit)" : "idle");
        f.Reserved(13, 13);
        f.Add("level", 14, 14, icr.Level ? "assert"
            : mode == DeliveryMode.Init ? "de-assert (INIT level de-assert, with trigger mode level)"
            : "de-assert (only INIT level de-assert sends 0; every other delivery mode must send 1)");
        f.Add("trigger mode", 15, 15, icr.TriggerMode == TriggerMode.Edge ? "edge"
            : "level (only INIT level de-assert uses it; ignored for other delivery modes)");
        f.Reserved(17, 16);
        f.Add("destination shorthand", 19, 18, ShorthandMeaning(icr.Shorthand));
        f.Reserved(31, 20);
        f.Add("x2APIC destination", 63, 32, ignored ?? X2ApicDestinationMeaning(icr.X2ApicDestination, logical));
        f.Reserved(55, 32, "xAPIC reading only: ICR2 bits 23:0; in x2APIC mode they are destination bits", countsInSummary: false);
        f.Add("xAPIC destination", 63, 56, ignored ?? XApicDestinationMeaning(icr.XApicDestination, logical));

        var parts = new List<string> { (initDeassert ? "INIT level de-assert" : ModeWord(mode, IcrModes)) + " IPI" };
        AddVectorSummary(parts, icr.Vector, mode, IcrModes);
        parts.Add(ignored is null ? IcrDestinationSummary(icr, logical) : "destination field ignored");
        parts.Add(icr.TriggerMode == TriggerMode.Edge ? "edge" : "level");
        parts.Add(icr.Level ? "assert" : "de-assert");
        parts.Add(icr.Shorthand == DestinationShorthand.None ? "no shorthand" : "shorthand " + ShorthandWords(icr.Shorthand));
        return f.Build(string.Join(", ", parts));
    }

    private static string IcrDestinationSummary(Icr icr, bool logical)
    {
        string dm = logical ? "logical" : "physical";
        bool xApicForm = (icr.High & 0x00FF_FFFF) == 0 && icr.High != 0;
        string x2 = DestinationWords(icr.X2ApicDestination, logical, uint.MaxValue);
        return xApicForm
            ? $"{dm} destination {DestinationWords(icr.XApicDestination, logical, 0xFF)} in xAPIC form, {x2} in x2APIC form"
            : $"{dm} destination {x2}";
    }

    private static string IcrModeMeaning(DeliveryMode mode, bool initDeassert) => mode switch
    {
        DeliveryMode.LowestPriority => ModeMeaning(mode, IcrModes) + " (model-specific for IPIs; reserved in x2APIC mode)",
        DeliveryMode.Init when initDeassert =>
            "INIT level de-assert: resynchronises arbitration IDs (not supported by Pentium 4 and later processors)",
        _ => ModeMeaning(mode, IcrModes),
    };

    // LVT: SDM 11.5.1 figure 11-8, LINT0/LINT1 layout (the superset).
    private static DecodedRegister DecodeLvt(ulong value)
    {
        var lvt = new Lvt((uint)value);
        var f = new FieldList(RegisterKind.Lvt, value);
        var mode = lvt.DeliveryMode;
        bool lowActive = (lvt.Raw & Lvt.PolarityBit) != 0, remoteIrr = (lvt.Raw & Lvt.RemoteIrrBit) != 0;

        f.Add("vector", 7, 0, VectorMeaning(lvt.Vector, mode, LvtModes));
        f.Add("delivery mode", 10, 8, ModeMeaning(mode, LvtModes) + (mode is DeliveryMode.Init or DeliveryMode.ExtInt
            ? " (not for the CMCI, thermal or performance-counter entries)"
            : string.Empty) + "; the timer and error entries have no delivery mode");
        f.Reserved(11, 11);
        f.Add("delivery status", 12, 12, DeliveryStatusMeaning(lvt.Raw & Lvt.DeliveryStatusBit));
        f.Add("input pin polarity", 13, 13, (lowActive ? "active low" : "active high") + " (LINT0/LINT1 only)");
        f.Add("remote IRR", 14, 14, (remoteIrr ? "set: a level-triggered interrupt was accepted and awaits EOI" : "clear") + " (LINT0/LINT1 only)");
        f.Add("trigger mode", 15, 15, (lvt.TriggerMode == TriggerMode.Edge ? "edge" : "level")
            + " (LINT0/LINT1 with fixed delivery only; NMI, SMI and INIT are always edge, ExtINT always level)");
        f.Add("mask", 16, 16, MaskMeaning(lvt.Masked));
        f.Reserved(31, 17, (value & (3ul << 17)) != 0 ? "bits 18:17 are the timer mode of the LVT timer entry: decode it as lvt-timer" : null);
        f.Reserved(63, 32, Wide32Note);

        var parts = new List<string> { ModeWord(mode, LvtModes) };
        AddVectorSummary(parts, lvt.Vector, mode, LvtModes);
        parts.Add(lvt.TriggerMode == TriggerMode.Edge ? "edge" : "level");
        parts.Add(lowActive ? "active low" : "active high");
        AddStateSummary(parts, lvt.Masked, remoteIrr, (lvt.Raw & Lvt.DeliveryStatusBit) != 0);
        return f.Build(string.Join(", ", parts));
    }

    // LVT timer: SDM 11.5.1 figure 11-8 (no delivery mode, polarity, remote IRR or trigger) and
    // 11.5.4.1 (TSC-deadline mode).
    private static DecodedRegister DecodeLvtTimer(ulong value)
    {
        var lvt = new Lvt((uint)value);
        var f = new FieldList(RegisterKind.LvtTimer, value);
        f.Add("vector", 7, 0, PlainVectorMeaning(lvt.Vector));
        f.Reserved(11, 8, "the timer entry has no delivery mode: it is always fixed");
        f.Add("delivery status", 12, 12, DeliveryStatusMeaning(lvt.Raw & Lvt.DeliveryStatusBit));
        f.Reserved(15, 13);
        f.Add("mask", 16, 16, MaskMeaning(lvt.Masked));
        f.Add("timer mode", 18, 17, lvt.TimerMode switch
        {
            TimerMode.OneShot => "one-shot: counts the initial count down once",
            TimerMode.Periodic => "periodic: reloads the initial count at zero",
            TimerMode.TscDeadline => "TSC-deadline: fires when the TSC reaches IA32_TSC_DEADLINE (needs CPUID.01H:ECX[24])",
            _ => "reserved (0b11)",
        });
        f.Reserved(31, 19);
        f.Reserved(63, 32, Wide32Note);

        string timerMode = lvt.TimerMode switch
        {
            TimerMode.OneShot => "one-shot",
            TimerMode.Periodic => "periodic",
            TimerMode.TscDeadline => "TSC-deadline",
            _ => "reserved-mode",
        };
        var parts = new List<string> { timerMode + " timer", $"vector 0x{lvt.Vector:X2}" };
        AddStateSummary(parts, lvt.Masked, remoteIrr: false, (lvt.Raw & Lvt.DeliveryStatusBit) != 0);
        return f.Build(string.Join(", ", parts));
    }

    // IOAPIC redirection entry: 82093AA datasheet 3.2.4 (bits 55:17 reserved there). Later
    // IOxAPICs call bits 55:48 the extended destination ID, which becomes MSI address bits 11:4.
    // Bit 48 (address bit 4) selects the VT-d remappable format, and bits 55:49 (address bits
    // 11:5) carry destination bits 14:8 when a hypervisor advertises 15-bit extended destination
    // IDs (Linux commit 51130d21881d, struct IO_APIC_route_entry; KVM_FEATURE_MSI_EXT_DEST_ID).
    private static DecodedRegister DecodeRte(ulong value)
    {
        var f = new FieldList(RegisterKind.Rte, value);
        var mode = (DeliveryMode)((value >> 8) & 7);
        bool logical = (value & (1ul << 11)) != 0, lowActive = (value & (1ul << 13)) != 0;
        bool remoteIrr = (value & (1ul << 14)) != 0, level = (value & (1ul << 15)) != 0, masked = (value & (1ul << 16)) != 0;
        bool remappable = (value & (1ul << 48)) != 0;
        ulong index = ((value >> 49) & 0x7FFF) | (((value >> 11) & 1) << 15);
        ulong extended = (value >> 49) & 0x7F, destination = value >> 56;
        const string IndexPart = "part of the interrupt index (remappable format)";

        f.Add("vector", 7, 0, VectorMeaning((byte)value, mode, MessageModes));
        f.Add("delivery mode", 10, 8, ModeMeaning(mode, MessageModes) + (remappable ? " (the remapping table entry supplies it)" : string.Empty));
        f.Add("destination mode", 11, 11, remappable ? IndexPart + ": index bit 15" : DestinationModeMeaning((DestinationMode)(logical ? 1 : 0)));
        f.Add("delivery status", 12, 12, DeliveryStatusMeaning(value & (1ul << 12)));
        f.Add("polarity", 13, 13, lowActive ? "active low" : "active high");
        f.Add("remote IRR", 14, 14, remoteIrr ? "set: a level-triggered interrupt was delivered and awaits EOI" : "clear");
        f.Add("trigger mode", 15, 15, level ? "level" : "edge");
        f.Add("mask", 16, 16, MaskMeaning(masked));
        f.Reserved(47, 17);
        f.Add("interrupt format", 48, 48, remappable
            ? $"remappable format (Intel VT-d interrupt remapping): interrupt index 0x{index:X} from bits 63:49 and 11; the destination fields do not apply"
            : "compatibility format");
        f.Add("extended destination", 55, 49, remappable ? IndexPart : ExtendedDestinationMeaning(extended, destination, logical));
        f.Add("destination", 63, 56, remappable ? IndexPart
            : logical ? XApicDestinationMeaning((uint)destination, logical: true)
            : destination == 0xFF ? "broadcast (0xFF)" : $"APIC ID {destination}");

        var parts = new List<string>();
        if (remappable)
        {
            parts.Add($"remappable format (VT-d), interrupt index 0x{index:X}");
            parts.Add($"vector 0x{(byte)value:X2}");
        }
        else
        {
            parts.Add(ModeWord(mode, MessageModes));
            AddVectorSummary(parts, (byte)value, mode, MessageModes);
            parts.Add(MessageDestinationSummary(destination, extended, logical));
        }

        parts.Add(level ? "level" : "edge");
        parts.Add(lowActive ? "active low" : "active high");
        AddStateSummary(parts, masked, remoteIrr, (value & (1ul << 12)) != 0);
        return f.Build(string.Join(", ", parts));
    }

    // MSI address: SDM 11.11.1 figure 11-24 (bits 11:4 reserved there). Bit 4 is the VT-d
    // remappable-format bit and bits 11:5 the 15-bit extended destination ID (Linux struct
    // x86_msi_addr_lo; KVM_FEATURE_MSI_EXT_DEST_ID "extended destination ID bits in MSI address
    // bits 11-5"). The high dword carries destination bits 31:8 in bits 31:8 only for KVM's x2APIC
    // API (KVM_X2APIC_API_USE_32BIT_IDS) and VT-d's own event messages (struct x86_msi_addr_hi).
    private static DecodedRegister DecodeMsiAddress(ulong value)
    {
        var f = new FieldList(RegisterKind.MsiAddress, value);
        bool logical = (value & (1ul << 2)) != 0, redirect = (value & (1ul << 3)) != 0, remappable = (value & (1ul << 4)) != 0;
        ulong extended = (value >> 5) & 0x7F, destination = (value >> 12) & 0xFF, header = (value >> 20) & 0xFFF;
        ulong high = value >> 40;
        ulong index = ((value >> 5) & 0x7FFF) | (((value >> 2) & 1) << 15);
        const string IndexPart = "part of the interrupt index (remappable format)";

        f.Reserved(1, 0, "MSI addresses are dword aligned");
        f.Add("destination mode", 2, 2, remappable ? IndexPart + ": index bit 15" : DestinationModeMeaning((DestinationMode)(logical ? 1 : 0)));
        f.Add("redirection hint", 3, 3, remappable ? "subhandle valid (remappable format)"
            : redirect ? "redirectable: deliver to the lowest-priority processor among the destinations"
            : "directed: deliver to the destination(s) as addressed");
        f.Add("interrupt format", 4, 4, remappable
            ? $"remappable format (Intel VT-d interrupt remapping): interrupt index 0x{index:X} from bits 19:5 and 2; the destination fields do not apply"
            : "compatibility format");
        f.Add("extended destination", 11, 5, remappable ? IndexPart : ExtendedDestinationMeaning(extended, destination, logical));
        f.Add("destination ID", 19, 12, remappable ? IndexPart
            : logical ? XApicDestinationMeaning((uint)destination, logical: true)
            : destination == 0xFF ? "broadcast (0xFF)" : $"APIC ID {destination}");
        f.Add("address", 31, 20, header == 0xFEE
            ? "0xFEE: the interrupt message window"
            : "not an interrupt message address: MSIs write to 0xFEExxxxx");
        if (value > uint.MaxValue)
        {
            f.Reserved(39, 32, "KVM requires address_hi bits 7:0 to be zero");
            f.Add("destination ID bits 31:8", 63, 40,
                $"full destination 0x{(high << 8) | destination:X} with KVM's 32-bit destination IDs (KVM_X2APIC_API_USE_32BIT_IDS) "
                + "or a VT-d event message in x2APIC mode; a device write above 4 GiB is not an interrupt");
        }

        string summary;
        if (header != 0xFEE)
        {
            summary = $"not an interrupt message address (bits 31:20 = 0x{header:X3}, expected 0xFEE)";
        }
        else if (remappable)
        {
            summary = $"remappable format (VT-d), interrupt index 0x{index:X}" + (redirect ? ", subhandle valid" : string.Empty);
        }
        else
        {
            string dest = MessageDestinationSummary(destination, extended, logical);
            if (high != 0)
            {
                dest += $" (0x{(high << 8) | destination:X} with KVM 32-bit destination IDs)";
            }

            summary = dest + (redirect ? ", redirectable (lowest priority)" : ", directed");
        }

        return f.Build(summary);
    }

    // MSI data: SDM 11.11.2 figure 11-25.
    private static DecodedRegister DecodeMsiData(ulong value)
    {
        var f = new FieldList(RegisterKind.MsiData, value);
        var mode = (DeliveryMode)((value >> 8) & 7);
        bool assert = (value & (1ul << 14)) != 0, level = (value & (1ul << 15)) != 0;

        f.Add("vector", 7, 0, VectorMeaning((byte)value, mode, MessageModes));
        f.Add("delivery mode", 10, 8, ModeMeaning(mode, MessageModes));
        f.Reserved(13, 11);
        f.Add("level", 14, 14, !level ? "ignored for edge-triggered messages" : assert ? "assert" : "de-assert");
        f.Add("trigger mode", 15, 15, level ? "level" : "edge");
        f.Reserved(31, 16);
        f.Reserved(63, 32, "the MSI data register is 32 bits wide");

        var parts = new List<string> { ModeWord(mode, MessageModes) };
        AddVectorSummary(parts, (byte)value, mode, MessageModes);
        parts.Add(level ? "level" : "edge");
        if (level)
        {
            parts.Add(assert ? "assert" : "de-assert");
        }

        return f.Build(string.Join(", ", parts));
    }

    // IA32_APIC_BASE: SDM 11.4.4 figure 11-5, 11.12.1 (EXTD and the EN/EXTD mode table). The highest
    // MAXPHYADDR is 52, so bits 63:52 are always reserved; the lower limit depends on the CPU.
    private static DecodedRegister DecodeApicBase(ulong value)
    {
        const ulong BaseMask = 0x000F_FFFF_FFFF_F000;
        var msr = new ApicBase(value);
        var f = new FieldList(RegisterKind.ApicBase, value);
        ulong address = value & BaseMask;

        f.Reserved(7, 0);
        f.Add("BSP", 8, 8, msr.IsBsp ? "bootstrap processor" : "application processor");
        f.Reserved(9, 9);
        f.Add("EXTD", 10, 10, (value & ApicBase.ExtdBit) != 0 ? "x2APIC enable set" : "x2APIC enable clear");
        f.Add("mode", 11, 10, msr.Mode switch
        {
            ApicMode.Disabled => "disabled (EN=0, EXTD=0)",
            ApicMode.Invalid => "invalid (EN=0, EXTD=1): WRMSR to this state faults",
            ApicMode.XApic => "xAPIC (EN=1, EXTD=0): MMIO interface",
            _ => "x2APIC (EN=1, EXTD=1): MSR interface",
        });
        f.Add("EN", 11, 11, (value & ApicBase.EnableBit) != 0 ? "APIC globally enabled" : "APIC globally disabled");
        f.Add("base", 51, 12, (address == ApicBase.DefaultAddress
                ? $"0x{address:X}, the architectural default"
                : $"0x{address:X}, relocated from the default 0xFEE00000")
            + (address > uint.MaxValue ? "; bits at and above the CPU's MAXPHYADDR are reserved" : string.Empty)
            + (msr.Mode == ApicMode.X2Apic ? "; unused in x2APIC mode" : string.Empty));
        f.Reserved(63, 52, "above the largest possible MAXPHYADDR, 52");

        string mode = msr.Mode switch
        {
            ApicMode.Disabled => "APIC disabled",
            ApicMode.Invalid => "invalid mode (EN=0, EXTD=1)",
            ApicMode.XApic => "xAPIC mode",
            _ => "x2APIC mode",
        };
        return f.Build($"{mode}, {(msr.IsBsp ? "BSP" : "AP")}, base 0x{address:X}");
    }

    // SVR: SDM 11.9 figure 11-23; 11.4.7.2 (software disable); 11.8.5 (EOI-broadcast suppression).
    private static DecodedRegister DecodeSvr(ulong value)
    {
        var f = new FieldList(RegisterKind.Svr, value);
        bool enabled = (value & (1ul << 8)) != 0, focusDisabled = (value & (1ul << 9)) != 0, suppress = (value & (1ul << 12)) != 0;

        f.Add("spurious vector", 7, 0, $"vector 0x{(byte)value:X2} is delivered for spurious interrupts (bits 3:0 are hard-wired to 1 on P6 and Pentium)");
        f.Add("APIC software enable", 8, 8, enabled
            ? "software-enabled"
            : "software-disabled: LVT entries are held masked; only NMI, SMI, INIT and start-up messages are accepted");
        f.Add("focus processor checking", 9, 9, (focusDisabled ? "disabled" : "enabled")
            + " for lowest-priority delivery (reserved on Pentium 4 and later Intel processors)");
        f.Reserved(11, 10);
        f.Add("suppress EOI broadcast", 12, 12, suppress
            ? "suppressed: EOIs of level-triggered interrupts do not reach the IOAPICs (valid only if LVR bit 24 is set)"
            : "EOIs of level-triggered interrupts are broadcast to the IOAPICs");
        f.Reserved(31, 13);
        f.Reserved(63, 32, Wide32Note);

        var parts = new List<string> { enabled ? "APIC software-enabled" : "APIC software-disabled", $"spurious vector 0x{(byte)value:X2}" };
        if (focusDisabled)
        {
            parts.Add("focus processor checking disabled");
        }

        if (suppress)
        {
            parts.Add("EOI broadcast suppressed");
        }

        return f.Build(string.Join(", ", parts));
    }

    // ESR: SDM 11.5.3 figure 11-9 and the ESR flag table that follows it.
    private static DecodedRegister DecodeEsr(ulong value)
    {
        (string Name, string Set)[] bits =
        [
            ("send checksum error", "a message this APIC sent on the APIC bus failed its checksum (P6 and Pentium only)"),
            ("receive checksum error", "a message received on the APIC bus failed its checksum (P6 and Pentium only)"),
            ("send accept error", "no APIC accepted a message this APIC sent (P6 and Pentium only)"),
            ("receive accept error", "no APIC accepted a message this APIC received (P6 and Pentium only)"),
            ("redirectable IPI", "software sent a lowest-priority IPI, which this APIC does not support"),
            ("send illegal vector", "this APIC was asked to send a vector in 0x00-0x0F (ICR or SELF IPI write)"),
            ("received illegal vector", "a received or locally generated interrupt had a vector in 0x00-0x0F"),
            ("illegal register address", "software accessed an unimplemented register in the xAPIC page"),
        ];
        var f = new FieldList(RegisterKind.Esr, value);
        var set = new List<string>();
        for (int i = 0; i < bits.Length; i++)
        {
            bool on = (value & (1ul << i)) != 0;
            f.Add(bits[i].Name, i, i, on ? "set: " + bits[i].Set : "clear");
            if (on)
            {
                set.Add(bits[i].Name);
            }
        }

        f.Reserved(31, 8);
        f.Reserved(63, 32, Wide32Note);
        return f.Build(set.Count == 0 ? "no errors" : "errors: " + string.Join(", ", set));
    }

    // TDCR: SDM 11.5.4 figure 11-10. The divide value is bits 3, 1 and 0; bit 2 is reserved.
    private static DecodedRegister DecodeTdcr(ulong value)
    {
        var f = new FieldList(RegisterKind.Tdcr, value);
        ulong code = value & 0xB;
        int index = (int)(((code >> 1) & 4) | (code & 3));
        int divisor = index == 7 ? 1 : 2 << index;

        f.Add("divide value", 3, 0, code, $"divide by {divisor} (encoding 0b{Binary(code, 4)}: bits 3, 1 and 0)");
        f.Reserved(2, 2, "not part of the divide value; must be 0");
        f.Reserved(31, 4);
        f.Reserved(63, 32, Wide32Note);
        return f.Build($"divide by {divisor}");
    }

    private static string ModeWord(DeliveryMode mode, DeliveryMode[] valid) =>
        Array.IndexOf(valid, mode) < 0 ? $"reserved delivery mode 0b{Binary((ulong)mode, 3)}" : mode switch
        {
            DeliveryMode.Fixed => "fixed",
            DeliveryMode.LowestPriority => "lowest-priority",
            DeliveryMode.Smi => "SMI",
            DeliveryMode.Nmi => "NMI",
            DeliveryMode.Init => "INIT",
            DeliveryMode.StartUp => "start-up",
            _ => "ExtINT",
        };

    private static string ModeMeaning(DeliveryMode mode, DeliveryMode[] valid) =>
        Array.IndexOf(valid, mode) < 0 ? $"reserved (0b{Binary((ulong)mode, 3)})" : mode switch
        {
            DeliveryMode.Fixed => "fixed: deliver the vector to every destination",
            DeliveryMode.LowestPriority => "lowest priority: deliver to the destination running at the lowest priority",
            DeliveryMode.Smi => "SMI: system management interrupt",
            DeliveryMode.Nmi => "NMI: non-maskable interrupt",
            DeliveryMode.Init => "INIT",
            DeliveryMode.StartUp => "start-up (SIPI): the target starts at the vector's 4 KiB page",
            _ => "ExtINT: an external 8259 PIC supplies the vector",
        };

    private static string VectorMeaning(byte vector, DeliveryMode mode, DeliveryMode[] valid) =>
        Array.IndexOf(valid, mode) < 0 ? PlainVectorMeaning(vector) : mode switch
        {
            DeliveryMode.Fixed or DeliveryMode.LowestPriority => PlainVectorMeaning(vector),
            DeliveryMode.StartUp => $"start-up vector: the target starts executing at 0x{vector << 12:X5} (CS 0x{vector << 8:X4}, IP 0)",
            DeliveryMode.Smi => vector == 0 ? "ignored for SMI" : "ignored for SMI (should be 0x00)",
            DeliveryMode.Nmi => "ignored for NMI",
            DeliveryMode.Init => "ignored for INIT",
            _ => "ignored for ExtINT: the 8259 supplies the vector",
        };

    private static string PlainVectorMeaning(byte vector) => vector switch
    {
        < 0x10 => $"vector 0x{vector:X2}: illegal (0x00-0x0F are reserved; the APIC rejects it and flags an ESR illegal-vector error)",
        < 0x20 => $"vector 0x{vector:X2}, priority class 1 (0x10-0x1F overlap the CPU exception vectors)",
        _ => $"vector 0x{vector:X2}, priority class {vector >> 4}",
    };

    private static void AddVectorSummary(List<string> parts, byte vector, DeliveryMode mode, DeliveryMode[] valid)
    {
        if (mode == DeliveryMode.StartUp && Array.IndexOf(valid, mode) >= 0)
        {
            parts.Add($"vector 0x{vector:X2} (start address 0x{vector << 12:X5})");
        }
        else if (mode is DeliveryMode.Fixed or DeliveryMode.LowestPriority || Array.IndexOf(valid, mode) < 0)
        {
            parts.Add($"vector 0x{vector:X2}");
        }
    }

    private static void AddStateSummary(List<string> parts, bool masked, bool remoteIrr, bool sendPending)
    {
        parts.Add(masked ? "masked" : "not masked");
        if (remoteIrr)
        {
            parts.Add("remote IRR set");
        }

        if (sendPending)
        {
            parts.Add("send pending");
        }
    }

    private static string DestinationModeMeaning(DestinationMode mode) => mode == DestinationMode.Physical
        ? "physical: the destination is an APIC ID"
        : "logical: the destination is matched against each LDR (and DFR in xAPIC mode)";

    private static string DeliveryStatusMeaning(ulong bit) => bit == 0 ? "idle" : "send pending";

    private static string MaskMeaning(bool masked) => masked ? "masked" : "not masked";

    private static string ShorthandWords(DestinationShorthand shorthand) => shorthand switch
    {
        DestinationShorthand.None => "no",
        DestinationShorthand.Self => "self",
        DestinationShorthand.AllIncludingSelf => "all including self",
        _ => "all excluding self",
    };

    private static string ShorthandMeaning(DestinationShorthand shorthand) => shorthand == DestinationShorthand.None
        ? "no shorthand: the destination field selects the targets"
        : ShorthandWords(shorthand);

    private static string DestinationWords(uint id, bool logical, uint broadcast) =>
        (logical ? $"0x{id:X}" : id.ToString(CultureInfo.InvariantCulture)) + (id == broadcast ? " (broadcast)" : string.Empty);

    private static string XApicDestinationMeaning(uint id, bool logical) => id == 0xFF
        ? "broadcast (0xFF)"
        : logical
            ? $"logical 0x{id:X2}: flat model bitmap 0b{Binary(id, 8)}; cluster model cluster {id >> 4}, members 0b{Binary(id & 0xF, 4)}"
            : $"APIC ID {id}";

    private static string X2ApicDestinationMeaning(uint id, bool logical) => id == uint.MaxValue
        ? "broadcast (0xFFFFFFFF)"
        : logical ? $"logical: cluster 0x{id >> 16:X}, member bitmap 0x{id & 0xFFFF:X4}" : $"APIC ID {id}";

    private static string ExtendedDestinationMeaning(ulong extended, ulong destination, bool logical)
    {
        const string Scheme = "destination ID bits 14:8 when the hypervisor advertises 15-bit extended destination IDs "
            + "(KVM_FEATURE_MSI_EXT_DEST_ID, Xen, Hyper-V); reserved otherwise";
        return extended == 0 || logical ? Scheme : $"{Scheme}; with it, destination {(extended << 8) | destination}";
    }

    private static string MessageDestinationSummary(ulong destination, ulong extended, bool logical)
    {
        if (logical)
        {
            return $"logical destination {DestinationWords((uint)destination, true, 0xFF)}";
        }

        string text = $"physical destination {DestinationWords((uint)destination, false, 0xFF)}";
        return extended == 0 ? text : $"{text} ({(extended << 8) | destination} with the 15-bit extended destination ID)";
    }

    private static string Binary(ulong value, int width) => Convert.ToString((long)value, 2).PadLeft(width, '0');

    private static FrozenDictionary<string, RegisterKind> BuildAliases()
    {
        var aliases = new Dictionary<string, RegisterKind>(StringComparer.OrdinalIgnoreCase);
        foreach (var kind in Enum.GetValues<RegisterKind>())
        {
            aliases[kind.ToString()] = kind;
            aliases[CanonicalNames[(int)kind]] = kind;
        }

        foreach (string name in (string[])["lvt-entry", "lvt-cmci", "lvt-thermal", "lvt-pmc", "lvt-lint0", "lvt-lint1", "lvt-error"])
        {
            aliases[name] = RegisterKind.Lvt;
        }

        aliases["redirection-entry"] = RegisterKind.Rte;
        aliases["ioredtbl"] = RegisterKind.Rte;
        aliases["ioapic-rte"] = RegisterKind.Rte;
        aliases["msi-addr"] = RegisterKind.MsiAddress;
        aliases["ia32-apic-base"] = RegisterKind.ApicBase;
        return aliases.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    private static string DisplayName(RegisterKind kind) => kind switch
    {
        RegisterKind.Icr => "ICR",
        RegisterKind.Lvt => "LVT entry",
        RegisterKind.LvtTimer => "LVT timer",
        RegisterKind.Rte => "IOAPIC redirection entry",
        RegisterKind.MsiAddress => "MSI address",
        RegisterKind.MsiData => "MSI data",
        RegisterKind.ApicBase => "IA32_APIC_BASE",
        RegisterKind.Svr => "SVR",
        RegisterKind.Esr => "ESR",
        _ => "TDCR",
    };

    /// <summary>Collects the fields of one value in order and flags set reserved bits.</summary>
    private sealed class FieldList(RegisterKind kind, ulong value)
    {
        private readonly List<DecodedField> fields = [];
        private bool reservedSet;

        public void Add(string name, int high, int low, string meaning) => Add(name, high, low, Extract(high, low), meaning);

        public void Add(string name, int high, int low, ulong fieldValue, string meaning) =>
            fields.Add(new DecodedField(name, high, low, fieldValue, meaning));

        /// <summary>Adds a <c>reserved</c> field for bits high:low if any of them is set.</summary>
        public void Reserved(int high, int low, string? note = null, bool countsInSummary = true)
        {
            ulong bits = Extract(high, low);
            if (bits == 0)
            {
                return;
            }

            string meaning = $"reserved bits set: 0x{bits << low:X}" + (note is null ? string.Empty : $" ({note})");
            fields.Add(new DecodedField(DecodedField.ReservedName, high, low, bits, meaning));
            reservedSet |= countsInSummary;
        }

        public DecodedRegister Build(string summary) =>
            new(kind, value, DisplayName(kind), fields, reservedSet ? summary + "; reserved bits set" : summary);

        private ulong Extract(int high, int low)
        {
            int width = high - low + 1;
            ulong mask = width == 64 ? ulong.MaxValue : (1ul << width) - 1;
            return (value >> low) & mask;
        }
    }
}
