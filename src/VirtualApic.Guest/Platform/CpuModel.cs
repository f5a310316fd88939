// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Platform;

/// <summary>The CPU vendor CPUID reports; kvm-unit-tests picks VMCALL or VMMCALL and its PMU path from it.</summary>
public enum CpuVendor : byte
{
    /// <summary>GenuineIntel: VMCALL, the architectural PMU path (leaf 0xA = 0, so no PMU MSRs).</summary>
    Intel,

    /// <summary>AuthenticAMD: VMMCALL and the K7 PMU MSRs 0xC0010000-0xC0010007.</summary>
    Amd,
}

/// <summary>
/// The guest CPU model, in QEMU's <c>-cpu</c> syntax: <c>qemu64</c> plus <c>+x2apic</c>/<c>-x2apic</c>,
/// <c>+tsc-deadline</c>/<c>-tsc-deadline</c> and <c>vendor=GenuineIntel|AuthenticAMD</c>.
/// </summary>
/// <param name="X2Apic">CPUID.1:ECX[21].</param>
/// <param name="TscDeadline">CPUID.1:ECX[24].</param>
/// <param name="Vendor">The vendor string of leaves 0 and 0x80000000.</param>
public sealed record CpuModel(bool X2Apic = false, bool TscDeadline = false, CpuVendor Vendor = CpuVendor.Intel)
{
    /// <summary>
    /// Parses a <c>-cpu</c> argument. Only the model <c>qemu64</c> exists; its defaults are no x2APIC and
    /// no TSC-deadline timer, as QEMU's qemu64 under KVM. The vendor defaults to Intel (QEMU under KVM
    /// takes the host's vendor; the tests pass either way).
    /// </summary>
    /// <exception cref="FormatException">An unknown model, flag or vendor, naming it.</exception>
    public static CpuModel Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts[0] != "qemu64")
        {
            throw new FormatException($"cpu model '{parts[0]}' is not modelled (only qemu64)");
        }

        var model = new CpuModel();
        foreach (string? part in parts.AsSpan(1))
        {
            if (part.StartsWith("vendor=", StringComparison.Ordinal))
            {
                model = part["vendor=".Length..] switch
                {
                    "GenuineIntel" => model with { Vendor = CpuVendor.Intel },
                    "AuthenticAMD" => model with { Vendor = CpuVendor.Amd },
                    var v => throw new FormatException($"cpu vendor '{v}' is not modelled (GenuineIntel or AuthenticAMD)"),
                };
                continue;
            }

            if (part.Length < 2 || part[0] is not ('+' or '-'))
            {
                throw new FormatException($"cpu flag '{part}' must be +name or -name");
            }

            bool on = part[0] == '+';
            model = part[1..] switch
            {
                "x2apic" => model with { X2Apic = on },
                "tsc-deadline" or "tsc_deadline" => model with { TscDeadline = on },
                var f => throw new FormatException($"cpu flag '{f}' is not modelled (x2apic, tsc-deadline)"),
            };
        }

        return model;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"qemu64,{(X2Apic ? '+' : '-')}x2apic,{(TscDeadline ? '+' : '-')}tsc-deadline{(Vendor == CpuVendor.Amd ? ",vendor=AuthenticAMD" : "")}";
}
