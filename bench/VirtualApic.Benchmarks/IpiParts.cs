// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W3's unicast IPI taken apart, on two x2APIC vCPUs (every line hot in the cache), to see where its
/// time goes (docs/performance.md, "Where W3's time goes"). Not part of bench/compare.sh. Each part
/// resets what it leaves behind with a plain page write, which with the loop is in every figure:
/// <c>reset</c> only that write; <c>send</c> the sender's WRMSR to the ICR, through the exit, the router
/// and the target's acceptance; <c>accept</c> the acceptance alone (AcceptInterrupt of a fixed edge
/// message); <c>ack-eoi</c> LocalApic.Acknowledge and EndOfInterrupt; <c>ack-eoi-msr</c> the same with
/// the EOI as the guest's WRMSR; <c>take-eoi-iret</c> Vcpu.Take, the WRMSR EOI and IRET, the target's
/// half of a W3 cycle.
/// </summary>
[MemoryDiagnoser]
public class IpiParts
{
    private const int PerInvoke = 64;
    private const byte Vector = 0x50;
    private const int IrrWord = ApicOffset.Irr + ((Vector >> 5) << 4);

    private VirtualMachine _vm = null!;
    private Vcpu _sender = null!;
    private Vcpu _target = null!;
    private ApicPage _targetPage = null!;
    private int _part;

    private static readonly string[] Parts = ["reset", "send", "accept", "ack-eoi", "ack-eoi-msr", "take-eoi-iret"];

    /// <summary>The part measured.</summary>
    [Params("reset", "send", "accept", "ack-eoi", "ack-eoi-msr", "take-eoi-iret")]
    public string Part { get; set; } = "send";

    /// <summary>
    /// The backend: none, avic (x2APIC MSRs emulated, delivery through the backing page) or x2avic.
    /// Not apicv: a posted interrupt stays in the PIR until the target takes it, which the page write
    /// that resets the send does not undo.
    /// </summary>
    [Params("none", "avic", "x2avic")]
    public string Accel { get; set; } = "none";

    [GlobalSetup]
    public void Setup()
    {
        Guest.Check(Accel != "apicv", "IpiParts resets the IRR by a page write, which a posted interrupt bypasses");
        _vm = new VirtualMachine(new VmOptions { Cpus = 2, Accel = Guest.ParseAccel(Accel) });
        _sender = _vm.Vcpus[0];
        _target = _vm.Vcpus[1];
        _targetPage = _target.Apic.Page;
        _part = Array.IndexOf(Parts, Part);
        Guest.Check(_part >= 0, "Part is one of " + string.Join(", ", Parts));
        Guest.EnterX2Apic(_sender);
        Guest.EnterX2Apic(_target);

        int expected = Part is "ack-eoi" or "ack-eoi-msr" or "take-eoi-iret" ? PerInvoke * Vector : 0;
        Guest.Check(Run() == expected, "every part's vector taken");
        if (Part is "send" or "accept")
        {
            // The part reset the IRR; the acceptance itself is checked once more, outside the loop.
            Guest.Check(_sender.TryWriteMsr(Guest.MsrIcr, (1ul << 32) | Vector), "ICR write");
            Guest.Check(_target.Apic.HighestIrr == Vector, "the IPI reached the target's IRR");
            _targetPage.Write(IrrWord, 0);
        }

        Guest.Check(_target.Apic.HighestIrr < 0 && _target.Apic.HighestIsr < 0, "clean after one round");
        JitWarmup.UntilQuiet(() => Run());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public int Run()
    {
        var sender = _sender;
        var target = _target;
        var apic = target.Apic;
        var page = _targetPage;
        var message = InterruptMessage.Fixed(Vector, 1);
        int acc = 0;
        for (int k = 0; k < PerInvoke; k++)
        {
            switch (_part)
            {
                case 1:
                    sender.TryWriteMsr(Guest.MsrIcr, (1ul << 32) | Vector);
                    page.Write(IrrWord, 0);
                    break;
                case 2:
                    apic.AcceptInterrupt(message);
                    page.Write(IrrWord, 0);
                    break;
                case 3:
                    page.Write(IrrWord, 1u << (Vector & 31));
                    acc += apic.Acknowledge();
                    apic.EndOfInterrupt();
                    break;
                case 4:
                    page.Write(IrrWord, 1u << (Vector & 31));
                    acc += apic.Acknowledge();
                    target.TryWriteMsr(Guest.MsrEoi, 0);
                    break;
                case 5:
                    page.Write(IrrWord, 1u << (Vector & 31));
                    acc += Guest.TakeAndEoiX2(target);
                    break;
                default:
                    page.Write(IrrWord, 0);
                    break;
            }
        }

        return acc;
    }
}
