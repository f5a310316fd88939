// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Snapshot;

/// <summary>
/// The 1 KiB <c>struct kvm_lapic_state</c> register image of KVM_GET_LAPIC / KVM_SET_LAPIC: page
/// offsets 0x000-0x3FF in the architectural layout, with KVM's conventions (lapic.c
/// <c>kvm_apic_get_state</c>, <c>kvm_apic_state_fixup</c>, <c>kvm_apic_set_state</c>).
/// </summary>
public static class KvmLapicState
{
    /// <summary>The image size, <c>KVM_APIC_REG_SIZE</c>.</summary>
    public const int Size = 0x400;

    /// <summary>
    /// KVM_GET_LAPIC: posted vectors folded into IRR, TMCCT replaced by the live count, and in
    /// x2APIC mode the ID slot in the 32-bit (<paramref name="x2ApicFormat"/>) or legacy
    /// <c>id &lt;&lt; 24</c> form and the ICR always split into ICR (0x300) + ICR2 (0x310), the 64-bit
    /// (Intel) layout keeping its high half at 0x304 as well.
    /// </summary>
    public static byte[] Capture(LocalApic apic, bool x2ApicFormat = true)
    {
        ArgumentNullException.ThrowIfNull(apic);
        apic.SyncIrrForSave();
        byte[] image = new byte[Size];
        apic.Page.CopyTo(image);
        Put(image, ApicOffset.Tmcct, apic.Timer.CurrentCount());
        if (apic.IsX2Apic)
        {
            // The page holds the 32-bit ID; the legacy format wants it where xAPIC mode keeps it.
            Put(image, ApicOffset.Id, x2ApicFormat ? apic.X2ApicId : apic.X2ApicId << 24);

            // The ICR needs no fix-up: KVM's kvm_apic_state_fixup (get) copies a 64-bit ICR's high
            // half into ICR2, and the page already keeps it there in both layouts (StoreX2ApicIcr,
            // and the switch into x2APIC mode), the 64-bit one at 0x304 as well.
        }

        return image;
    }

    /// <summary>
    /// KVM_SET_LAPIC onto an APIC whose IA32_APIC_BASE was restored first. In x2APIC mode a 32-bit
    /// format ID must equal the vCPU's (else <see cref="SnapshotFormatException"/>, as KVM's -EINVAL);
    /// the legacy format's ID is replaced silently; LDR is recomputed. LVR is rewritten with the value
    /// this APIC computes. The timer restarts from the saved TMCCT (KVM's rules). Nothing else is
    /// validated, as in KVM: the image is the guest's own state. A full snapshot passes
    /// <paramref name="restoreTimer"/> to resume the timer exactly instead.
    /// </summary>
    /// <exception cref="SnapshotFormatException">The image has the wrong size or a mismatched x2APIC ID.</exception>
    public static void Apply(LocalApic apic, ReadOnlySpan<byte> image, bool x2ApicFormat = true, ApicTimerState? restoreTimer = null)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if (image.Length != Size)
        {
            throw new SnapshotFormatException($"kvm_lapic_state: expected {Size} bytes, got {image.Length}", 0);
        }

        byte[] copy = image.ToArray();
        if (apic.IsX2Apic)
        {
            uint id = Get(copy, ApicOffset.Id);
            if (x2ApicFormat && id != apic.X2ApicId)
            {
                throw new SnapshotFormatException(
                    $"kvm_lapic_state: x2APIC ID 0x{id:x} does not match vCPU {apic.VcpuId} (offset 0x20)", ApicOffset.Id);
            }

            Put(copy, ApicOffset.Id, apic.X2ApicId);
            Put(copy, ApicOffset.Ldr, LocalApic.X2ApicLdr(apic.X2ApicId));
            if (!apic.Config.X2ApicIcrSplit)
            {
                // Intel keeps the x2APIC ICR as one 64-bit value at 0x300; ICR2 keeps the high half
                // too (see LocalApic.StoreX2ApicIcr: the layouts agree on what xAPIC mode sees).
                Put(copy, ApicOffset.Icr + 4, Get(copy, ApicOffset.Icr2));
            }
            else
            {
                // The split (AMD) layout keeps nothing at 0x304; an image from a 64-bit ICR has the
                // high half there too (see Capture), which ICR2 already carries.
                Put(copy, ApicOffset.Icr + 4, 0);
            }
        }

        apic.RestorePage(copy, restoreTimer);
    }

    private static uint Get(ReadOnlySpan<byte> image, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(image[offset..]);

    private static void Put(Span<byte> image, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(image[offset..], value);
}

/// <summary>Malformed saved state: the message names the field and the byte offset.</summary>
public sealed class SnapshotFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public SnapshotFormatException(string message, long offset)
        : base(message) => Offset = offset;

    /// <summary>Creates the exception.</summary>
    public SnapshotFormatException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public SnapshotFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public SnapshotFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The byte offset in the input where the problem is.</summary>
    public long Offset { get; }
}
