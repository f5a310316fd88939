// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;

namespace VirtualApic.Guest.Platform;

/// <summary>
/// The CPUID leaves of the guest CPU: QEMU's qemu64 as KVM exposes it, with the APIC bits taken live
/// from the library on every execution (CPUID.1:EDX[9] follows APIC_BASE.EN, EBX[31:24] and leaf 0xB
/// EDX give the APIC ID, ECX[21]/[24] x2APIC and TSC-deadline), and leaf 0x80000008 reporting the
/// physical-address width the library checks APIC_BASE against. Unlisted leaves read 0.
/// </summary>
public sealed class CpuidTable
{
    private const uint MaxBasicLeaf = 0xB;
    private const uint MaxExtendedLeaf = 0x8000_0008;
    private const uint KvmSignatureLeaf = 0x4000_0000;

    // qemu64: family 15, model 107, stepping 1.
    private const uint Signature = 0x0006_0FB1;

    // FPU DE PSE TSC MSR PAE MCE CX8 SEP MTRR PGE MCA CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2 (APIC is live).
    private const uint Leaf1Edx = 0x078B_F9FD & ~(1u << 9);

    // SSE3, CX16, POPCNT, HYPERVISOR (x2APIC and TSC-deadline are live).
    private const uint Leaf1Ecx = (1u << 0) | (1u << 13) | (1u << 23) | (1u << 31);

    // KVM_FEATURE_PV_SEND_IPI (bit 11) is the only paravirtual feature implemented.
    private const uint KvmFeatures = 1u << 11;

    private readonly CpuModel _model;
    private readonly int _cpus;
    private readonly int _physicalAddressBits;

    /// <summary>Creates the table for <paramref name="model"/> on a machine of <paramref name="cpus"/> CPUs.</summary>
    public CpuidTable(CpuModel model, int cpus, int physicalAddressBits)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _cpus = cpus;
        _physicalAddressBits = physicalAddressBits;
    }

    /// <summary>Executes CPUID on <paramref name="vcpu"/>.</summary>
    public void Execute(Vcpu vcpu, uint leaf, uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        eax = ebx = ecx = edx = 0;
        switch (leaf)
        {
            case 0:
                eax = MaxBasicLeaf;
                VendorRegisters(out ebx, out edx, out ecx);
                break;
            case 1:
                eax = Signature;
                ebx = vcpu.Cpuid(1, 0, CpuidRegister.Ebx) | ((uint)Math.Min(_cpus, 255) << 16) | (8u << 8);
                ecx = Leaf1Ecx | vcpu.Cpuid(1, 0, CpuidRegister.Ecx);
                edx = Leaf1Edx | vcpu.Cpuid(1, 0, CpuidRegister.Edx);
                break;
            case 0xB:
                // One thread per core, one core per package level: x2APIC ID in EDX at every level.
                edx = vcpu.Cpuid(0xB, subleaf, CpuidRegister.Edx);
                ecx = subleaf & 0xFF;
                if (subleaf == 0)
                {
                    ebx = 1;
                    ecx |= 1u << 8; // SMT
                }
                else if (subleaf == 1)
                {
                    eax = (uint)(32 - System.Numerics.BitOperations.LeadingZeroCount((uint)Math.Max(_cpus - 1, 0)));
                    ebx = (uint)_cpus;
                    ecx |= 2u << 8; // core
                }

                break;
            case KvmSignatureLeaf:
                eax = KvmSignatureLeaf + 1;
                ebx = 0x4B4D_564B; // "KVMK"
                ecx = 0x564B_4D56; // "VMKV"
                edx = 0x0000_004D; // "M"
                break;
            case KvmSignatureLeaf + 1:
                eax = KvmFeatures;
                break;
            case 0x8000_0000:
                eax = MaxExtendedLeaf;
                VendorRegisters(out ebx, out edx, out ecx);
                break;
            case 0x8000_0001:
                eax = Signature;
                ecx = 1u << 0;                                 // LAHF/SAHF
                edx = (1u << 29) | (1u << 20) | (1u << 11);    // LM, NX, SYSCALL
                break;
            case 0x8000_0008:
                eax = (uint)_physicalAddressBits | (48u << 8);
                break;
            default:
                break;
        }
    }

    private void VendorRegisters(out uint ebx, out uint edx, out uint ecx)
    {
        if (_model.Vendor == CpuVendor.Amd)
        {
            ebx = 0x6874_7541; // "Auth"
            edx = 0x6974_6E65; // "enti"
            ecx = 0x444D_4163; // "cAMD"
        }
        else
        {
            ebx = 0x756E_6547; // "Genu"
            edx = 0x4965_6E69; // "ineI"
            ecx = 0x6C65_746E; // "ntel"
        }
    }
}
