// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Core;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Benchmarks;

/// <summary>
/// W1 fixed-cycle on one local APIC, the workload of bench/baseline/w1-floor.c: accept a fixed edge
/// interrupt (vector cycling 0x20..0xFF), find the highest deliverable vector, acknowledge it, EOI.
/// One operation = one cycle; each invocation runs the 224 vectors once, as the floor's loop does.
/// </summary>
[MemoryDiagnoser]
public class W1FixedCycle
{
    private const int Vectors = 0x100 - 0x20;

    private VirtualMachine _vm = null!;
    private LocalApic _apic = null!;

    /// <summary>
    /// How the IRR is updated: <c>locked</c>, the default (any thread may deliver, locked
    /// instructions); <c>bound</c>, the vCPU bound to this thread (plain owner updates, an inbox
    /// for other threads); <c>one-thread</c>, a one-thread VMM (VmOptions.ConcurrentDelivery = false).
    /// </summary>
    [Params("locked", "bound", "one-thread")]
    public string Irr { get; set; } = "locked";

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = 1, Accel = AccelKind.None, ConcurrentDelivery = Irr != "one-thread" });
        var vcpu = _vm.Vcpus[0];
        _apic = vcpu.Apic;
        Guest.EnableXApic(vcpu);
        Guest.Check(_apic.Tpr == 0, "TPR 0");
        ApicLevelXApic();
        Guest.Check(_apic.HighestIsr < 0 && _apic.HighestIrr < 0, "clean after one round");
        JitWarmup.UntilQuiet(() => ApicLevelXApic());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    /// <summary>
    /// The floor's shape through the library's APIC-level API, xAPIC mode, no backend:
    /// AcceptInterrupt, PendingVector, Acknowledge, WriteRegister(EOI).
    /// </summary>
    [Benchmark(OperationsPerInvoke = Vectors)]
    public int ApicLevelXApic()
    {
        var apic = _apic;
        if (Irr == "bound")
        {
            apic.BindOwnerToCurrentThread(); // the benchmark thread is the vCPU's thread
        }

        int acc = 0;
        for (int v = 0x20; v <= 0xFF; v++)
        {
            apic.AcceptInterrupt(InterruptMessage.Fixed((byte)v));
            int p = apic.PendingVector();
            if (p != v)
            {
                throw new InvalidOperationException("pending != v");
            }

            apic.Acknowledge(p);
            apic.WriteRegister(ApicOffset.Eoi, 0);
            acc += p;
        }

        return acc;
    }
}

/// <summary>
/// W1 under each backend: the same cycle with the EOI as the guest's WRMSR 0x80B in x2APIC mode,
/// through the vCPU and so through the backend (emulated MSR exit, APICv EOI virtualization,
/// AVIC/x2AVIC accelerated EOI); acceptance goes through the backend's vector delivery (IRR or
/// posted-interrupt descriptor). Under plain AVIC x2APIC mode inhibits acceleration (as KVM does).
/// </summary>
[MemoryDiagnoser]
public class W1Backend
{
    private const int Vectors = 0x100 - 0x20;

    private VirtualMachine _vm = null!;
    private LocalApic _apic = null!;
    private Vcpu _vcpu = null!;

    /// <summary>The backend.</summary>
    [Params("none", "apicv", "avic", "x2avic")]
    public string Accel { get; set; } = "none";

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = 1, Accel = Guest.ParseAccel(Accel) });
        _vcpu = _vm.Vcpus[0];
        _apic = _vcpu.Apic;
        Guest.EnterX2Apic(_vcpu);
        VcpuLevelX2Apic();
        Guest.Check(_apic.HighestIsr < 0 && _apic.HighestIrr < 0, "clean after one round");
        JitWarmup.UntilQuiet(() => VcpuLevelX2Apic());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    /// <summary>Bind the vCPU to the benchmark thread (its own thread delivering to itself).</summary>
    [Params(false, true)]
    public bool Bound { get; set; }

    /// <summary>AcceptInterrupt, PendingVector, Acknowledge, vcpu.TryWriteMsr(0x80B, 0).</summary>
    [Benchmark(OperationsPerInvoke = Vectors)]
    public int VcpuLevelX2Apic()
    {
        var apic = _apic;
        var vcpu = _vcpu;
        if (Bound)
        {
            vcpu.BindToCurrentThread();
        }

        int acc = 0;
        for (int v = 0x20; v <= 0xFF; v++)
        {
            apic.AcceptInterrupt(InterruptMessage.Fixed((byte)v));
            int p = apic.PendingVector();
            if (p != v)
            {
                throw new InvalidOperationException("pending != v");
            }

            apic.Acknowledge(p);
            vcpu.TryWriteMsr(Guest.MsrEoi, 0);
            acc += p;
        }

        return acc;
    }
}
