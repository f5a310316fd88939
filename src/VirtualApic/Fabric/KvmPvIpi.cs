// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Fabric;

/// <summary>
/// KVM's paravirtual multicast IPI, the hypercall <c>KVM_HC_SEND_IPI</c> (lapic.c
/// <c>kvm_pv_send_ipi</c>, <c>__pv_send_ipi</c>): one VMCALL/VMMCALL sends the same IPI to up to 128
/// physical APIC IDs given as two bitmaps above a base ID, without an ICR write per target.
/// </summary>
/// <remarks>
/// The rules follow KVM: an ICR with a logical destination mode or a shorthand is refused with
/// -KVM_EINVAL; each bitmap covers <c>cluster</c> IDs (64 for a 64-bit caller, 32 otherwise) starting
/// at <c>min</c> and at <c>min + cluster</c> (32-bit arithmetic, so the second base wraps like KVM's
/// <c>u32 min</c>); IDs above the map's maximum are ignored; each present target gets the message
/// through the normal acceptance path (<c>kvm_apic_set_irq</c>) and the result is the number of
/// APICs that accepted it.
/// </remarks>
public static class KvmPvIpi
{
    /// <summary>The hypercall number, <c>KVM_HC_SEND_IPI</c> (RAX).</summary>
    public const ulong HypercallNumber = 10;

    /// <summary>-KVM_EINVAL, the result for an ICR with a logical destination or a shorthand.</summary>
    public const long InvalidArgument = -22;

    private const ulong DestinationModeBit = 1ul << 11;
    private const ulong ShorthandMask = 3ul << 18;

    /// <summary>Sends the IPI described by <paramref name="icr"/> to every physical APIC ID whose bit is set.</summary>
    /// <param name="router">The VM's APIC bus.</param>
    /// <param name="sourceVcpu">The calling vCPU's index.</param>
    /// <param name="bitmapLow">a0: IDs <paramref name="min"/> .. <paramref name="min"/> + cluster - 1.</param>
    /// <param name="bitmapHigh">a1: the next cluster of IDs.</param>
    /// <param name="min">a2: the APIC ID of bit 0 of <paramref name="bitmapLow"/>.</param>
    /// <param name="icr">a3: vector, delivery mode, level and trigger mode as in an ICR.</param>
    /// <param name="longMode">Whether the caller runs in 64-bit mode (64-bit bitmaps; 32 bits otherwise).</param>
    /// <returns>The number of APICs that accepted the IPI, or <see cref="InvalidArgument"/>.</returns>
    public static long Send(InterruptRouter router, int sourceVcpu, ulong bitmapLow, ulong bitmapHigh, uint min, ulong icr, bool longMode)
    {
        ArgumentNullException.ThrowIfNull(router);
        if ((icr & (DestinationModeBit | ShorthandMask)) != 0)
        {
            return InvalidArgument;
        }

        var decoded = new Icr(icr);
        var message = new InterruptMessage(
            decoded.Vector, decoded.DeliveryMode, DestinationMode.Physical, 0, decoded.TriggerMode, decoded.Level,
            DestinationShorthand.None, InterruptSource.Ipi, sourceVcpu);
        int cluster = longMode ? 64 : 32;
        if (!longMode)
        {
            bitmapLow &= uint.MaxValue;
            bitmapHigh &= uint.MaxValue;
        }

        var map = router.Map;
        long count = SendCluster(map, message, bitmapLow, min, cluster);
        count += SendCluster(map, message, bitmapHigh, unchecked(min + (uint)cluster), cluster);
        return count;
    }

    private static long SendCluster(ApicMap map, in InterruptMessage message, ulong bitmap, uint min, int cluster)
    {
        if (min > (uint)map.MaxId)
        {
            return 0;
        }

        // Only the bits that name an ID up to the map's maximum count (KVM bounds the bit walk the same way).
        int bits = (int)Math.Min((ulong)cluster, (ulong)map.MaxId - min + 1);
        if (bits < 64)
        {
            bitmap &= (1ul << bits) - 1;
        }

        long count = 0;
        while (bitmap != 0)
        {
            int i = BitOperations.TrailingZeroCount(bitmap);
            bitmap &= bitmap - 1;
            if (map.Physical(min + (uint)i) is { } target && target.AcceptInterrupt(message))
            {
                count++;
            }
        }

        return count;
    }
}
