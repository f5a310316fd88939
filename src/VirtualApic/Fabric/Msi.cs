// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Registers;

namespace VirtualApic.Fabric;

/// <summary>
/// The x86 MSI address/data format (SDM vol. 3A 11.11): address 0xFEE in bits 31:20, destination ID
/// 19:12, redirection hint 3, destination mode 2; data vector 7:0, delivery mode 10:8, level 14,
/// trigger 15. With the extended destination ID (a hypervisor convention for more than 255 CPUs),
/// address bits 11:5 are destination bits 14:8.
/// </summary>
public static class Msi
{
    /// <summary>The MSI window base (0xFEE00000) and size.</summary>
    public const ulong WindowBase = 0xFEE0_0000, WindowSize = 0x10_0000;

    /// <summary>Whether <paramref name="address"/> is an MSI address (bits 31:20 = 0xFEE, no high bits).</summary>
    public static bool IsMsiAddress(ulong address) => address - WindowBase < WindowSize;

    /// <summary>
    /// Whether <paramref name="address"/> is an MSI address when the VM uses 32-bit destination IDs
    /// (<see cref="X2ApicApiFlags.Use32BitIds"/>): address-lo in the window, address-hi (bits 63:32)
    /// free to carry destination bits 31:8 but with its bits 7:0 clear (KVM <c>kvm_msi_route_invalid</c>).
    /// </summary>
    public static bool IsMsiAddress(ulong address, bool use32BitIds) =>
        use32BitIds ? IsMsiAddress(address & 0xFFFF_FFFF) && (address & 0xFF_0000_0000) == 0 : IsMsiAddress(address);

    /// <summary>Decodes an MSI into an interrupt message (KVM <c>kvm_set_msi_irq</c>); level is always asserted.</summary>
    public static InterruptMessage Decode(ulong address, uint data, bool extendedDestinationId) =>
        Decode(address, data, extendedDestinationId, use32BitIds: false);

    /// <summary>
    /// Decodes an MSI into an interrupt message; with <paramref name="use32BitIds"/> address-hi bits
    /// 31:8 are destination bits 31:8 (KVM <c>x86_msi_msg_get_destid</c> with <c>x2apic_format</c>).
    /// </summary>
    public static InterruptMessage Decode(ulong address, uint data, bool extendedDestinationId, bool use32BitIds)
    {
        uint destination = (uint)(address >> 12) & 0xFF;
        if (extendedDestinationId)
        {
            destination |= ((uint)(address >> 5) & 0x7F) << 8;
        }

        if (use32BitIds)
        {
            destination |= (uint)(address >> 32) & 0xFFFF_FF00;
        }

        return new InterruptMessage(
            Vector: (byte)data,
            DeliveryMode: (DeliveryMode)((data >> 8) & 7),
            DestinationMode: (address & (1 << 2)) != 0 ? DestinationMode.Logical : DestinationMode.Physical,
            Destination: destination,
            TriggerMode: (data & (1 << 15)) != 0 ? TriggerMode.Level : TriggerMode.Edge,
            Level: true,
            Shorthand: DestinationShorthand.None,
            Source: InterruptSource.Msi,
            SourceVcpu: -1,
            RedirectionHint: (address & (1 << 3)) != 0);
    }

    /// <summary>
    /// Encodes an MSI address for a VM with 32-bit destination IDs: destination bits 7:0 in address-lo
    /// bits 19:12, bits 31:8 in address-hi bits 31:8 (what a VMM puts in a KVM MSI route).
    /// </summary>
    public static ulong EncodeAddress32(uint destination, bool logical = false, bool redirectionHint = false) =>
        EncodeAddress(destination & 0xFF, logical, redirectionHint) | ((ulong)(destination & 0xFFFF_FF00) << 32);

    /// <summary>Encodes a physical or logical MSI address (the inverse of <see cref="Decode(ulong, uint, bool)"/> for the address fields).</summary>
    public static ulong EncodeAddress(uint destination, bool logical = false, bool redirectionHint = false, bool extendedDestinationId = false) =>
        WindowBase | ((ulong)(destination & 0xFF) << 12)
        | (extendedDestinationId ? (ulong)((destination >> 8) & 0x7F) << 5 : 0)
        | (redirectionHint ? 1ul << 3 : 0) | (logical ? 1ul << 2 : 0);
}
