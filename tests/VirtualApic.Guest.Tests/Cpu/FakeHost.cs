// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Cpu;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>A scripted <see cref="ICpuHost"/>: records what the CPU asks and answers from tables the test fills.</summary>
internal sealed class FakeHost : ICpuHost
{
    public HashSet<ulong> MmioPages { get; } = [];

    public List<(ulong Address, ulong Value, int Size)> MmioWrites { get; } = [];

    public Dictionary<ulong, ulong> MmioValues { get; } = [];

    public List<(ushort Port, uint Value, int Size)> PortWrites { get; } = [];

    public Dictionary<ushort, uint> PortValues { get; } = [];

    public Dictionary<uint, ulong> Msrs { get; } = [];

    public Queue<CpuEvent> Events { get; } = new();

    public List<bool> InterruptFlagChanges { get; } = [];

    public List<bool> Irets { get; } = [];

    public List<bool> TakeEventCalls { get; } = [];

    public int Halts { get; private set; }

    public int Hypercalls { get; private set; }

    public ulong Tsc { get; set; } = 1000;

    public ulong Cr8 { get; set; }

    /// <summary>When set, an interrupt is offered only while IF = 1 (as an APIC does); NMIs always.</summary>
    public bool RespectInterruptFlag { get; set; } = true;

    public X86Cpu? Cpu { get; set; }

    /// <summary>Called on every port write (for example to request a yield from inside a host call).</summary>
    public Action<ushort, uint>? OnPortOut { get; set; }

    public bool IsMmioPage(ulong physicalAddress) => MmioPages.Contains(physicalAddress & ~0xFFFUL);

    public ulong MmioRead(ulong physicalAddress, int size) => MmioValues.TryGetValue(physicalAddress, out ulong v) ? v : 0;

    public void MmioWrite(ulong physicalAddress, ulong value, int size) => MmioWrites.Add((physicalAddress, value, size));

    public uint PortIn(ushort port, int size) => PortValues.TryGetValue(port, out uint v) ? v : 0xFFFFFFFF;

    public void PortOut(ushort port, uint value, int size)
    {
        PortWrites.Add((port, value, size));
        OnPortOut?.Invoke(port, value);
    }

    public bool TryReadMsr(uint msr, out ulong value) => Msrs.TryGetValue(msr, out value);

    public bool TryWriteMsr(uint msr, ulong value)
    {
        if (!Msrs.ContainsKey(msr))
        {
            return false;
        }

        Msrs[msr] = value;
        return true;
    }

    public void Cpuid(uint leaf, uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        eax = leaf + 1;
        ebx = subleaf + 2;
        ecx = 0x1234;
        edx = 0x5678;
    }

    public ulong ReadTsc() => Tsc;

    public bool TryWriteCr8(ulong value)
    {
        Cr8 = value;
        return true;
    }

    public ulong ReadCr8() => Cr8;

    public void InterruptFlagChanged(bool interruptFlag) => InterruptFlagChanges.Add(interruptFlag);

    public void Iret(bool interruptFlagAfter)
    {
        Irets.Add(interruptFlagAfter);
        NmiBlocked = false;
    }

    /// <summary>NMIs are blocked from delivery until the next IRET (SDM 6.7.1), as the library models it.</summary>
    public bool NmiBlocked { get; private set; }

    public CpuEvent TakeEvent(bool interruptsEnabled)
    {
        TakeEventCalls.Add(interruptsEnabled);
        if (Events.Count == 0)
        {
            return CpuEvent.None;
        }

        var e = Events.Peek();
        if ((e.Kind == CpuEventKind.Interrupt && RespectInterruptFlag && !interruptsEnabled) || (e.Kind == CpuEventKind.Nmi && NmiBlocked))
        {
            return CpuEvent.None;
        }

        if (e.Kind == CpuEventKind.Nmi)
        {
            NmiBlocked = true;
        }

        return Events.Dequeue();
    }

    public void Halt() => Halts++;

    public void Hypercall(Span<ulong> registers)
    {
        Hypercalls++;
        registers[0] = registers[3] + registers[1];
    }
}
