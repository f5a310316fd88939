// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Kut;

/// <summary>One <c>[section]</c> of kvm-unit-tests' unittests.cfg.</summary>
/// <param name="Name">The section name (e.g. <c>x2apic</c>).</param>
/// <param name="File">The binary (e.g. <c>apic.flat</c>).</param>
/// <param name="Smp">Number of vCPUs (default 1).</param>
/// <param name="Cpu">The <c>-cpu</c> argument of qemu_params/extra_params, or <c>qemu64</c>.</param>
/// <param name="Append">The <c>-append</c> argument or test_args, or <see langword="null"/>.</param>
/// <param name="TimeoutSeconds">The timeout (default 90 s, run_tests.sh's).</param>
/// <param name="Groups">The groups.</param>
/// <param name="Arch">The arch key, or <see langword="null"/>.</param>
/// <param name="Line">The line of the section header.</param>
public sealed record KutSection(
    string Name,
    string File,
    int Smp,
    string Cpu,
    string? Append,
    double TimeoutSeconds,
    IReadOnlyList<string> Groups,
    string? Arch,
    int Line);
