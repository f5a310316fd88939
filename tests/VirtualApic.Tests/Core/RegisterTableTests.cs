// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Core;

/// <summary>
/// The register table's architectural columns against facts stated outside it: the write-mask column
/// against what a guest write of all-ones leaves (in both modes, under both profiles, with and
/// without the optional features) and against the KVM reference; the name column against the names.
/// </summary>
public class RegisterTableTests
{
    private const uint AllOnes = 0xFFFF_FFFF;

    public static TheoryData<int, bool, string, bool, bool> WritableRowsEveryConfiguration()
    {
        var data = new TheoryData<int, bool, string, bool, bool>();
        foreach (var row in ApicRegisterTable.Rows)
        {
            foreach (bool x2 in new[] { false, true })
            {
                if (((x2 ? row.X2Apic : row.XApic) & RegisterAccess.Write) == 0)
                {
                    continue;
                }

                foreach (string profile in new[] { "kvm", "architectural" })
                {
                    foreach (bool directedEoi in new[] { false, true })
                    {
                        foreach (bool tscDeadline in new[] { false, true })
                        {
                            data.Add(row.Offset, x2, profile, directedEoi, tscDeadline);
                        }
                    }
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(WritableRowsEveryConfiguration))]
    public void An_all_ones_write_leaves_exactly_the_mask_the_table_claims(int offset, bool x2, string profileName, bool directedEoi, bool tscDeadline)
    {
        var profile = TestApic.Profile(profileName);
        var config = new ApicConfig { Profile = profile, CmciSupported = true, DirectedEoiSupported = directedEoi, TscDeadlineSupported = tscDeadline };
        var apic = TestApic.Create(x2 ? ApicMode.X2Apic : ApicMode.XApic, config);
        apic.Host().Loopback = false;
        var rule = ApicRegisterTable.Find(offset)!.Value;
        var features = RegisterFeatures.Cmci
            | (directedEoi ? RegisterFeatures.DirectedEoi : 0)
            | (tscDeadline ? RegisterFeatures.TscDeadline : 0)
            | (profile.LvtStatusBitsWritable ? RegisterFeatures.LvtStatusWritable : 0);

        uint written = AllOnes;
        if (x2)
        {
            // SDM 11.12.1.3: a WRMSR setting undefined bits #GPs where the SDM's rule applies (always for
            // ESR, SELF_IPI and the ICR; under the architectural profile for the rest). It must change nothing.
            uint before = apic.Page.Read(offset);
            bool faults = rule.X2ApicReserved switch
            {
                X2ApicReservedRule.Masked => profile.X2ApicReservedBitsFault && rule.DefinedBitsFor(features) != AllOnes,
                X2ApicReservedRule.EoiMustBeZero => profile.X2ApicEoiNonZeroFaults,
                _ => true,
            };
            Assert.Equal(!faults, apic.Write(offset, AllOnes));
            if (faults)
            {
                Assert.Equal(before, apic.Page.Read(offset));
                written = rule.X2ApicReserved == X2ApicReservedRule.Icr ? unchecked((uint)~Icr.X2ApicReservedBits) : rule.DefinedBitsFor(features);
                Assert.True(apic.Write(offset, written), "a write of only the defined bits succeeds");
            }
        }
        else
        {
            Assert.True(apic.Write(offset, AllOnes));
        }

        if (!apic.IsReadable(offset))
        {
            return; // EOI and SELF_IPI keep nothing a guest can read back
        }

        Assert.Equal((written & rule.WriteMaskFor(features)) | rule.ForcedOnes, apic.ReadRegisterRaw(offset));
    }

    [Fact]
    public void The_write_mask_column_agrees_with_the_kvm_reference()
    {
        // kvm-reference.md 1.3 states the masks of a KVM guest with TSC-deadline and no directed EOI.
        var kvm = RegisterFeatures.Cmci | RegisterFeatures.TscDeadline | RegisterFeatures.LvtStatusWritable;
        foreach (var (offset, name, and, or, _) in RegisterSpec.WriteMasks)
        {
            var rule = ApicRegisterTable.Find(offset)!.Value;
            Assert.True(and == rule.WriteMaskFor(kvm), $"{name} mask 0x{rule.WriteMaskFor(kvm):x8}, reference 0x{and:x8}");
            Assert.True(or == rule.ForcedOnes, $"{name} forced ones");
        }
    }

    // Facts by feature: SVR bit 12 needs directed EOI (kvm-reference 1.3); the timer mode field is
    // bits 18:17 only with TSC-deadline (cpuid.c timer_mode_mask); without LvtStatusWritable the APIC
    // owns delivery status (bit 12) and LINT remote IRR (bit 14) (SDM 11.5.1, figure 11-8).
    [Theory]
    [InlineData(ApicOffset.Svr, RegisterFeatures.None, 0x0000_03FFu)]
    [InlineData(ApicOffset.Svr, RegisterFeatures.DirectedEoi, 0x0000_13FFu)]
    [InlineData(ApicOffset.LvtTimer, RegisterFeatures.LvtStatusWritable, 0x0003_10FFu)]
    [InlineData(ApicOffset.LvtTimer, RegisterFeatures.LvtStatusWritable | RegisterFeatures.TscDeadline, 0x0007_10FFu)]
    [InlineData(ApicOffset.LvtTimer, RegisterFeatures.TscDeadline, 0x0007_00FFu)]
    [InlineData(ApicOffset.LvtLint0, RegisterFeatures.None, 0x0001_A7FFu)]
    [InlineData(ApicOffset.LvtLint1, RegisterFeatures.LvtStatusWritable, 0x0001_F7FFu)]
    [InlineData(ApicOffset.LvtThermal, RegisterFeatures.None, 0x0001_07FFu)]
    [InlineData(ApicOffset.LvtError, RegisterFeatures.None, 0x0001_00FFu)]
    [InlineData(ApicOffset.LvtCmci, RegisterFeatures.None, 0x0001_07FFu)]
    [InlineData(ApicOffset.Icr, RegisterFeatures.None, 0xFFFF_EFFFu)]
    [InlineData(ApicOffset.Tdcr, RegisterFeatures.None, 0x0000_000Bu)]
    public void Optional_bits_follow_the_feature_they_need(int offset, RegisterFeatures features, uint expected)
    {
        Assert.Equal(expected, ApicRegisterTable.WriteMask(offset, features));
    }

    [Fact]
    public void Every_named_register_has_one_row_and_the_names_come_from_it()
    {
        Assert.Equal(ApicRegisterTable.Rows.Select(r => (r.Name, r.Offset)), ApicRegisterNames.All);
        Assert.Equal(ApicRegisterTable.Rows.Count, ApicRegisterTable.Rows.Select(r => r.Offset).Distinct().Count());
        for (int offset = 0; offset < 0x400; offset += 0x10)
        {
            Assert.Equal(offset, ApicRegisterTable.Rule(offset).Offset);
            Assert.Equal(ApicRegisterNames.NameOf(offset) ?? string.Empty, ApicRegisterTable.Rule(offset).Name);
        }
    }

    [Fact]
    public void Every_register_whose_write_effect_reads_old_state_names_its_replay_shadow()
    {
        // The trap-like replay rule (ReplayShadow): an effect that compares with the old value must
        // say where the old value lives, because a trapped write has already replaced it in the page.
        foreach (var row in ApicRegisterTable.Rows)
        {
            var expected = row.Effect switch
            {
                WriteEffect.Remap => ReplayShadow.ApicMap,
                WriteEffect.SoftwareEnable => ReplayShadow.SoftwareEnable,
                WriteEffect.LatchErrors => ReplayShadow.ErrorLatch,
                WriteEffect.Lvt => ReplayShadow.LvtStatus,
                WriteEffect.LvtTimer or WriteEffect.TimerCount or WriteEffect.TimerDivide => ReplayShadow.Timer,
                _ => ReplayShadow.None,
            };
            Assert.True(expected == row.Shadow, $"{row.Name}: {row.Shadow}, expected {expected}");
        }
    }

    [Fact]
    public void The_architectural_profile_faults_reserved_bits_and_kvm_masks_them()
    {
        // One hand-written case per profile, outside the theory above: TPR bit 8 (SDM table 11-6).
        var kvm = TestApic.Create(ApicMode.X2Apic, new ApicConfig { Profile = ApicProfile.Kvm });
        var arch = TestApic.Create(ApicMode.X2Apic, new ApicConfig { Profile = ApicProfile.Architectural });
        Assert.True(kvm.TryWriteX2ApicMsr(0x808, 0x1_35));
        Assert.Equal(0x35u, kvm.Read(ApicOffset.Tpr));
        Assert.False(arch.TryWriteX2ApicMsr(0x808, 0x1_35));
        Assert.Equal(0u, arch.Read(ApicOffset.Tpr));
    }

    [Fact]
    public void The_compiled_write_rules_are_the_rows_for_every_mode_and_feature_set()
    {
        // WriteRegister reads CompileWrites' slots, not the rows: each slot must be its row's write
        // column (writable in the mode and present, kept bits, forced ones, effect), and every APIC
        // with the same answers shares one array.
        for (int f = 0; f < 64; f++)
        {
            var features = (RegisterFeatures)f;
            foreach (bool x2 in new[] { false, true })
            {
                var slots = ApicRegisterTable.CompileWrites(x2, features);
                Assert.Same(slots, ApicRegisterTable.CompileWrites(x2, features));
                Assert.Equal(64, slots.Length);
                for (int offset = 0; offset < 0x400; offset += 0x10)
                {
                    var row = ApicRegisterTable.Rule(offset);
                    bool writable = row.IsPresent(features) && ((x2 ? row.X2Apic : row.XApic) & RegisterAccess.Write) != 0;
                    var slot = slots[offset >> 4];
                    string where = $"0x{offset:X3} x2={x2} features={features}";
                    Assert.True(writable == (slot.Effect != WriteEffect.None), where);
                    if (writable)
                    {
                        Assert.True(row.Effect == slot.Effect, where);
                        Assert.True(row.WriteMaskFor(features) == slot.Kept, where);
                        Assert.True(row.ForcedOnes == slot.ForcedOnes, where);
                        Assert.True(x2 || slot.FaultBits == 0, where); // xAPIC MMIO writes never fault
                    }
                }
            }
        }
    }
}
