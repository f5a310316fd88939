// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Numerics;
using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Time;

namespace VirtualApic.Tests.Support;

/// <summary>Builders and probes shared by the local APIC tests.</summary>
internal static class TestApic
{
    /// <summary>SVR with the APIC software-enabled and spurious vector 0xFF.</summary>
    public const uint SvrEnabled = 0x1FF;

    public const ulong XApicBase = ApicBase.DefaultAddress | ApicBase.EnableBit;
    public const ulong X2ApicBase = ApicBase.DefaultAddress | ApicBase.EnableBit | ApicBase.ExtdBit;
    public const ulong DisabledBase = ApicBase.DefaultAddress;

    public static ApicProfile Profile(string name) =>
        ApicProfile.TryParse(name, out var p) ? p : throw new ArgumentException($"unknown profile {name}", nameof(name));

    /// <summary>
    /// A local APIC in <paramref name="mode"/>, software-enabled unless told otherwise, with a
    /// <see cref="RecordingHost"/> and a <see cref="RecordingCpu"/>.
    /// </summary>
    public static LocalApic Create(
        ApicMode mode = ApicMode.XApic,
        ApicConfig? config = null,
        int id = 0,
        bool bsp = true,
        bool softwareEnabled = true,
        VirtualClock? clock = null)
    {
        config ??= new ApicConfig();
        var apic = new LocalApic(id, bsp, config, clock ?? new VirtualClock())
        {
            Host = new RecordingHost(),
            Cpu = new RecordingCpu(),
        };
        ulong bspBit = bsp ? ApicBase.BspBit : 0;
        if (softwareEnabled)
        {
            Assert.True(apic.WriteRegister(ApicOffset.Svr, SvrEnabled));
        }

        switch (mode)
        {
            case ApicMode.XApic:
                break;
            case ApicMode.X2Apic:
                Assert.True(apic.SetApicBase(X2ApicBase | bspBit, hostInitiated: false));
                break;
            case ApicMode.Disabled:
                Assert.True(apic.SetApicBase(DisabledBase | bspBit, hostInitiated: false));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode));
        }

        return apic;
    }

    public static RecordingHost Host(this LocalApic apic) => (RecordingHost)apic.Host;

    public static RecordingCpu RecordingCpu(this LocalApic apic) => (RecordingCpu)apic.Cpu;

    /// <summary>Accepts a fixed interrupt from a device.</summary>
    public static bool Raise(this LocalApic apic, byte vector, TriggerMode trigger = TriggerMode.Edge) =>
        apic.AcceptInterrupt(InterruptMessage.Fixed(vector, trigger: trigger));

    /// <summary>Raises and acknowledges <paramref name="vector"/>, asserting it is the one taken.</summary>
    public static void PutInService(this LocalApic apic, byte vector, TriggerMode trigger = TriggerMode.Edge)
    {
        Assert.True(apic.Raise(vector, trigger));
        Assert.Equal(vector, apic.Acknowledge());
    }

    /// <summary>
    /// Raises <paramref name="vector"/> from the calling thread, a non-owner of the IRR, and asserts
    /// the path of an inboxed delivery: in the inbox and not the IRR until an evaluation folds it
    /// in, then acknowledged from the IRR into the ISR with plain updates.
    /// </summary>
    public static void AssertInboxedUntilEvaluated(this LocalApic apic, byte vector)
    {
        Assert.True(apic.Raise(vector));

        Assert.True(apic.IsInboxed(vector));
        Assert.False(apic.IrrHas(vector));
        Assert.Equal(vector, apic.PendingVector());
        Assert.True(apic.IrrHas(vector));
        Assert.False(apic.IsInboxed(vector));
        Assert.Equal(vector, apic.Acknowledge());
        Assert.False(apic.IrrHas(vector));
        Assert.True(apic.IsrHas(vector));
    }

    public static bool IrrHas(this LocalApic apic, int vector) => apic.Page.TestVector(ApicOffset.Irr, vector);

    public static bool IsrHas(this LocalApic apic, int vector) => apic.Page.TestVector(ApicOffset.Isr, vector);

    public static bool TmrHas(this LocalApic apic, int vector) => apic.Page.TestVector(ApicOffset.Tmr, vector);

    /// <summary>A register read through the guest path of the current mode (MMIO or RDMSR); asserts it succeeds.</summary>
    public static uint Read(this LocalApic apic, int offset)
    {
        if (apic.IsX2Apic)
        {
            Assert.True(apic.TryReadX2ApicMsr(ApicOffset.ToMsr(offset), out ulong v), $"RDMSR 0x{ApicOffset.ToMsr(offset):x} faulted");
            return (uint)v;
        }

        Assert.True(apic.TryReadRegister(offset, 4, out uint value), $"read of 0x{offset:x} failed");
        return value;
    }

    /// <summary>A register write through the guest path of the current mode; returns false for #GP (x2APIC).</summary>
    public static bool Write(this LocalApic apic, int offset, uint value)
    {
        if (apic.IsX2Apic)
        {
            return apic.TryWriteX2ApicMsr(ApicOffset.ToMsr(offset), value);
        }

        apic.MmioWrite(offset, value, 4);
        return true;
    }

    /// <summary>Highest vector in a 256-bit page register, by a plain scan of the page bits.</summary>
    public static int ScanHighest(ApicPage page, int regBase)
    {
        for (int i = 7; i >= 0; i--)
        {
            uint w = page.Read(regBase + (i << 4));
            if (w != 0)
            {
                return (i << 5) + 31 - BitOperations.LeadingZeroCount(w);
            }
        }

        return -1;
    }

    /// <summary>Population count of a 256-bit page register.</summary>
    public static int ScanCount(ApicPage page, int regBase)
    {
        int n = 0;
        for (int i = 0; i < 8; i++)
        {
            n += BitOperations.PopCount(page.Read(regBase + (i << 4)));
        }

        return n;
    }

    /// <summary>The PPR the SDM (11.8.3.1) and KVM <c>__apic_update_ppr</c> define from TPR and the highest ISR vector.</summary>
    public static uint ExpectedPpr(uint tpr, int highestIsr)
    {
        uint isrClass = highestIsr < 0 ? 0 : (uint)highestIsr & 0xF0;
        return (tpr & 0xF0) >= isrClass ? tpr & 0xFF : isrClass;
    }
}
