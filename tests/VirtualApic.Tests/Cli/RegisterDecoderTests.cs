// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using CsCheck;
using VirtualApic.Cli.Decoding;
using VirtualApic.Registers;

namespace VirtualApic.Tests.Cli;

// Expected values come from the register figures: Intel SDM vol. 3A chapter 11 (ICR 11-12 and
// 11-28, LVT 11-8, ESR 11-9, TDCR 11-10, APIC base 11-5, SVR 11-23, MSI 11-24 and 11-25), the
// 82093AA datasheet (RTE), and the Linux/KVM extended destination ID and VT-d remappable-format
// conventions (RTE bits 55:49 and 48, MSI address bits 11:5 and 4).
public class RegisterDecoderTests
{
    private static DecodedField Field(DecodedRegister decoded, string name, int high, int low) =>
        Assert.Single(decoded.Fields, f => f.Name == name && f.HighBit == high && f.LowBit == low);

    private static ulong Extract(ulong value, int high, int low)
    {
        int width = high - low + 1;
        return (value >> low) & (width == 64 ? ulong.MaxValue : (1ul << width) - 1);
    }

    [Theory]
    // ICR: the brief's example, then each field at its boundaries.
    [InlineData(RegisterKind.Icr, 0x0000000300004051ul, "vector", 7, 0, 0x51ul, "vector 0x51, priority class 5")]
    [InlineData(RegisterKind.Icr, 0x0000000300004051ul, "delivery mode", 10, 8, 0ul, "fixed")]
    [InlineData(RegisterKind.Icr, 0x0000000300004051ul, "level", 14, 14, 1ul, "assert")]
    [InlineData(RegisterKind.Icr, 0x0000000300004051ul, "x2APIC destination", 63, 32, 3ul, "APIC ID 3")]
    [InlineData(RegisterKind.Icr, 0x0000000300004051ul, "xAPIC destination", 63, 56, 0ul, "APIC ID 0")]
    [InlineData(RegisterKind.Icr, 0x00000000000000FFul, "vector", 7, 0, 0xFFul, "vector 0xFF, priority class 15")]
    [InlineData(RegisterKind.Icr, 0x000000000000000Ful, "vector", 7, 0, 0x0Ful, "illegal")]
    [InlineData(RegisterKind.Icr, 0x0000000000000010ul, "vector", 7, 0, 0x10ul, "exception vectors")]
    [InlineData(RegisterKind.Icr, 0x0000000000000100ul, "delivery mode", 10, 8, 1ul, "lowest priority")]
    [InlineData(RegisterKind.Icr, 0x0000000000000200ul, "delivery mode", 10, 8, 2ul, "SMI")]
    [InlineData(RegisterKind.Icr, 0x0000000000000300ul, "delivery mode", 10, 8, 3ul, "reserved (0b011)")]
    [InlineData(RegisterKind.Icr, 0x0000000000000400ul, "vector", 7, 0, 0ul, "ignored for NMI")]
    [InlineData(RegisterKind.Icr, 0x0000000000000500ul, "delivery mode", 10, 8, 5ul, "INIT")]
    [InlineData(RegisterKind.Icr, 0x0000000000008500ul, "delivery mode", 10, 8, 5ul, "INIT level de-assert")]
    [InlineData(RegisterKind.Icr, 0x000000000000069Ful, "delivery mode", 10, 8, 6ul, "start-up")]
    [InlineData(RegisterKind.Icr, 0x000000000000069Ful, "vector", 7, 0, 0x9Ful, "0x9F000")]
    [InlineData(RegisterKind.Icr, 0x0000000000000700ul, "delivery mode", 10, 8, 7ul, "reserved (0b111)")]
    [InlineData(RegisterKind.Icr, 0x0000000000000800ul, "destination mode", 11, 11, 1ul, "logical")]
    [InlineData(RegisterKind.Icr, 0x0000000000000000ul, "destination mode", 11, 11, 0ul, "physical")]
    [InlineData(RegisterKind.Icr, 0x0000000000001000ul, "delivery status", 12, 12, 1ul, "send pending")]
    [InlineData(RegisterKind.Icr, 0x0000000000000000ul, "level", 14, 14, 0ul, "de-assert")]
    [InlineData(RegisterKind.Icr, 0x0000000000008000ul, "trigger mode", 15, 15, 1ul, "level")]
    [InlineData(RegisterKind.Icr, 0x0000000000000000ul, "trigger mode", 15, 15, 0ul, "edge")]
    [InlineData(RegisterKind.Icr, 0x0000000000000000ul, "destination shorthand", 19, 18, 0ul, "no shorthand")]
    [InlineData(RegisterKind.Icr, 0x0000000000040000ul, "destination shorthand", 19, 18, 1ul, "self")]
    [InlineData(RegisterKind.Icr, 0x0000000000080000ul, "destination shorthand", 19, 18, 2ul, "all including self")]
    [InlineData(RegisterKind.Icr, 0x00000000000C0000ul, "destination shorthand", 19, 18, 3ul, "all excluding self")]
    [InlineData(RegisterKind.Icr, 0xFF00000000000000ul, "xAPIC destination", 63, 56, 0xFFul, "broadcast (0xFF)")]
    [InlineData(RegisterKind.Icr, 0xFF00000000000000ul, "x2APIC destination", 63, 32, 0xFF000000ul, "APIC ID 4278190080")]
    [InlineData(RegisterKind.Icr, 0xFFFFFFFF00000000ul, "x2APIC destination", 63, 32, 0xFFFFFFFFul, "broadcast (0xFFFFFFFF)")]
    [InlineData(RegisterKind.Icr, 0xFFFFFFFF000C0000ul, "x2APIC destination", 63, 32, 0xFFFFFFFFul, "ignored: the all excluding self shorthand")]
    [InlineData(RegisterKind.Icr, 0x1200000000000800ul, "xAPIC destination", 63, 56, 0x12ul, "cluster model cluster 1, members 0b0010")]
    [InlineData(RegisterKind.Icr, 0x0001000200000800ul, "x2APIC destination", 63, 32, 0x00010002ul, "cluster 0x1, member bitmap 0x0002")]
    // Generic LVT (LINT0/LINT1 layout).
    [InlineData(RegisterKind.Lvt, 0x000100FFul, "vector", 7, 0, 0xFFul, "vector 0xFF")]
    [InlineData(RegisterKind.Lvt, 0x000100FFul, "mask", 16, 16, 1ul, "masked")]
    [InlineData(RegisterKind.Lvt, 0x00000000ul, "mask", 16, 16, 0ul, "not masked")]
    [InlineData(RegisterKind.Lvt, 0x00000100ul, "delivery mode", 10, 8, 1ul, "reserved (0b001)")]
    [InlineData(RegisterKind.Lvt, 0x00000200ul, "delivery mode", 10, 8, 2ul, "SMI")]
    [InlineData(RegisterKind.Lvt, 0x00000400ul, "delivery mode", 10, 8, 4ul, "NMI")]
    [InlineData(RegisterKind.Lvt, 0x00000400ul, "vector", 7, 0, 0ul, "ignored for NMI")]
    [InlineData(RegisterKind.Lvt, 0x00000500ul, "delivery mode", 10, 8, 5ul, "INIT")]
    [InlineData(RegisterKind.Lvt, 0x00000600ul, "delivery mode", 10, 8, 6ul, "reserved (0b110)")]
    [InlineData(RegisterKind.Lvt, 0x00000700ul, "delivery mode", 10, 8, 7ul, "ExtINT")]
    [InlineData(RegisterKind.Lvt, 0x00001000ul, "delivery status", 12, 12, 1ul, "send pending")]
    [InlineData(RegisterKind.Lvt, 0x00000000ul, "input pin polarity", 13, 13, 0ul, "active high")]
    [InlineData(RegisterKind.Lvt, 0x00002000ul, "input pin polarity", 13, 13, 1ul, "active low")]
    [InlineData(RegisterKind.Lvt, 0x00004000ul, "remote IRR", 14, 14, 1ul, "awaits EOI")]
    [InlineData(RegisterKind.Lvt, 0x00008000ul, "trigger mode", 15, 15, 1ul, "level")]
    // LVT timer.
    [InlineData(RegisterKind.LvtTimer, 0x000000EFul, "vector", 7, 0, 0xEFul, "vector 0xEF")]
    [InlineData(RegisterKind.LvtTimer, 0x000000ECul, "timer mode", 18, 17, 0ul, "one-shot")]
    [InlineData(RegisterKind.LvtTimer, 0x00020000ul, "timer mode", 18, 17, 1ul, "periodic")]
    [InlineData(RegisterKind.LvtTimer, 0x00040000ul, "timer mode", 18, 17, 2ul, "TSC-deadline")]
    [InlineData(RegisterKind.LvtTimer, 0x00060000ul, "timer mode", 18, 17, 3ul, "reserved (0b11)")]
    [InlineData(RegisterKind.LvtTimer, 0x00010000ul, "mask", 16, 16, 1ul, "masked")]
    [InlineData(RegisterKind.LvtTimer, 0x00001000ul, "delivery status", 12, 12, 1ul, "send pending")]
    // IOAPIC redirection entry.
    [InlineData(RegisterKind.Rte, 0x0000000000000021ul, "vector", 7, 0, 0x21ul, "vector 0x21")]
    [InlineData(RegisterKind.Rte, 0x0000000000000100ul, "delivery mode", 10, 8, 1ul, "lowest priority")]
    [InlineData(RegisterKind.Rte, 0x0000000000000300ul, "delivery mode", 10, 8, 3ul, "reserved (0b011)")]
    [InlineData(RegisterKind.Rte, 0x0000000000000600ul, "delivery mode", 10, 8, 6ul, "reserved (0b110)")]
    [InlineData(RegisterKind.Rte, 0x0000000000000700ul, "delivery mode", 10, 8, 7ul, "ExtINT")]
    [InlineData(RegisterKind.Rte, 0x0000000000000800ul, "destination mode", 11, 11, 1ul, "logical")]
    [InlineData(RegisterKind.Rte, 0x0000000000001000ul, "delivery status", 12, 12, 1ul, "send pending")]
    [InlineData(RegisterKind.Rte, 0x0000000000002000ul, "polarity", 13, 13, 1ul, "active low")]
    [InlineData(RegisterKind.Rte, 0x0000000000004000ul, "remote IRR", 14, 14, 1ul, "awaits EOI")]
    [InlineData(RegisterKind.Rte, 0x0000000000008000ul, "trigger mode", 15, 15, 1ul, "level")]
    [InlineData(RegisterKind.Rte, 0x0000000000010000ul, "mask", 16, 16, 1ul, "masked")]
    [InlineData(RegisterKind.Rte, 0x0000000000000000ul, "interrupt format", 48, 48, 0ul, "compatibility format")]
    [InlineData(RegisterKind.Rte, 0x0001000000000000ul, "interrupt format", 48, 48, 1ul, "remappable format")]
    [InlineData(RegisterKind.Rte, 0xFFFF000000000800ul, "interrupt format", 48, 48, 1ul, "interrupt index 0xFFFF")]
    [InlineData(RegisterKind.Rte, 0xFFFE000000000000ul, "extended destination", 55, 49, 0x7Ful, "destination 32767")]
    [InlineData(RegisterKind.Rte, 0x0300000000000000ul, "destination", 63, 56, 3ul, "APIC ID 3")]
    [InlineData(RegisterKind.Rte, 0xFF00000000000000ul, "destination", 63, 56, 0xFFul, "broadcast")]
    // MSI address.
    [InlineData(RegisterKind.MsiAddress, 0xFEE03000ul, "destination ID", 19, 12, 3ul, "APIC ID 3")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE03000ul, "address", 31, 20, 0xFEEul, "interrupt message window")]
    [InlineData(RegisterKind.MsiAddress, 0xFEEFF000ul, "destination ID", 19, 12, 0xFFul, "broadcast")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE00FE0ul, "extended destination", 11, 5, 0x7Ful, "bits 14:8")]
    [InlineData(RegisterKind.MsiAddress, 0xFEEFFFE0ul, "extended destination", 11, 5, 0x7Ful, "destination 32767")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE00008ul, "redirection hint", 3, 3, 1ul, "redirectable")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE00000ul, "redirection hint", 3, 3, 0ul, "directed")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE00004ul, "destination mode", 2, 2, 1ul, "logical")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE00010ul, "interrupt format", 4, 4, 1ul, "remappable format")]
    [InlineData(RegisterKind.MsiAddress, 0x12300000ul, "address", 31, 20, 0x123ul, "not an interrupt message address")]
    [InlineData(RegisterKind.MsiAddress, 0xFFFFFF00FEE03000ul, "destination ID bits 31:8", 63, 40, 0xFFFFFFul, "full destination 0xFFFFFF03")]
    // MSI data.
    [InlineData(RegisterKind.MsiData, 0x0000C041ul, "vector", 7, 0, 0x41ul, "vector 0x41")]
    [InlineData(RegisterKind.MsiData, 0x0000C041ul, "trigger mode", 15, 15, 1ul, "level")]
    [InlineData(RegisterKind.MsiData, 0x0000C041ul, "level", 14, 14, 1ul, "assert")]
    [InlineData(RegisterKind.MsiData, 0x00008041ul, "level", 14, 14, 0ul, "de-assert")]
    [InlineData(RegisterKind.MsiData, 0x00004041ul, "level", 14, 14, 1ul, "ignored for edge-triggered")]
    [InlineData(RegisterKind.MsiData, 0x00000100ul, "delivery mode", 10, 8, 1ul, "lowest priority")]
    [InlineData(RegisterKind.MsiData, 0x00000200ul, "delivery mode", 10, 8, 2ul, "SMI")]
    [InlineData(RegisterKind.MsiData, 0x00000300ul, "delivery mode", 10, 8, 3ul, "reserved (0b011)")]
    [InlineData(RegisterKind.MsiData, 0x00000700ul, "delivery mode", 10, 8, 7ul, "ExtINT")]
    // IA32_APIC_BASE.
    [InlineData(RegisterKind.ApicBase, 0xFEE00900ul, "BSP", 8, 8, 1ul, "bootstrap processor")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00000ul, "BSP", 8, 8, 0ul, "application processor")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00900ul, "EN", 11, 11, 1ul, "globally enabled")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00900ul, "EXTD", 10, 10, 0ul, "clear")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00000ul, "mode", 11, 10, 0ul, "disabled")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00400ul, "mode", 11, 10, 1ul, "invalid")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00800ul, "mode", 11, 10, 2ul, "xAPIC")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00C00ul, "mode", 11, 10, 3ul, "x2APIC")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00900ul, "base", 51, 12, 0xFEE00ul, "0xFEE00000, the architectural default")]
    [InlineData(RegisterKind.ApicBase, 0xFEC00800ul, "base", 51, 12, 0xFEC00ul, "0xFEC00000, relocated")]
    [InlineData(RegisterKind.ApicBase, 0x000FFFFFFFFFF000ul, "base", 51, 12, 0xFFFFFFFFFFul, "0xFFFFFFFFFF000")]
    // SVR.
    [InlineData(RegisterKind.Svr, 0x000001FFul, "spurious vector", 7, 0, 0xFFul, "vector 0xFF")]
    [InlineData(RegisterKind.Svr, 0x000001FFul, "APIC software enable", 8, 8, 1ul, "software-enabled")]
    [InlineData(RegisterKind.Svr, 0x000000FFul, "APIC software enable", 8, 8, 0ul, "software-disabled")]
    [InlineData(RegisterKind.Svr, 0x00000000ul, "focus processor checking", 9, 9, 0ul, "enabled")]
    [InlineData(RegisterKind.Svr, 0x00000200ul, "focus processor checking", 9, 9, 1ul, "disabled")]
    [InlineData(RegisterKind.Svr, 0x00001000ul, "suppress EOI broadcast", 12, 12, 1ul, "suppressed")]
    [InlineData(RegisterKind.Svr, 0x00000000ul, "suppress EOI broadcast", 12, 12, 0ul, "broadcast to the IOAPICs")]
    public void Fields_are_extracted_with_their_meaning(
        RegisterKind kind, ulong value, string name, int high, int low, ulong expected, string meaning)
    {
        var field = Field(RegisterDecoder.Decode(kind, value), name, high, low);
        Assert.Equal(expected, field.Value);
        Assert.Contains(meaning, field.Meaning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "send checksum error")]
    [InlineData(1, "receive checksum error")]
    [InlineData(2, "send accept error")]
    [InlineData(3, "receive accept error")]
    [InlineData(4, "redirectable IPI")]
    [InlineData(5, "send illegal vector")]
    [InlineData(6, "received illegal vector")]
    [InlineData(7, "illegal register address")]
    public void Each_ESR_bit_is_its_own_field(int bit, string name)
    {
        var decoded = RegisterDecoder.Decode(RegisterKind.Esr, 1ul << bit);
        var field = Field(decoded, name, bit, bit);
        Assert.Equal(1ul, field.Value);
        Assert.StartsWith("set: ", field.Meaning, StringComparison.Ordinal);
        Assert.Equal("errors: " + name, decoded.Summary);
        Assert.All(decoded.Fields.Where(f => f.LowBit != bit), f => Assert.Equal((0ul, "clear"), (f.Value, f.Meaning)));
    }

    [Theory]
    [InlineData(0x0ul, 2)]
    [InlineData(0x1ul, 4)]
    [InlineData(0x2ul, 8)]
    [InlineData(0x3ul, 16)]
    [InlineData(0x8ul, 32)]
    [InlineData(0x9ul, 64)]
    [InlineData(0xAul, 128)]
    [InlineData(0xBul, 1)]
    [InlineData(0x4ul, 2)] // bit 2 is reserved, not part of the divide value
    [InlineData(0xFul, 1)]
    public void TDCR_divide_value_follows_the_SDM_encoding(ulong value, int divisor)
    {
        var decoded = RegisterDecoder.Decode(RegisterKind.Tdcr, value);
        var field = Field(decoded, "divide value", 3, 0);
        Assert.Equal(value & 0xB, field.Value);
        Assert.StartsWith($"divide by {divisor} ", field.Meaning, StringComparison.Ordinal);
        Assert.StartsWith($"divide by {divisor}", decoded.Summary, StringComparison.Ordinal);
        Assert.Equal((value & 4) != 0, decoded.Fields.Any(f => f.IsReserved && f.LowBit == 2));
    }

    [Theory]
    [InlineData(RegisterKind.Icr, 0x0000000000002000ul, 13, 13, "reserved bits set: 0x2000")]
    [InlineData(RegisterKind.Icr, 0x0000000000010000ul, 17, 16, "reserved bits set: 0x10000")]
    [InlineData(RegisterKind.Icr, 0x0000000000030000ul, 17, 16, "reserved bits set: 0x30000")]
    [InlineData(RegisterKind.Icr, 0x0000000000100000ul, 31, 20, "reserved bits set: 0x100000")]
    [InlineData(RegisterKind.Icr, 0x00000000FFF00000ul, 31, 20, "reserved bits set: 0xFFF00000")]
    [InlineData(RegisterKind.Icr, 0x0000000100000000ul, 55, 32, "reserved bits set: 0x100000000 (xAPIC reading only")]
    [InlineData(RegisterKind.Icr, 0x0080000000000000ul, 55, 32, "reserved bits set: 0x80000000000000 (xAPIC reading only")]
    [InlineData(RegisterKind.Lvt, 0x00000800ul, 11, 11, "reserved bits set: 0x800")]
    [InlineData(RegisterKind.Lvt, 0x00020000ul, 31, 17, "reserved bits set: 0x20000 (bits 18:17 are the timer mode")]
    [InlineData(RegisterKind.Lvt, 0x80000000ul, 31, 17, "reserved bits set: 0x80000000")]
    [InlineData(RegisterKind.Lvt, 0x0000000100000000ul, 63, 32, "reserved bits set: 0x100000000 (the register is 32 bits wide")]
    [InlineData(RegisterKind.LvtTimer, 0x00000100ul, 11, 8, "reserved bits set: 0x100 (the timer entry has no delivery mode")]
    [InlineData(RegisterKind.LvtTimer, 0x00000800ul, 11, 8, "reserved bits set: 0x800")]
    [InlineData(RegisterKind.LvtTimer, 0x00002000ul, 15, 13, "reserved bits set: 0x2000")]
    [InlineData(RegisterKind.LvtTimer, 0x00008000ul, 15, 13, "reserved bits set: 0x8000")]
    [InlineData(RegisterKind.LvtTimer, 0x00080000ul, 31, 19, "reserved bits set: 0x80000")]
    [InlineData(RegisterKind.LvtTimer, 0x8000000000000000ul, 63, 32, "reserved bits set: 0x8000000000000000")]
    [InlineData(RegisterKind.Rte, 0x0000000000020000ul, 47, 17, "reserved bits set: 0x20000")]
    [InlineData(RegisterKind.Rte, 0x0000800000000000ul, 47, 17, "reserved bits set: 0x800000000000")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE00001ul, 1, 0, "reserved bits set: 0x1 (MSI addresses are dword aligned)")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE00002ul, 1, 0, "reserved bits set: 0x2")]
    [InlineData(RegisterKind.MsiAddress, 0x00000001FEE00000ul, 39, 32, "reserved bits set: 0x100000000")]
    [InlineData(RegisterKind.MsiAddress, 0x000000FFFEE00000ul, 39, 32, "reserved bits set: 0xFF00000000")]
    [InlineData(RegisterKind.MsiData, 0x00000800ul, 13, 11, "reserved bits set: 0x800")]
    [InlineData(RegisterKind.MsiData, 0x00002000ul, 13, 11, "reserved bits set: 0x2000")]
    [InlineData(RegisterKind.MsiData, 0x00010000ul, 31, 16, "reserved bits set: 0x10000")]
    [InlineData(RegisterKind.MsiData, 0x80000000ul, 31, 16, "reserved bits set: 0x80000000")]
    [InlineData(RegisterKind.MsiData, 0x0000000100000000ul, 63, 32, "reserved bits set: 0x100000000")]
    [InlineData(RegisterKind.ApicBase, 0x0000000000000001ul, 7, 0, "reserved bits set: 0x1")]
    [InlineData(RegisterKind.ApicBase, 0x0000000000000080ul, 7, 0, "reserved bits set: 0x80")]
    [InlineData(RegisterKind.ApicBase, 0x0000000000000200ul, 9, 9, "reserved bits set: 0x200")]
    [InlineData(RegisterKind.ApicBase, 0x0010000000000000ul, 63, 52, "reserved bits set: 0x10000000000000")]
    [InlineData(RegisterKind.ApicBase, 0x8000000000000000ul, 63, 52, "reserved bits set: 0x8000000000000000")]
    [InlineData(RegisterKind.Svr, 0x00000400ul, 11, 10, "reserved bits set: 0x400")]
    [InlineData(RegisterKind.Svr, 0x00000800ul, 11, 10, "reserved bits set: 0x800")]
    [InlineData(RegisterKind.Svr, 0x00002000ul, 31, 13, "reserved bits set: 0x2000")]
    [InlineData(RegisterKind.Svr, 0x80000000ul, 31, 13, "reserved bits set: 0x80000000")]
    [InlineData(RegisterKind.Svr, 0x0000000100000000ul, 63, 32, "reserved bits set: 0x100000000")]
    [InlineData(RegisterKind.Esr, 0x00000100ul, 31, 8, "reserved bits set: 0x100")]
    [InlineData(RegisterKind.Esr, 0x80000000ul, 31, 8, "reserved bits set: 0x80000000")]
    [InlineData(RegisterKind.Esr, 0x0000000100000000ul, 63, 32, "reserved bits set: 0x100000000")]
    [InlineData(RegisterKind.Tdcr, 0x00000004ul, 2, 2, "reserved bits set: 0x4 (not part of the divide value")]
    [InlineData(RegisterKind.Tdcr, 0x00000010ul, 31, 4, "reserved bits set: 0x10")]
    [InlineData(RegisterKind.Tdcr, 0x80000000ul, 31, 4, "reserved bits set: 0x80000000")]
    [InlineData(RegisterKind.Tdcr, 0x0000000100000000ul, 63, 32, "reserved bits set: 0x100000000")]
    public void Set_reserved_bits_are_flagged(RegisterKind kind, ulong value, int high, int low, string meaning)
    {
        var decoded = RegisterDecoder.Decode(kind, value);
        var field = Field(decoded, DecodedField.ReservedName, high, low);
        Assert.Equal(Extract(value, high, low), field.Value);
        Assert.StartsWith(meaning, field.Meaning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RegisterKind.Icr, 0xFF000000000CDFFFul)]
    [InlineData(RegisterKind.Lvt, 0x0001F7FFul)]
    [InlineData(RegisterKind.LvtTimer, 0x000710FFul)]
    [InlineData(RegisterKind.Rte, 0xFFFF00000001FFFFul)]
    [InlineData(RegisterKind.MsiAddress, 0xFFFFFF00FEEFFFFCul)]
    [InlineData(RegisterKind.MsiData, 0x0000C7FFul)]
    [InlineData(RegisterKind.ApicBase, 0x000FFFFFFFFFFD00ul)]
    [InlineData(RegisterKind.Svr, 0x000013FFul)]
    [InlineData(RegisterKind.Esr, 0x000000FFul)]
    [InlineData(RegisterKind.Tdcr, 0x0000000Bul)]
    public void Every_defined_bit_set_flags_nothing(RegisterKind kind, ulong value)
    {
        var decoded = RegisterDecoder.Decode(kind, value);
        Assert.DoesNotContain(decoded.Fields, f => f.IsReserved);
        Assert.DoesNotContain("reserved bits set", decoded.Summary, StringComparison.Ordinal);
        Assert.NotEqual(0ul, value);
    }

    [Fact]
    public void An_x2APIC_form_ICR_flags_ICR2_bits_for_the_xAPIC_reading_only()
    {
        var decoded = RegisterDecoder.Decode(RegisterKind.Icr, 0xFFFFFFFF000CDFFF);
        var reserved = Assert.Single(decoded.Fields, f => f.IsReserved);
        Assert.Equal((55, 32, 0xFFFFFFul), (reserved.HighBit, reserved.LowBit, reserved.Value));
        Assert.DoesNotContain("reserved bits set", decoded.Summary, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RegisterKind.Icr, 0x0000000300004051ul, "fixed IPI, vector 0x51, physical destination 3, edge, assert, no shorthand")]
    [InlineData(RegisterKind.Icr, 0x0000000000004051ul, "fixed IPI, vector 0x51, physical destination 0, edge, assert, no shorthand")]
    [InlineData(RegisterKind.Icr, 0x0300000000004051ul, "fixed IPI, vector 0x51, physical destination 3 in xAPIC form, 50331648 in x2APIC form, edge, assert, no shorthand")]
    [InlineData(RegisterKind.Icr, 0xFF00000000004851ul, "fixed IPI, vector 0x51, logical destination 0xFF (broadcast) in xAPIC form, 0xFF000000 in x2APIC form, edge, assert, no shorthand")]
    [InlineData(RegisterKind.Icr, 0xFFFFFFFF00004400ul, "NMI IPI, physical destination 4294967295 (broadcast), edge, assert, no shorthand")]
    [InlineData(RegisterKind.Icr, 0x00000000000C4500ul, "INIT IPI, destination field ignored, edge, assert, shorthand all excluding self")]
    [InlineData(RegisterKind.Icr, 0x0000000000088500ul, "INIT level de-assert IPI, destination field ignored, level, de-assert, shorthand all including self")]
    [InlineData(RegisterKind.Icr, 0x000000010000469Ful, "start-up IPI, vector 0x9F (start address 0x9F000), physical destination 1, edge, assert, no shorthand")]
    [InlineData(RegisterKind.Icr, 0x0000000000042030ul, "fixed IPI, vector 0x30, destination field ignored, edge, de-assert, shorthand self; reserved bits set")]
    [InlineData(RegisterKind.Icr, 0x0000000000004130ul, "lowest-priority IPI, vector 0x30, physical destination 0, edge, assert, no shorthand")]
    [InlineData(RegisterKind.Icr, 0x0000000000004700ul, "reserved delivery mode 0b111 IPI, vector 0x00, physical destination 0, edge, assert, no shorthand")]
    [InlineData(RegisterKind.Lvt, 0x00008700ul, "ExtINT, level, active high, not masked")]
    [InlineData(RegisterKind.Lvt, 0x000100FEul, "fixed, vector 0xFE, edge, active high, masked")]
    [InlineData(RegisterKind.Lvt, 0x0000E031ul, "fixed, vector 0x31, level, active low, not masked, remote IRR set")]
    [InlineData(RegisterKind.Lvt, 0x00000400ul, "NMI, edge, active high, not masked")]
    [InlineData(RegisterKind.LvtTimer, 0x000200ECul, "periodic timer, vector 0xEC, not masked")]
    [InlineData(RegisterKind.LvtTimer, 0x000500EFul, "TSC-deadline timer, vector 0xEF, masked")]
    [InlineData(RegisterKind.LvtTimer, 0x00011030ul, "one-shot timer, vector 0x30, masked, send pending")]
    [InlineData(RegisterKind.LvtTimer, 0x00080000ul, "one-shot timer, vector 0x00, not masked; reserved bits set")]
    [InlineData(RegisterKind.Rte, 0x0100000000000021ul, "fixed, vector 0x21, physical destination 1, edge, active high, not masked")]
    [InlineData(RegisterKind.Rte, 0x0102000000000021ul, "fixed, vector 0x21, physical destination 1 (257 with the 15-bit extended destination ID), edge, active high, not masked")]
    [InlineData(RegisterKind.Rte, 0x0F0000000001A930ul, "lowest-priority, vector 0x30, logical destination 0xF, level, active low, masked")]
    [InlineData(RegisterKind.Rte, 0xFF0000000000C061ul, "fixed, vector 0x61, physical destination 255 (broadcast), level, active high, not masked, remote IRR set")]
    [InlineData(RegisterKind.Rte, 0x0001000000002841ul, "remappable format (VT-d), interrupt index 0x8000, vector 0x41, edge, active low, not masked")]
    [InlineData(RegisterKind.Rte, 0x0000000000020000ul, "fixed, vector 0x00, physical destination 0, edge, active high, not masked; reserved bits set")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE03000ul, "physical destination 3, directed")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE0300Cul, "logical destination 0x3, redirectable (lowest priority)")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE01020ul, "physical destination 1 (257 with the 15-bit extended destination ID), directed")]
    [InlineData(RegisterKind.MsiAddress, 0x00000100FEE02000ul, "physical destination 2 (0x102 with KVM 32-bit destination IDs), directed")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE00210ul, "remappable format (VT-d), interrupt index 0x10")]
    [InlineData(RegisterKind.MsiAddress, 0xFEC00000ul, "not an interrupt message address (bits 31:20 = 0xFEC, expected 0xFEE)")]
    [InlineData(RegisterKind.MsiData, 0x00000041ul, "fixed, vector 0x41, edge")]
    [InlineData(RegisterKind.MsiData, 0x0000C041ul, "fixed, vector 0x41, level, assert")]
    [InlineData(RegisterKind.MsiData, 0x00008041ul, "fixed, vector 0x41, level, de-assert")]
    [InlineData(RegisterKind.MsiData, 0x00000400ul, "NMI, edge")]
    [InlineData(RegisterKind.MsiData, 0x00000300ul, "reserved delivery mode 0b011, vector 0x00, edge")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00900ul, "xAPIC mode, BSP, base 0xFEE00000")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00D00ul, "x2APIC mode, BSP, base 0xFEE00000")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00000ul, "APIC disabled, AP, base 0xFEE00000")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00400ul, "invalid mode (EN=0, EXTD=1), AP, base 0xFEE00000")]
    [InlineData(RegisterKind.ApicBase, 0x0000000FFEE00800ul, "xAPIC mode, AP, base 0xFFEE00000")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00901ul, "xAPIC mode, BSP, base 0xFEE00000; reserved bits set")]
    [InlineData(RegisterKind.Svr, 0x000000FFul, "APIC software-disabled, spurious vector 0xFF")]
    [InlineData(RegisterKind.Svr, 0x000011FFul, "APIC software-enabled, spurious vector 0xFF, EOI broadcast suppressed")]
    [InlineData(RegisterKind.Svr, 0x0000033Ful, "APIC software-enabled, spurious vector 0x3F, focus processor checking disabled")]
    [InlineData(RegisterKind.Esr, 0x00000000ul, "no errors")]
    [InlineData(RegisterKind.Esr, 0x00000060ul, "errors: send illegal vector, received illegal vector")]
    [InlineData(RegisterKind.Esr, 0x00000090ul, "errors: redirectable IPI, illegal register address")]
    [InlineData(RegisterKind.Esr, 0x00000101ul, "errors: send checksum error; reserved bits set")]
    [InlineData(RegisterKind.Tdcr, 0x00000003ul, "divide by 16")]
    public void Summary_is_one_line_in_plain_words(RegisterKind kind, ulong value, string summary)
    {
        var decoded = RegisterDecoder.Decode(kind, value);
        Assert.Equal(summary, decoded.Summary);
        Assert.Equal((kind, value), (decoded.Kind, decoded.Value));
    }

    [Theory]
    [InlineData("icr", RegisterKind.Icr)]
    [InlineData("ICR", RegisterKind.Icr)]
    [InlineData("lvt", RegisterKind.Lvt)]
    [InlineData("lvt-lint0", RegisterKind.Lvt)]
    [InlineData("LVT_ERROR", RegisterKind.Lvt)]
    [InlineData("lvt-timer", RegisterKind.LvtTimer)]
    [InlineData("lvt_timer", RegisterKind.LvtTimer)]
    [InlineData("LVT_TIMER", RegisterKind.LvtTimer)]
    [InlineData("LvtTimer", RegisterKind.LvtTimer)]
    [InlineData("rte", RegisterKind.Rte)]
    [InlineData("redirection-entry", RegisterKind.Rte)]
    [InlineData("Redirection_Entry", RegisterKind.Rte)]
    [InlineData("ioredtbl", RegisterKind.Rte)]
    [InlineData("msi-address", RegisterKind.MsiAddress)]
    [InlineData("msi-addr", RegisterKind.MsiAddress)]
    [InlineData("MSI_ADDR", RegisterKind.MsiAddress)]
    [InlineData("msi-data", RegisterKind.MsiData)]
    [InlineData("Msi_Data", RegisterKind.MsiData)]
    [InlineData("apic-base", RegisterKind.ApicBase)]
    [InlineData("apic_base", RegisterKind.ApicBase)]
    [InlineData("IA32_APIC_BASE", RegisterKind.ApicBase)]
    [InlineData("svr", RegisterKind.Svr)]
    [InlineData("ESR", RegisterKind.Esr)]
    [InlineData("Tdcr", RegisterKind.Tdcr)]
    public void Kind_names_and_aliases_parse_case_insensitively(string text, RegisterKind expected)
    {
        Assert.True(RegisterDecoder.TryParseKind(text, out var kind));
        Assert.Equal(expected, kind);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("foo")]
    [InlineData("icr2")]
    [InlineData("msi")]
    [InlineData("lvt timer")]
    [InlineData(" icr")]
    [InlineData("icr ")]
    [InlineData("apic--base")]
    [InlineData("0")]
    [InlineData("3")]
    public void Unknown_kinds_are_rejected(string? text)
    {
        Assert.False(RegisterDecoder.TryParseKind(text, out var kind));
        Assert.Equal(default, kind);
    }

    [Fact]
    public void Each_canonical_kind_name_parses_to_its_kind()
    {
        var kinds = Enum.GetValues<RegisterKind>();
        Assert.Equal(kinds.Length, RegisterDecoder.KindNames.Count);
        for (int i = 0; i < kinds.Length; i++)
        {
            Assert.True(RegisterDecoder.TryParseKind(RegisterDecoder.KindNames[i], out var kind));
            Assert.Equal(kinds[i], kind);
        }
    }

    [Fact]
    public void An_undefined_kind_is_rejected_by_Decode() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RegisterDecoder.Decode((RegisterKind)200, 0));

    public static TheoryData<RegisterKind> AllKinds()
    {
        var data = new TheoryData<RegisterKind>();
        foreach (var kind in Enum.GetValues<RegisterKind>())
        {
            data.Add(kind);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void With_every_bit_set_the_fields_cover_all_64_bits(RegisterKind kind)
    {
        ulong covered = 0;
        foreach (var f in RegisterDecoder.Decode(kind, ulong.MaxValue).Fields)
        {
            covered |= (f.Width == 64 ? ulong.MaxValue : (1ul << f.Width) - 1) << f.LowBit;
        }

        Assert.Equal(ulong.MaxValue, covered);
    }

    [Fact]
    public void Fields_are_ordered_in_range_and_hold_their_bits_for_any_value()
    {
        var values = Gen.OneOf(Gen.ULong, Gen.UInt.Select(u => (ulong)u), Gen.Int[0, 63].Select(b => 1ul << b));
        Gen.Select(Gen.Enum<RegisterKind>(), values).Sample((kind, value) =>
        {
            var fields = RegisterDecoder.Decode(kind, value).Fields;
            for (int i = 0; i < fields.Count; i++)
            {
                var f = fields[i];
                Assert.InRange(f.LowBit, 0, f.HighBit);
                Assert.InRange(f.HighBit, f.LowBit, 63);
                Assert.True(i == 0 || fields[i - 1].LowBit <= f.LowBit, $"{kind} 0x{value:X}: fields out of order at {f.Name}");
                ulong expected = kind == RegisterKind.Tdcr && f.Name == "divide value" ? value & 0xB : Extract(value, f.HighBit, f.LowBit);
                Assert.Equal(expected, f.Value);
                if (f.IsReserved)
                {
                    Assert.NotEqual(0ul, f.Value);
                    Assert.StartsWith($"reserved bits set: 0x{f.Value << f.LowBit:X}", f.Meaning, StringComparison.Ordinal);
                }
            }
        });
    }

    [Fact]
    public void ICR_and_APIC_base_reserved_fields_match_the_existing_register_constants()
    {
        Gen.ULong.Sample(value =>
        {
            ulong icrFlagged = ReservedMask(RegisterDecoder.Decode(RegisterKind.Icr, value), except: (55, 32));
            Assert.Equal(value & Icr.X2ApicReservedBits, icrFlagged);
            ulong baseFlagged = ReservedMask(RegisterDecoder.Decode(RegisterKind.ApicBase, value), except: null);
            Assert.Equal(value & ApicBase.ReservedBits(52, x2ApicSupported: true), baseFlagged);
        });

        static ulong ReservedMask(DecodedRegister decoded, (int High, int Low)? except) => decoded.Fields
            .Where(f => f.IsReserved && (f.HighBit, f.LowBit) != except)
            .Aggregate(0ul, (mask, f) => mask | (f.Value << f.LowBit));
    }

    [Theory]
    [InlineData(RegisterKind.Icr, 0x0000000300004051ul, "ICR 0x0000000300004051: fixed IPI, vector 0x51, physical destination 3, edge, assert, no shorthand")]
    [InlineData(RegisterKind.Tdcr, 0x0000000Bul, "TDCR 0x0000000B: divide by 1")]
    [InlineData(RegisterKind.Lvt, 0x0000000100000000ul, "LVT entry 0x0000000100000000: fixed, vector 0x00, edge, active high, not masked; reserved bits set")]
    [InlineData(RegisterKind.MsiAddress, 0xFEE03000ul, "MSI address 0xFEE03000: physical destination 3, directed")]
    [InlineData(RegisterKind.Rte, 0x21ul, "IOAPIC redirection entry 0x0000000000000021: fixed, vector 0x21, physical destination 0, edge, active high, not masked")]
    [InlineData(RegisterKind.ApicBase, 0xFEE00900ul, "IA32_APIC_BASE 0x00000000FEE00900: xAPIC mode, BSP, base 0xFEE00000")]
    public void ToString_prints_a_header_and_an_aligned_table(RegisterKind kind, ulong value, string header)
    {
        var decoded = RegisterDecoder.Decode(kind, value);
        string text = decoded.ToString();
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        string[] lines = text[..^1].Split('\n');
        Assert.Equal(decoded.Fields.Count + 2, lines.Length);
        Assert.Equal(header, lines[0]);
        Assert.All(lines, line => Assert.Equal(line.TrimEnd(), line));

        string heading = lines[1];
        int fieldColumn = heading.IndexOf("field", StringComparison.Ordinal);
        int valueColumn = heading.IndexOf("value", StringComparison.Ordinal);
        int meaningColumn = heading.IndexOf("meaning", StringComparison.Ordinal);
        Assert.StartsWith("  bits", heading, StringComparison.Ordinal);
        Assert.True(fieldColumn > 0 && valueColumn > fieldColumn && meaningColumn > valueColumn);
        for (int i = 0; i < decoded.Fields.Count; i++)
        {
            var f = decoded.Fields[i];
            string row = lines[i + 2];
            Assert.Equal(f.Bits, row[..fieldColumn].Trim());
            Assert.Equal(f.Name, row[fieldColumn..valueColumn].Trim());
            Assert.Equal(f.FormattedValue, row[valueColumn..meaningColumn].Trim());
            Assert.Equal(f.Meaning, row[meaningColumn..]);
        }
    }

    [Theory]
    [InlineData(12, 12, 1ul, "12", "1")]
    [InlineData(10, 8, 3ul, "10:8", "0b011")]
    [InlineData(18, 17, 2ul, "18:17", "0b10")]
    [InlineData(3, 0, 0xBul, "3:0", "0b1011")]
    [InlineData(7, 0, 0x51ul, "7:0", "0x51")]
    [InlineData(63, 32, 0xFFFFFFFFul, "63:32", "0xFFFFFFFF")]
    public void Fields_print_their_bit_range_and_value(int high, int low, ulong value, string bits, string formatted)
    {
        var field = new DecodedField("x", high, low, value, "m");
        Assert.Equal(bits, field.Bits);
        Assert.Equal(formatted, field.FormattedValue);
        Assert.Equal(high - low + 1, field.Width);
    }
}
