// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using VirtualApic.Fabric;
using VirtualApic.Guest.Boot;
using VirtualApic.Guest.Kut;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform;

namespace VirtualApic.Benchmarks;

/// <summary>
/// The guest engine's speed on real kvm-unit-tests code: boots apic.flat as unittests.cfg's
/// <c>[x2apic]</c> section does and runs a fixed budget of guest instructions (boot, setup_vm, the
/// first tests and the NMI ping-pongs). One operation is one guest instruction, so the mean is the
/// time per instruction; guest instructions per second = 1e9 / mean (ns).
/// </summary>
[MemoryDiagnoser]
public class GuestInstructions
{
    /// <summary>Guest instructions per invocation.</summary>
    public const int Budget = 20_000_000;

    private MultibootImage? _image;

    /// <summary>The backend.</summary>
    [Params(AccelKind.None, AccelKind.X2Avic)]
    public AccelKind Accel { get; set; }

    /// <summary>Finds apic.flat ($VAPIC_KUT_DIR or ../shared beside the repository).</summary>
    [GlobalSetup]
    public void Setup()
    {
        string dir = KutData.Locate(AppContext.BaseDirectory, out string looked)
            ?? throw new InvalidOperationException($"kvm-unit-tests binaries not found: looked at {looked}");
        _image = MultibootImage.FromFile(Path.Combine(dir, "apic.flat"));
    }

    /// <summary>Boots and runs <see cref="Budget"/> instructions.</summary>
    [Benchmark(OperationsPerInvoke = Budget)]
    public long ApicFlatX2Apic()
    {
        using var machine = new GuestMachine(_image!, new GuestMachineOptions
        {
            Cpus = 2,
            CpuModel = new CpuModel(X2Apic: true, TscDeadline: true),
            Accel = Accel,
            MaxInstructions = Budget,
        });
        var result = machine.Run();
        if (result.Outcome != GuestOutcome.InstructionLimit)
        {
            throw new InvalidOperationException($"apic.flat stopped early: {result.Outcome} {result.Diagnosis}");
        }

        return result.Instructions;
    }
}
