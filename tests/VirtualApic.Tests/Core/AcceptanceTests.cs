// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;
using VirtualApic.Profiles;
using VirtualApic.Registers;
using VirtualApic.Tests.Support;
using VirtualApic.Time;

namespace VirtualApic.Tests.Core;

/// <summary>What an APIC accepts, by delivery mode and state (kvm-reference.md 3.1, 3.4; SDM 11.4.7.2, 11.5.2, 11.6.1).</summary>
public class AcceptanceTests
{
    private static InterruptMessage Message(DeliveryMode mode, byte vector = 0x40, TriggerMode trigger = TriggerMode.Edge, bool level = true) =>
        new(vector, mode, DestinationMode.Physical, 0, trigger, level, DestinationShorthand.None, InterruptSource.Msi, -1);

    [Theory]
    [InlineData(DeliveryMode.Fixed)]
    [InlineData(DeliveryMode.LowestPriority)]
    public void A_level_deassert_fixed_message_carries_no_interrupt(DeliveryMode mode)
    {
        var apic = TestApic.Create();
        Assert.False(apic.AcceptInterrupt(Message(mode, 0x40, TriggerMode.Level, level: false)));
        Assert.False(apic.IrrHas(0x40));
        Assert.False(apic.TmrHas(0x40));
        Assert.Equal(0, apic.Host().Kicks);
    }

    [Fact]
    public void A_level_deassert_init_is_ignored_but_an_edge_or_assert_init_is_taken()
    {
        var apic = TestApic.Create();
        Assert.False(apic.AcceptInterrupt(Message(DeliveryMode.Init, 0, TriggerMode.Level, level: false)));
        Assert.Equal(0, apic.RecordingCpu().Inits);
        Assert.True(apic.AcceptInterrupt(Message(DeliveryMode.Init, 0, TriggerMode.Level, level: true)));
        Assert.True(apic.AcceptInterrupt(Message(DeliveryMode.Init, 0, TriggerMode.Edge, level: false)));
        Assert.Equal(2, apic.RecordingCpu().Inits);
    }

    [Theory]
    [InlineData(DeliveryMode.Fixed, false)]
    [InlineData(DeliveryMode.LowestPriority, false)]
    [InlineData(DeliveryMode.Nmi, true)]
    [InlineData(DeliveryMode.Smi, true)]
    [InlineData(DeliveryMode.Init, true)]
    [InlineData(DeliveryMode.StartUp, true)]
    public void A_software_disabled_apic_drops_fixed_but_takes_nmi_smi_init_and_sipi(DeliveryMode mode, bool accepted)
    {
        var apic = TestApic.Create(softwareEnabled: false);
        Assert.False(apic.IsSoftwareEnabled);

        Assert.Equal(accepted, apic.AcceptInterrupt(Message(mode, 0x9A)));

        var cpu = apic.RecordingCpu();
        Assert.Equal(mode == DeliveryMode.Nmi ? 1 : 0, cpu.Nmis);
        Assert.Equal(mode == DeliveryMode.Smi ? 1 : 0, cpu.Smis);
        Assert.Equal(mode == DeliveryMode.Init ? 1 : 0, cpu.Inits);
        Assert.Equal(mode == DeliveryMode.StartUp ? [(byte)0x9A] : [], cpu.Sipis);
        Assert.False(apic.IrrHas(0x9A));
        Assert.Equal(accepted ? 1 : 0, apic.Host().Kicks);
    }

    [Fact]
    public void A_hardware_disabled_apic_drops_fixed_interrupts()
    {
        var apic = TestApic.Create(ApicMode.Disabled);
        Assert.False(apic.Raise(0x40));
        Assert.False(apic.IrrHas(0x40));
    }

    [Theory]
    [InlineData(DeliveryMode.RemoteRead)]
    [InlineData(DeliveryMode.ExtInt)]
    public void Remote_read_and_extint_messages_are_not_accepted_architecturally(DeliveryMode mode)
    {
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Architectural });
        Assert.False(apic.AcceptInterrupt(Message(mode, 0x40)));
        Assert.Equal(-1, apic.HighestIrr);
        Assert.Equal(0, apic.Host().Kicks);
    }

    [Fact]
    public void Under_kvm_a_remote_read_message_is_a_pv_unhalt_and_an_extint_message_is_not_accepted()
    {
        // KVM __apic_accept_irq: APIC_DM_REMRD sets pv_unhalted and kicks; no vector is queued.
        var apic = TestApic.Create();
        Assert.True(apic.AcceptInterrupt(Message(DeliveryMode.RemoteRead, 0x40)));
        Assert.Equal(-1, apic.HighestIrr);
        Assert.Equal(1, apic.Host().Kicks);
        Assert.False(apic.AcceptInterrupt(Message(DeliveryMode.ExtInt, 0x40)));
        Assert.Equal(1, apic.Host().Kicks);
    }

    [Theory]
    [InlineData(DeliveryMode.Fixed)]
    [InlineData(DeliveryMode.LowestPriority)]
    public void Fixed_and_lowest_priority_set_irr_and_kick(DeliveryMode mode)
    {
        var apic = TestApic.Create();
        Assert.True(apic.AcceptInterrupt(Message(mode, 0xB7)));
        Assert.True(apic.IrrHas(0xB7));
        Assert.Equal(1, apic.Host().Kicks);
    }

    [Fact]
    public void The_tmr_follows_the_trigger_of_each_acceptance()
    {
        var apic = TestApic.Create();
        Assert.True(apic.Raise(0x66, TriggerMode.Level));
        Assert.True(apic.TmrHas(0x66));
        Assert.True(apic.Raise(0x66, TriggerMode.Level));
        Assert.True(apic.TmrHas(0x66));

        Assert.True(apic.Raise(0x66, TriggerMode.Edge));
        Assert.False(apic.TmrHas(0x66));
        Assert.True(apic.IrrHas(0x66));
        Assert.Equal(0u, apic.Read(ApicOffset.Tmr + 0x30));
    }

    [Fact]
    public void A_level_vector_stays_level_in_service_and_is_reported_as_level_on_eoi()
    {
        var apic = TestApic.Create();
        apic.SetIoApicHandled(0x66, true);
        apic.PutInService(0x66, TriggerMode.Level);
        Assert.Equal(1u << 6, apic.Read(ApicOffset.Tmr + 0x30));
        apic.EndOfInterrupt();
        Assert.Equal(TriggerMode.Level, Assert.Single(apic.Host().Eois).Trigger);
    }

    public static TheoryData<byte> LowVectors()
    {
        var data = new TheoryData<byte>();
        for (byte v = 0; v < 16; v++)
        {
            data.Add(v);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LowVectors))]
    public void Vectors_0_to_15_are_delivered_under_kvm(byte vector)
    {
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Kvm });
        Assert.True(apic.Raise(vector));
        Assert.True(apic.IrrHas(vector));
        Assert.Equal(1, apic.Host().Kicks);

        // Accepted into the IRR, but priority class 0 is never above PPR (kvm-reference 3.2).
        Assert.Equal(-1, apic.PendingVector());
        apic.MmioWrite(ApicOffset.Esr, 0, 4);
        Assert.Equal(0u, apic.Read(ApicOffset.Esr));
    }

    [Theory]
    [MemberData(nameof(LowVectors))]
    public void Vectors_0_to_15_are_rejected_with_receive_illegal_vector_under_architectural(byte vector)
    {
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Architectural });
        Assert.False(apic.Raise(vector));
        Assert.False(apic.IrrHas(vector));

        Assert.Equal(0u, apic.Read(ApicOffset.Esr)); // latched only by the next ESR write
        apic.MmioWrite(ApicOffset.Esr, 0, 4);
        Assert.Equal(1u << 6, apic.Read(ApicOffset.Esr));
        apic.MmioWrite(ApicOffset.Esr, 0, 4);
        Assert.Equal(0u, apic.Read(ApicOffset.Esr)); // a second write clears it
    }

    [Theory]
    [InlineData(16)]
    [InlineData(0xFF)]
    public void Vector_16_and_up_are_legal_under_architectural(byte vector)
    {
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Architectural });
        Assert.True(apic.Raise(vector));
        apic.MmioWrite(ApicOffset.Esr, 0, 4);
        Assert.Equal(0u, apic.Read(ApicOffset.Esr));
    }

    [Fact]
    public void The_error_lvt_fires_on_a_detected_error_under_architectural()
    {
        var apic = TestApic.Create(config: new ApicConfig { Profile = ApicProfile.Architectural });
        apic.MmioWrite(ApicOffset.LvtError, 0xE3, 4);
        Assert.False(apic.Raise(3));
        Assert.True(apic.IrrHas(0xE3));
    }

    [Fact]
    public void Nmi_and_smi_messages_go_to_the_cpu_not_the_irr()
    {
        var apic = TestApic.Create();
        Assert.True(apic.AcceptInterrupt(Message(DeliveryMode.Nmi, 0x02)));
        Assert.True(apic.AcceptInterrupt(Message(DeliveryMode.Smi, 0x00)));
        Assert.Equal(1, apic.RecordingCpu().Nmis);
        Assert.Equal(1, apic.RecordingCpu().Smis);
        Assert.Equal(-1, apic.HighestIrr);
    }

    [Fact]
    public void Concurrent_acceptances_from_many_threads_lose_no_vector_and_no_tmr_bit()
    {
        for (int round = 0; round < 20; round++)
        {
            var apic = new LocalApic(0, true, new ApicConfig(), new VirtualClock());
            Assert.True(apic.WriteRegister(ApicOffset.Svr, TestApic.SvrEnabled));
            using var start = new Barrier(8);
            var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
            {
                start.SignalAndWait();
                for (int v = 0x20 + t; v < 0x100; v += 8)
                {
                    apic.Raise((byte)v, (v & 1) != 0 ? TriggerMode.Level : TriggerMode.Edge);
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());

            Assert.Equal(0xE0, TestApic.ScanCount(apic.Page, ApicOffset.Irr));
            Assert.Equal(0x70, TestApic.ScanCount(apic.Page, ApicOffset.Tmr));
            Assert.All(Enumerable.Range(0x20, 0xE0), v => Assert.Equal((v & 1) != 0, apic.TmrHas(v)));
        }
    }
}
