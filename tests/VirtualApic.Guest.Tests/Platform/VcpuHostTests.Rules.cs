// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Platform;

/// <summary>
/// More of <see cref="VcpuHost"/>'s rules: which pages are not RAM (its <c>IsMmioPage</c> contract and
/// an APIC window moved into RAM in every APIC mode), the width of a hypercall's number and result,
/// the vendor split of the MSRs, and the clock as RDTSC and HLT see it.
/// </summary>
public partial class VcpuHostTests
{
    private const ulong CompatEntry = 0xDC00, NmiHandler = 0x6200;

    /// <summary>
    /// <c>ICpuHost.IsMmioPage</c>'s contract: the 4 KiB page holding the address is not plain RAM when it
    /// is past RAM's end or is this vCPU's APIC page, whatever byte of the page is asked about; the
    /// neighbours of a relocated APIC page are RAM. Page 0 is a base like any other (KVM accepts it).
    /// </summary>
    [Fact]
    public void Is_mmio_page_holds_for_every_byte_past_ram_and_of_the_apic_page_and_for_no_other()
    {
        using var machine = Machine(a => a.hlt());
        var vcpu = machine.Vm.Vcpus[0];
        ulong ram = (ulong)machine.Memory.Size;
        var host = new VcpuHost(machine, vcpu, ram, new PortBus(), new CpuidTable(new CpuModel(), 1, 36), CpuVendor.Intel);

        Assert.False(host.IsMmioPage(ram - 1));
        Assert.True(host.IsMmioPage(ram));
        Assert.True(host.IsMmioPage(ram + 0x1234));
        Assert.True(host.IsMmioPage(0xFEE0_0030));

        Assert.True(vcpu.TryWriteMsr(0x1B, 0x0080_0900)); // BSP, enabled, base 8 MiB (in RAM)
        Assert.True(host.IsMmioPage(0x0080_0000));
        Assert.True(host.IsMmioPage(0x0080_0FFF));
        Assert.False(host.IsMmioPage(0x007F_FFFF));
        Assert.False(host.IsMmioPage(0x0080_1000));

        Assert.True(vcpu.TryWriteMsr(0x1B, 0x0000_0900)); // base 0
        Assert.True(host.IsMmioPage(0));
        Assert.True(host.IsMmioPage(0x0030));
        Assert.False(host.IsMmioPage(0x3000));
        Assert.False(host.IsMmioPage(0x3010));

        // Not attached to an interpreter: asking for it is the caller's bug, and says so.
        var e = Assert.Throws<InvalidOperationException>(() => host.Cpu);
        Assert.Contains("not attached", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// An APIC moved to page 0 (SDM vol. 3A 11.4.5 lets the base be any page) takes that page only:
    /// its registers answer at 0x30, the code keeps running from RAM and a page-aligned store elsewhere
    /// is RAM's.
    /// </summary>
    [Fact]
    public void An_apic_window_moved_to_page_0_covers_page_0_only()
    {
        using var machine = Machine(a =>
        {
            LoadTables(a);
            WriteMsr(a, 0x1B, 0x900);                       // BSP, enabled, base 0
            a.mov(eax, __dword_ptr[0x30]);                   // the APIC's version register
            a.mov(__dword_ptr[(uint)Results + 4], eax);
            a.mov(__dword_ptr[(uint)Results], 0x1234_5678); // page 3, page-aligned
            a.mov(eax, __dword_ptr[(uint)Results]);
            Exit(a, eax);
        });

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(0x1234_5678u, r.ExitStatus);
        Assert.Equal(0x1234_5678u, machine.Memory.ReadUInt32(Results));
        Assert.Equal(machine.Vm.Vcpus[0].Apic.Page.Read(VirtualApic.Registers.ApicOffset.Version), machine.Memory.ReadUInt32(Results + 4));
    }

    /// <summary>
    /// The APIC page moved into RAM stays the APIC's in every mode (KVM lapic.c, apic_mmio_read/write
    /// with the default LAPIC_MMIO_HOLE quirk): in xAPIC mode loads and stores reach the registers; in
    /// x2APIC mode or hardware-disabled the page is a hole, loads read all ones and stores are dropped.
    /// In none of them does the guest see or change the RAM beneath.
    /// </summary>
    [Theory]
    [InlineData(0x900u)] // BSP, enabled, xAPIC
    [InlineData(0xD00u)] // BSP, enabled, x2APIC
    [InlineData(0x100u)] // BSP, disabled
    public void A_relocated_apic_page_is_never_ram_in_any_apic_mode(uint modeBits)
    {
        const uint newBase = 0x0080_0000;
        using var machine = Machine(
            a =>
            {
                LoadTables(a);
                WriteMsr(a, 0x1B, newBase | modeBits);
                a.mov(eax, __dword_ptr[newBase + 0x30]);
                a.mov(__dword_ptr[(uint)Results], eax);
                a.mov(__dword_ptr[newBase + 0x80], 0x30); // TPR in xAPIC mode
                a.mov(eax, __dword_ptr[newBase + 0x80]);
                a.mov(__dword_ptr[(uint)Results + 4], eax);
                a.mov(eax, 0);
                a.@out(0xF4, eax);
            },
            model: new CpuModel(X2Apic: true),
            setup: m =>
            {
                m.Memory.WriteUInt32(newBase + 0x30, 0xDEAD_BEEF);
                m.Memory.WriteUInt32(newBase + 0x80, 0xCAFE_F00D);
            });

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        var apic = machine.Vm.Vcpus[0].Apic;
        Assert.Equal(newBase, apic.BaseAddress);
        bool xapic = modeBits == 0x900;
        Assert.Equal(xapic ? apic.Page.Read(VirtualApic.Registers.ApicOffset.Version) : uint.MaxValue, machine.Memory.ReadUInt32(Results));
        Assert.Equal(xapic ? 0x30u : uint.MaxValue, machine.Memory.ReadUInt32(Results + 4));
        Assert.Equal(xapic ? 0x30u : 0u, apic.Tpr);
        Assert.Equal(0xDEAD_BEEFu, machine.Memory.ReadUInt32(newBase + 0x30));
        Assert.Equal(0xCAFE_F00Du, machine.Memory.ReadUInt32(newBase + 0x80));
    }

    /// <summary>
    /// On an AMD model only the K7 counters 0xC0010000-0xC0010007 are the engine's: an MSR below the
    /// range (APIC_BASE) is the APIC's as on an Intel model, and one just above it does not exist
    /// (WRMSR raises #GP(0)).
    /// </summary>
    [Fact]
    public void An_amd_model_hands_msrs_outside_the_k7_range_to_the_apic()
    {
        using var machine = Machine(
            a =>
            {
                LoadTables(a);
                WriteMsr(a, 0x1B, 0x0080_0900); // below the range: the APIC moves
                ReadMsrTo(a, 0x1B, Results);
                WriteMsr(a, 0xC001_0008, 1);    // one past the range
                a.mov(eax, 0);
                a.@out(0xF4, eax);
            },
            model: new CpuModel(Vendor: CpuVendor.Amd));

        var r = machine.Run();

        Assert.Equal(13u, r.ExitStatus);
        Assert.Equal(0x0080_0900UL, machine.Memory.ReadUInt64(Results));
        Assert.Equal(0x0080_0000UL, machine.Vm.Vcpus[0].Apic.BaseAddress);
    }

    /// <summary>A hypercall from 64-bit mode and from compatibility mode, with the RAX it starts with.</summary>
    public static TheoryData<bool, ulong, ulong> HypercallWidths() => new()
    {
        { true, 99, 0xFFFF_FFFF_FFFF_FC18 },                   // unknown: -KVM_ENOSYS, all 64 bits
        { true, 0x1_0000_000A, 0xFFFF_FFFF_FFFF_FC18 },        // high bits set: not KVM_HC_SEND_IPI
        { false, 0xFFFF_FFFF_0000_000A, 1 },                   // EAX = 10: the PV IPI, accepted by one APIC
        { false, 0xFFFF_FFFF_0000_0063, 0x0000_0000_FFFF_FC18 }, // EAX = 99: -KVM_ENOSYS as 32 bits
    };

    /// <summary>
    /// KVM's hypercall ABI (Documentation/virt/kvm/x86/hypercalls.rst; x86.c kvm_emulate_hypercall): the
    /// number is RAX in 64-bit mode and EAX elsewhere, compatibility mode included, whatever RAX's high
    /// half holds; the result fills RAX in 64-bit mode and is cut to 32 bits, zero-extended, elsewhere.
    /// The PV IPI sends fixed vector 0x40 to APIC 0 (this vCPU, enabled) and returns how many APICs took it.
    /// </summary>
    [Theory]
    [MemberData(nameof(HypercallWidths))]
    public void A_hypercall_number_and_result_are_64_bits_only_in_64_bit_mode(bool longMode, ulong start, ulong expected)
    {
        using var machine = Machine(
            EnterLongMode,
            setup: m =>
            {
                LongModeTables(m.Memory);
                Place(
                    m.Memory,
                    LongModeEntry,
                    a =>
                    {
                        a.mov(ebx, 0xFEE0_00F0);
                        a.mov(__dword_ptr[rbx], 0x1FF); // SVR: enabled, so that the APIC accepts the IPI
                        a.mov(rax, start);
                        a.mov(ebx, 1);     // bitmap: APIC 0
                        a.xor(ecx, ecx);   // bitmap high
                        a.xor(edx, edx);   // min
                        a.mov(esi, 0x40);  // ICR: fixed, vector 0x40
                        if (longMode)
                        {
                            a.vmcall();
                            a.@out(0xF4, eax);
                            a.hlt();
                        }
                        else
                        {
                            a.push((int)Code0); // a 32-bit code segment: compatibility mode
                            a.push((int)CompatEntry);
                            a.db(0x48, 0xCB);   // RETFQ
                        }
                    },
                    bitness: 64);
                Place(m.Memory, CompatEntry, a =>
                {
                    a.vmcall();
                    a.@out(0xF4, eax);
                    a.hlt();
                });
            });

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(expected, machine.Cpus[0].GetRegister(0));
        Assert.Equal((uint)expected, r.ExitStatus);
    }

    /// <summary>
    /// RDTSC reads the clock as of its own instruction (docs/guest-engine.md, "Time": every retired
    /// instruction costs InstructionNs, RDTSC no exit): two RDTSCs 13 instructions apart, with no exit
    /// between them, differ by 13 instructions' worth of TSC ticks. 1 ms an instruction makes that
    /// exactly 13 times the TSC's kHz.
    /// </summary>
    [Fact]
    public void Rdtsc_reads_the_clock_as_of_its_own_instruction()
    {
        using var machine = Machine(
            a =>
            {
                a.rdtsc();
                a.mov(esi, eax);
                a.mov(edi, edx);
                for (int i = 0; i < 10; i++)
                {
                    a.nop();
                }

                a.rdtsc();
                a.mov(__dword_ptr[(uint)Results], esi);
                a.mov(__dword_ptr[(uint)Results + 4], edi);
                a.mov(__dword_ptr[(uint)Results + 8], eax);
                a.mov(__dword_ptr[(uint)Results + 12], edx);
                a.mov(eax, 0);
                a.@out(0xF4, eax);
            },
            time: new TimeModel(InstructionNs: 1_000_000, ExitNs: 1));

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        long khz = machine.Vm.Vcpus[0].Apic.Config.TscKhz;
        ulong first = machine.Memory.ReadUInt64(Results), second = machine.Memory.ReadUInt64(Results + 8);
        Assert.Equal((ulong)(13 * khz), second - first);
    }

    /// <summary>
    /// HLT is exit-class (docs/guest-engine.md, "Time"): a guest that retires a few instructions and
    /// halts for good, with nothing armed, hangs at exactly its instructions' time plus one ExitNs.
    /// </summary>
    [Fact]
    public void A_final_hlt_costs_one_exit()
    {
        var time = new TimeModel(InstructionNs: 3, ExitNs: 1_000_000);
        using var machine = Machine(
            a =>
            {
                var again = a.CreateLabel();
                a.mov(ecx, 5);
                a.Label(ref again);
                a.loop(again);
                a.hlt();
            },
            time: time);

        var r = machine.Run();

        Assert.Equal(GuestOutcome.Hang, r.Outcome);
        Assert.Equal(7, r.Instructions); // MOV, five LOOPs, HLT
        Assert.Equal((r.Instructions * 3) + 1_000_000, r.VirtualNs);
    }

    /// <summary>An NMI the vCPU takes (here a physical-destination NMI IPI to itself, SDM vol. 3A
    /// 11.6.1) is counted once in the machine's statistics, as an NMI and not an interrupt.</summary>
    [Fact]
    public void A_taken_nmi_is_counted_as_an_nmi()
    {
        using var machine = Machine(
            a =>
            {
                LoadTables(a);
                a.mov(__dword_ptr[0xFEE000F0], 0x1FF);
                a.mov(__dword_ptr[0xFEE00310], 0);      // destination APIC 0
                a.mov(__dword_ptr[0xFEE00300], 0x4400); // NMI, assert
                a.nop();
                Exit(a, __dword_ptr[(uint)Results]);
            },
            setup: m =>
            {
                SetGate32(m.Memory, 2, NmiHandler);
                Place(m.Memory, NmiHandler, a =>
                {
                    a.inc(__dword_ptr[(uint)Results]);
                    a.iretd();
                });
            });

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(1u, r.ExitStatus);
        Assert.Equal(1, machine.Stats.Nmis(0));
        Assert.Equal(0, machine.Stats.Interrupts(0));
    }

    /// <summary>
    /// The scheduling rule for MMIO stores (GuestMachine.FabricTouched): a store that can send an
    /// interrupt, to the ICR or to the IOAPIC, ends the sender's slice; a store to another APIC
    /// register or to an unbacked address does not. The AP counts in a loop; the BSP, at the start of a
    /// fresh slice (after a PAUSE), reads the AP's counter, stores, and reads it again: the counter
    /// moves across the store only if the AP ran in between.
    /// </summary>
    [Theory]
    [InlineData(0xFEC0_0000u, true)]  // IOAPIC IOREGSEL
    [InlineData(0xFEE0_0300u, true)]  // ICR: fixed vector 0x40 to APIC 1, which never takes it
    [InlineData(0xFEE0_0080u, false)] // TPR
    [InlineData(0x0200_0000u, false)] // past RAM, nothing there
    public void Only_an_mmio_store_that_can_send_an_interrupt_ends_the_senders_slice(uint address, bool endsSlice)
    {
        const uint apCounter = (uint)Results;
        using var machine = Machine(
            a =>
            {
                var wait = a.CreateLabel();
                a.mov(__dword_ptr[0xFEE000F0], 0x1FF);
                a.mov(__dword_ptr[0xFEE00310], 1 << 24);
                a.mov(__dword_ptr[0xFEE00300], 0x4500); // INIT
                a.mov(__dword_ptr[0xFEE00300], 0x4608); // SIPI: start at 0x8000
                a.Label(ref wait);
                a.pause();
                a.cmp(__dword_ptr[apCounter], 0);
                a.je(wait);
                a.pause(); // the slice ends here: the next one starts with the reads below
                a.mov(ebx, __dword_ptr[apCounter]);
                a.mov(__dword_ptr[address], 0x40);
                a.mov(ecx, __dword_ptr[apCounter]);
                a.sub(ecx, ebx);
                Exit(a, ecx);
            },
            cpus: 2,
            setup: m => Place(m.Memory, 0x8000, a =>
            {
                var count = a.CreateLabel();
                a.Label(ref count);
                a.inc(__dword_ptr[apCounter]);
                a.jmp(count);
            }, bitness: 16));

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(endsSlice, r.ExitStatus != 0);
    }
}
