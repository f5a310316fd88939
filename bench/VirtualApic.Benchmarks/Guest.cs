// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Benchmarks;

/// <summary>Guest-side set-up steps shared by the workloads (done outside the timed region).</summary>
internal static class Guest
{
    public const uint MsrEoi = 0x80B;
    public const uint MsrSvr = 0x80F;
    public const uint MsrIcr = 0x830;

    /// <summary>ICR destination mode bit (logical).</summary>
    public const ulong IcrLogical = 1ul << 11;

    /// <summary>ICR shorthand "all excluding self" (bits 19:18 = 11b).</summary>
    public const ulong IcrAllExcludingSelf = 3ul << 18;

    public static AccelKind ParseAccel(string name) =>
        AccelNames.TryParse(name, out var kind)
            ? kind
            : throw new ArgumentOutOfRangeException(nameof(name), name, "accel must be one of " + string.Join(", ", AccelNames.Names));

    /// <summary>Switches a vCPU to x2APIC mode (WRMSR IA32_APIC_BASE) and software-enables it (SVR 0x1FF), IF=1.</summary>
    public static void EnterX2Apic(Vcpu vcpu)
    {
        Check(vcpu.TryWriteMsr(ApicBase.Msr, vcpu.Apic.ApicBaseMsr | ApicBase.ExtdBit), "x2APIC switch");
        Check(vcpu.Apic.IsX2Apic, "x2APIC mode");
        Check(vcpu.TryWriteMsr(MsrSvr, 0x1FF), "SVR write");
        vcpu.Sti();
    }

    /// <summary>Software-enables a vCPU's APIC in xAPIC mode (SVR 0x1FF through the MMIO window), IF=1.</summary>
    public static void EnableXApic(Vcpu vcpu)
    {
        vcpu.MmioWrite(vcpu.Apic.BaseAddress + ApicOffset.Svr, 0x1FF, 4);
        Check(vcpu.Apic.IsSoftwareEnabled, "SVR write");
        vcpu.Sti();
    }

    /// <summary>The guest side of one interrupt: take it (INTA), EOI by WRMSR 0x80B, IRET. Returns the vector.</summary>
    public static int TakeAndEoiX2(Vcpu vcpu)
    {
        var e = vcpu.Take();
        vcpu.TryWriteMsr(MsrEoi, 0);
        vcpu.Iret();
        return e.Kind == GuestEventKind.Vector ? e.Vector : -1;
    }

    public static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException("benchmark set-up check failed: " + what);
        }
    }
}
