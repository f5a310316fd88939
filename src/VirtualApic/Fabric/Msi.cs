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

    /// <summary>Decodes an MSI into an interrupt message (KVM <c>kvm_set_msi_irq</c>); level is always asserted.</summary>
    public static InterruptMessage Decode(ulong address, uint data, bool extendedDestinationId)
    {
        uint destination = (uint)(address >> 12) & 0xFF;
        if (extendedDestinationId)
        {
            destination |= ((uint)(address >> 5) & 0x7F) << 8;
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

    /// <summary>Encodes a physical or logical MSI address (the inverse of <see cref="Decode"/> for the address fields).</summary>
    public static ulong EncodeAddress(uint destination, bool logical = false, bool redirectionHint = false, bool extendedDestinationId = false) =>
        WindowBase | ((ulong)(destination & 0xFF) << 12)
        | (extendedDestinationId ? (ulong)((destination >> 8) & 0x7F) << 5 : 0)
        | (redirectionHint ? 1ul << 3 : 0) | (logical ? 1ul << 2 : 0);
}
