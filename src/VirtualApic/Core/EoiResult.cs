// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using VirtualApic.Registers;

namespace VirtualApic.Core;

/// <summary>
/// What one EOI did to a local APIC, known once its registers are final: the vector that left the
/// ISR (or none), its trigger mode as the TMR had it, whether the IOAPIC must hear of it, and whether
/// it cleared a LINT Remote IRR. The APIC's counterpart of the bus message crosvm's APIC returns from
/// an EOI write instead of sending it from inside the register update.
/// </summary>
/// <remarks>
/// One 32-bit word, so it is returned in a register and costs the EOI path nothing. The default
/// value is <see cref="None"/>: nothing was in service, which is not an error (SDM 11.8.5).
/// </remarks>
public readonly record struct EoiResult
{
    // Bits 7:0 the vector; bit 8 a vector left the ISR; bit 9 its TMR bit was set (level);
    // bit 10 the IOAPIC must hear of it; bit 11 a LINT0 or LINT1 Remote IRR was cleared.
    private const int RetiredBit = 1 << 8;
    private const int LevelBit = 1 << 9;
    private const int IoApicBit = 1 << 10;
    private const int LintBit = 1 << 11;

    private readonly int _bits;

    private EoiResult(int bits) => _bits = bits;

    /// <summary>An EOI with nothing in service: nothing changed, nobody is told.</summary>
    public static EoiResult None => default;

    /// <summary>Whether nothing was in service (the EOI changed nothing).</summary>
    public bool IsNone => (_bits & RetiredBit) == 0;

    /// <summary>The vector that left the ISR, or -1 when nothing was in service.</summary>
    public int Vector => IsNone ? -1 : _bits & 0xFF;

    /// <summary>The vector's TMR bit at the EOI: level or edge (edge when nothing was in service).</summary>
    public TriggerMode Trigger => (_bits & LevelBit) != 0 ? TriggerMode.Level : TriggerMode.Edge;

    /// <summary>
    /// Whether the IOAPIC must hear of the EOI: the vector is one of
    /// <see cref="LocalApic.IoApicHandledVectors"/> (KVM <c>kvm_ioapic_handles_vector</c>; under
    /// APICv the EOI-exit bitmap).
    /// </summary>
    public bool IoApicHandled => (_bits & IoApicBit) != 0;

    /// <summary>
    /// Whether the EOI cleared the Remote IRR of a level-triggered LINT0 or LINT1 entry with this
    /// vector (SDM 11.5.1; only under a profile whose APIC owns those status bits).
    /// </summary>
    public bool LintRemoteIrrCleared => (_bits & LintBit) != 0;

    /// <summary>The result of retiring <paramref name="vector"/> from the ISR.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static EoiResult Retired(int vector, bool level, bool ioApicHandled) =>
        new((vector & 0xFF) | RetiredBit | (level ? LevelBit : 0) | (ioApicHandled ? IoApicBit : 0));

    /// <summary>
    /// <see cref="Retired(int, bool, bool)"/> from the words that hold the vector's TMR bit (a TMR
    /// dword) and its IOAPIC-handled bit (a qword of the 256-bit set): shifts and masks, no branch,
    /// on the path of every EOI.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static EoiResult Retired(int vector, uint tmrWord, ulong ioApicHandledWord) =>
        new((vector & 0xFF) | RetiredBit
            | ((int)((tmrWord >> vector) & 1) * LevelBit)
            | ((int)((ioApicHandledWord >> vector) & 1) * IoApicBit));

    /// <summary>This result, with a LINT Remote IRR recorded as cleared.</summary>
    internal EoiResult WithLintRemoteIrrCleared() => new(_bits | LintBit);
}
