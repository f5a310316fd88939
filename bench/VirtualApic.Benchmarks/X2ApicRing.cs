// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Cpu;
using VirtualApic.Fabric;

namespace VirtualApic.Benchmarks;

/// <summary>
/// The VM of W3's one-thread rings (<see cref="W3IpiUnicast"/>, <see cref="W3IpiToHalted"/>): every
/// vCPU in x2APIC mode, vCPU i sending a fixed IPI (vector 0x50) to vCPU i+1 mod N, 64 IPIs per
/// invocation in a window that moves through the VM.
/// </summary>
public abstract class X2ApicRing
{
    /// <summary>IPIs per invocation.</summary>
    protected const int PerInvoke = 64;

    /// <summary>The IPIs' vector.</summary>
    protected const byte Vector = 0x50;

    private VirtualMachine? _vm;

    /// <summary>The backend.</summary>
    [Params("none", "apicv", "avic", "x2avic")]
    public string Accel { get; set; } = "none";

    /// <summary>vCPUs in the VM (64 is the workload; 1024 checks the cost is constant per target).</summary>
    [Params(64, 1024)]
    public int Cpus { get; set; } = 64;

    /// <summary>The VM's vCPUs, vCPU i with x2APIC ID i.</summary>
    protected Vcpu[] Ring { get; private set; } = [];

    /// <summary>Where the next invocation's window starts.</summary>
    protected int Cursor { get; set; }

    /// <summary>Cleans up.</summary>
    [GlobalCleanup]
    public void Cleanup() => _vm?.Dispose();

    /// <summary>Builds the VM and brings every vCPU into x2APIC mode.</summary>
    protected void BuildRing()
    {
        _vm = new VirtualMachine(new VmOptions { Cpus = Cpus, Accel = Guest.ParseAccel(Accel) });
        Ring = [.. _vm.Vcpus];
        foreach (var v in Ring)
        {
            Guest.EnterX2Apic(v);
        }
    }
}
