// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Fabric;
using VirtualApic.Guest.Platform;
using VirtualApic.Profiles;

namespace VirtualApic.Guest.Machine;

/// <summary>How to build and run a <see cref="GuestMachine"/>.</summary>
public sealed record GuestMachineOptions
{
    /// <summary>Number of vCPUs (QEMU's <c>-smp</c>).</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>The guest CPU (QEMU's <c>-cpu</c>).</summary>
    public CpuModel CpuModel { get; init; } = new();

    /// <summary>The hardware-assist backend.</summary>
    public AccelKind Accel { get; init; } = AccelKind.None;

    /// <summary>The library's behaviour profile.</summary>
    public ApicProfile Profile { get; init; } = ApicProfile.Kvm;

    /// <summary>Guest RAM in MiB (QEMU's default for these tests: 128).</summary>
    public int RamMiB { get; init; } = 128;

    /// <summary>The environment handed to the guest as its Multiboot module, one NAME=VALUE per line.</summary>
    public IReadOnlyList<string> Environment { get; init; } = [];

    /// <summary>Arguments after the image name on the command line (QEMU's <c>-append</c>).</summary>
    public string? Append { get; init; }

    /// <summary>The virtual-time model.</summary>
    public TimeModel Time { get; init; } = TimeModel.Default;

    /// <summary>Stop after this many guest instructions (all vCPUs together).</summary>
    public long MaxInstructions { get; init; } = 4_000_000_000;

    /// <summary>Stop when virtual time reaches this many nanoseconds (kvm-unit-tests' <c>timeout</c>).</summary>
    public long VirtualTimeoutNs { get; init; } = 90_000_000_000;

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">An option out of range, naming it.</exception>
    public void Validate()
    {
        if (Cpus is < 1 or > 255)
        {
            throw new ArgumentException($"smp must be 1..255, got {Cpus}", nameof(Cpus));
        }

        if (RamMiB is < 2 or > 2047)
        {
            throw new ArgumentException($"memory must be 2..2047 MiB, got {RamMiB}", nameof(RamMiB));
        }

        if (Time.Quantum < 1)
        {
            throw new ArgumentException($"quantum must be positive, got {Time.Quantum}", nameof(Time));
        }

        foreach (string line in Environment)
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || line.Contains('\n', StringComparison.Ordinal))
            {
                throw new ArgumentException($"environment entry '{line}' is not NAME=VALUE", nameof(Environment));
            }
        }
    }
}
