// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text;
using VirtualApic.Diagnostics;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>
/// The architectural state of a VM as one comparable line: what any backend must agree on. Built
/// from stored state only (<see cref="StoredState"/>): reading it drains no PIR or inbox and
/// recomputes no PPR, so the run it observes is the run it would have been unobserved.
/// </summary>
/// <remarks>
/// One walk over the state feeds either the text (<see cref="Of"/>, for reports) or a 64-bit hash
/// of the same fields (<see cref="HashOf"/>, for the fuzzer's per-step comparison: formatting the
/// text of every step was half of a campaign's time). Both see exactly the same fields in the
/// same order, so two states hash alike when their texts are equal.
/// </remarks>
public static class StateDigest
{
    /// <summary>Describes every vCPU's guest-visible APIC state and the IOAPIC.</summary>
    public static string Of(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var text = new TextSink(new StringBuilder());
        Walk(vm, ref text);
        return text.Builder.ToString();
    }

    /// <summary>
    /// A 64-bit hash of the fields <see cref="Of"/> prints (same walk, no formatting). Equal states
    /// hash equal; distinct states collide with a probability of about 2^-64 per comparison.
    /// </summary>
    public static ulong HashOf(VirtualMachine vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var hash = new HashSink();
        Walk(vm, ref hash);
        return hash.Value;
    }

    // The named registers as an array: walked once per vCPU per step, so no enumerator per walk.
    private static readonly (string Name, int Offset)[] Registers = [.. ApicRegisterNames.All];

    private static void Walk<TSink>(VirtualMachine vm, ref TSink sink)
        where TSink : struct, IDigestSink
    {
        foreach (var cpu in vm.Vcpus)
        {
            var apic = cpu.Apic;
            // A PV EOI the guest made (its flag cleared) that KVM performs at the vCPU's next exit: the
            // guest cannot see the vector still in service before then, and under an active assist it
            // never gets the flag, so the digest shows the state after that EOI (docs/kvm-configurations.md).
            int owed = cpu.EndedByGuest;
            sink.BeginCpu(cpu);
            foreach (var (name, offset) in Registers)
            {
                if (apic.IsReadable(offset) && offset != ApicOffset.Icr)
                {
                    ulong value = StoredState.RegisterValue(vm, cpu, offset);
                    if (owed >= 0)
                    {
                        value = AfterOwedEoi(vm, cpu, offset, value, owed);
                    }

                    sink.Register(name, offset, value);
                }
            }

            ulong icr = apic.IsX2Apic ? apic.ReadX2ApicIcr() : apic.Page.Read(ApicOffset.Icr);
            sink.CpuEnd(icr, apic.Timer.ReadTscDeadline());
        }

        var ioapic = vm.IoApic.Save(); // one lock for the table and the lines, not two per pin
        for (int pin = 0; pin < Devices.IoApic.PinCount; pin++)
        {
            sink.Pin(pin, ioapic.Entries[pin], (ioapic.Lines & (1u << pin)) != 0);
        }
    }

    private interface IDigestSink
    {
        void BeginCpu(Cpu.Vcpu cpu);

        void Register(string name, int offset, ulong value);

        void CpuEnd(ulong icr, ulong tscDeadline);

        void Pin(int pin, ulong raw, bool line);
    }

    private readonly struct TextSink(StringBuilder builder) : IDigestSink
    {
        public StringBuilder Builder { get; } = builder;

        public void BeginCpu(Cpu.Vcpu cpu) =>
            Builder.Append(CultureInfo.InvariantCulture, $"cpu{cpu.Index}:{cpu.State},if={(cpu.InterruptFlag ? 1 : 0)},nmi={cpu.NmiQueued}/{(cpu.NmiBlocked ? 1 : 0)},ev={cpu.PendingEvents},base={cpu.Apic.ApicBaseMsr:x}");

        public void Register(string name, int offset, ulong value) => Builder.Append(CultureInfo.InvariantCulture, $",{name}={value:x}");

        public void CpuEnd(ulong icr, ulong tscDeadline) => Builder.Append(CultureInfo.InvariantCulture, $",ICR={icr:x},dl={tscDeadline:x};");

        public void Pin(int pin, ulong raw, bool line) => Builder.Append(CultureInfo.InvariantCulture, $"p{pin}={raw:x}/{(line ? 1 : 0)};");
    }

    private struct HashSink : IDigestSink
    {
        public ulong Value { get; private set; }

        public void BeginCpu(Cpu.Vcpu cpu)
        {
            Mix(0xC0 | ((ulong)(uint)cpu.Index << 8));
            Mix((ulong)cpu.State | ((cpu.InterruptFlag ? 1ul : 0) << 16) | ((cpu.NmiBlocked ? 1ul : 0) << 17) | ((ulong)(uint)cpu.NmiQueued << 32));
            Mix((ulong)cpu.PendingEvents);
            Mix(cpu.Apic.ApicBaseMsr);
        }

        // The offset stands for the name (one name per offset), so a register present in one state
        // and not the other changes the hash.
        public void Register(string name, int offset, ulong value)
        {
            Mix((ulong)(uint)offset);
            Mix(value);
        }

        public void CpuEnd(ulong icr, ulong tscDeadline)
        {
            Mix(icr);
            Mix(tscDeadline);
        }

        public void Pin(int pin, ulong raw, bool line)
        {
            Mix(raw);
            Mix(line ? 1ul : 0);
        }

        // A multiply-xorshift step (the constants of SplitMix64's finalizer).
        private void Mix(ulong v)
        {
            ulong h = (Value ^ v) * 0xBF58476D1CE4E5B9ul;
            h ^= h >> 31;
            Value = (h * 0x94D049BB133111EBul) ^ (h >> 29);
        }
    }

    private static ulong AfterOwedEoi(VirtualMachine vm, Cpu.Vcpu cpu, int offset, ulong value, int owed)
    {
        var apic = cpu.Apic;
        if (offset == ApicOffset.Isr + ((owed >> 5) << 4))
        {
            return value & ~(1ul << (owed & 31));
        }

        if (offset is not (ApicOffset.Ppr or ApicOffset.Apr) || (offset == ApicOffset.Apr && apic.Config.Profile.ArbitrationPriorityReadsZero))
        {
            return value;
        }

        int next = -1;
        for (int v = owed - 1; v >= 0 && next < 0; v--)
        {
            next = apic.Page.TestVector(ApicOffset.Isr, v) ? v : -1;
        }

        uint tpr = apic.Page.Read(ApicOffset.Tpr);
        uint isrClass = next < 0 ? 0 : (uint)next & 0xF0;
        if (offset == ApicOffset.Ppr)
        {
            return (tpr & 0xF0) >= isrClass ? tpr & 0xFF : isrClass;
        }

        // APR (SDM 11.8.3 / P6), as StoredState computes it, with the owed vector out of service.
        int irrv = -1;
        for (int i = 7; i >= 0 && irrv < 0; i--)
        {
            uint w = StoredState.PendingWord(vm, cpu, i);
            irrv = w == 0 ? -1 : (i << 5) + 31 - System.Numerics.BitOperations.LeadingZeroCount(w);
        }

        uint irrClass = irrv < 0 ? 0 : (uint)irrv & 0xF0;
        return (tpr & 0xF0) >= irrClass && (tpr & 0xF0) > isrClass ? tpr & 0xFF : Math.Max(tpr & 0xF0, Math.Max(irrClass, isrClass));
    }
}
