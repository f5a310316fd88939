// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using VirtualApic.Guest.Cpu;
using VirtualApic.Guest.Machine;
using VirtualApic.Guest.Platform;
using VirtualApic.Guest.Tests.Boot;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Platform;

/// <summary>
/// The platform side of a vCPU (<see cref="VcpuHost"/>) as a guest sees it: which accesses reach the
/// APIC, the K7 PMU MSRs of an AMD model, KVM's hypercall rules (KVM x86.c, kvm_emulate_hypercall:
/// -KVM_EPERM above CPL 0, the result cut to 32 bits outside 64-bit mode), interrupts through a 32-bit
/// IDT, and the scheduling rule that the target of an IPI or IRQ runs before its sender's next
/// instruction. Each guest is 32-bit Multiboot code with the flat GDT and the IDT set up below.
/// </summary>
public partial class VcpuHostTests
{
    private const ulong Gdt = 0x1000, Idt = 0x2000, Results = 0x3000, DescriptorImages = 0x900;
    private const ulong GpHandler = 0x6000, TimerHandler = 0x6100, UserCode = 0x7000, UserStack = 0x7F00, Stack = 0x5F00, Pml4 = 0x9000, LongModeEntry = 0xD000, Idt64 = 0xE000, BoundaryHandler = 0xD800;
    private const ushort Code64 = 0x08, Code0 = 0x10, Code3 = 0x23, Data3 = 0x2B;

    [Fact]
    public void Timer_interrupts_wake_hlt_through_a_32_bit_interrupt_gate_and_iret_returns_to_the_loop()
    {
        using var machine = Machine(
            a =>
            {
                var loop = a.CreateLabel();
                LoadTables(a);
                a.mov(__dword_ptr[0xFEE000F0], 0x1FF);   // SVR: enabled
                a.mov(__dword_ptr[0xFEE003E0], 0xB);     // TDCR: divide by 1
                a.mov(__dword_ptr[0xFEE00320], 0x20040); // LVTT: periodic, vector 0x40
                a.mov(__dword_ptr[0xFEE00380], 1_000_000); // TMICT: 1 ms (KVM clamps periods under 200 us)
                a.Label(ref loop);
                a.sti();
                a.hlt();
                a.cli();
                a.cmp(__dword_ptr[(uint)Results], 5);
                a.jb(loop);
                a.pushfd();
                a.pop(ebx);
                a.mov(__dword_ptr[(uint)Results + 4], ebx);
                Exit(a, __dword_ptr[(uint)Results]);
            },
            setup: m =>
            {
                SetGate32(m.Memory, 0x40, TimerHandler);
                Place(m.Memory, TimerHandler, a =>
                {
                    a.pushfd();
                    a.pop(__dword_ptr[(uint)Results + 8]); // EFLAGS inside the handler
                    a.inc(__dword_ptr[(uint)Results]);
                    a.mov(__dword_ptr[0xFEE000B0], 0);    // EOI
                    a.iretd();
                });
            });

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(5u, r.ExitStatus);
        Assert.Equal(0u, machine.Memory.ReadUInt32(Results + 8) & 0x200); // an interrupt gate clears IF
        Assert.Equal(0u, machine.Memory.ReadUInt32(Results + 4) & 0x200); // and CLI after the HLT kept it clear
        Assert.InRange(r.VirtualNs, 5_000_000, 5_100_000);                // five periods, not more
        Assert.Equal(5, machine.Stats.Interrupts(0));
    }

    /// <summary>KVM refuses a hypercall from CPL 3 with -KVM_EPERM and does nothing (the PV IPI's target
    /// gets no NMI); at CPL 0 an unknown number is -KVM_ENOSYS. Outside 64-bit mode RAX gets the
    /// 32-bit result, zero-extended.</summary>
    [Fact]
    public void A_hypercall_from_cpl3_is_eperm_and_sends_nothing()
    {
        using var machine = Machine(
            a =>
            {
                LoadTables(a);
                a.push(Data3);
                a.push((uint)UserStack);
                a.push(0x3002); // IOPL 3, so that the user code may OUT its result
                a.push(Code3);
                a.push((uint)UserCode);
                a.iretd();
            },
            cpus: 2,
            setup: m => Place(m.Memory, UserCode, a =>
            {
                a.mov(eax, 10);   // KVM_HC_SEND_IPI
                a.mov(ebx, 0b10); // to APIC 1
                a.xor(ecx, ecx);
                a.xor(edx, edx);
                a.mov(esi, 0x400); // NMI
                a.vmcall();
                a.@out(0xF4, eax);
                var self = a.CreateLabel();
                a.Label(ref self);
                a.jmp(self); // HLT would #GP at CPL 3
            }));

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(uint.MaxValue, r.ExitStatus);
        Assert.Equal(0xFFFF_FFFFUL, machine.Cpus[0].GetRegister(0));
        Assert.Equal(0, machine.Vm.Vcpus[1].NmiQueued);
    }

    [Fact]
    public void An_unknown_hypercall_outside_64_bit_mode_leaves_enosys_zero_extended_in_rax()
    {
        using var machine = Machine(a =>
        {
            a.mov(eax, 99);
            a.vmcall();
            a.hlt();
        });

        var r = machine.Run();

        Assert.Equal(GuestOutcome.Hang, r.Outcome);
        Assert.Equal(0xFFFF_FC18UL, machine.Cpus[0].GetRegister(0)); // -1000 as 32 bits
    }

    /// <summary>
    /// An AMD model has the K7 performance counters (MSRs 0xC0010000-0xC0010007, AMD APM vol. 2,
    /// 13.2.1), which kvm-unit-tests' PMU set-up writes: each reads back what was written to it. Past
    /// the range, or on an Intel model, the MSR does not exist and RDMSR raises #GP(0).
    /// </summary>
    [Fact]
    public void An_amd_model_keeps_each_k7_performance_msr()
    {
        using var machine = Machine(
            a =>
            {
                LoadTables(a);
                WriteMsr(a, 0xC001_0000, 0x0000_00AB_0000_0001);
                WriteMsr(a, 0xC001_0002, 0x1122_3344_5566_7788);
                WriteMsr(a, 0xC001_0007, 0x0000_0077_0000_0007);
                ReadMsrTo(a, 0xC001_0002, Results);
                ReadMsrTo(a, 0xC001_0007, Results + 8);
                ReadMsrTo(a, 0xC001_0000, Results + 16);
                ReadMsrTo(a, 0xC001_0005, Results + 24); // never written
                a.mov(ecx, 0xC001_0008);                // one past the range
                a.rdmsr();
                a.mov(eax, 0);
                a.@out(0xF4, eax);
            },
            model: new CpuModel(Vendor: CpuVendor.Amd));

        var r = machine.Run();

        Assert.Equal(13u, r.ExitStatus);
        Assert.Equal(0x1122_3344_5566_7788UL, machine.Memory.ReadUInt64(Results));
        Assert.Equal(0x0000_0077_0000_0007UL, machine.Memory.ReadUInt64(Results + 8));
        Assert.Equal(0x0000_00AB_0000_0001UL, machine.Memory.ReadUInt64(Results + 16));
        Assert.Equal(0UL, machine.Memory.ReadUInt64(Results + 24));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_intel_model_has_no_k7_performance_msrs(bool write)
    {
        using var machine = Machine(a =>
        {
            LoadTables(a);
            if (write)
            {
                WriteMsr(a, 0xC001_0000, 1);
            }
            else
            {
                ReadMsrTo(a, 0xC001_0000, Results);
            }

            a.mov(eax, 0);
            a.@out(0xF4, eax);
        });

        Assert.Equal(13u, machine.Run().ExitStatus);
    }

    /// <summary>
    /// Moving APIC_BASE moves the window (SDM vol. 3A 11.4.4; KVM allows any page, RAM included): a page
    /// the CPU had translated and cached as RAM must reach the APIC once the base points at it, for
    /// loads and stores, and the RAM beneath keeps its bytes. In 64-bit mode, the paging the engine
    /// models, so that the translation really is cached.
    /// </summary>
    [Fact]
    public void A_relocated_apic_window_covers_a_page_the_cpu_had_cached_as_ram()
    {
        const uint newBase = 0x0080_0000;
        using var machine = Machine(
            EnterLongMode,
            setup: m =>
            {
                LongModeTables(m.Memory);
                m.Memory.WriteUInt32(newBase + 0x30, 0xDEAD_BEEF);
                m.Memory.WriteUInt32(newBase + 0x80, 0xCAFE_F00D);
                Place(
                    m.Memory,
                    LongModeEntry,
                    a =>
                    {
                        a.mov(eax, __dword_ptr[newBase + 0x30]); // RAM: the TLB now holds the page as RAM
                        a.mov(__dword_ptr[(uint)Results], eax);
                        WriteMsr(a, 0x1B, newBase | 0x900);       // BSP, enabled, at the new base
                        a.mov(eax, __dword_ptr[newBase + 0x30]); // the APIC's version register
                        a.mov(__dword_ptr[(uint)Results + 4], eax);
                        a.mov(__dword_ptr[newBase + 0x80], 0x30); // TPR
                        a.mov(eax, __dword_ptr[newBase + 0x80]);
                        a.mov(__dword_ptr[(uint)Results + 8], eax);
                        a.mov(eax, 0);
                        a.@out(0xF4, eax);
                        a.hlt();
                    },
                    bitness: 64);
            });

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        var apic = machine.Vm.Vcpus[0].Apic;
        Assert.Equal(0xDEAD_BEEFu, machine.Memory.ReadUInt32(Results));
        Assert.Equal(apic.Page.Read(VirtualApic.Registers.ApicOffset.Version), machine.Memory.ReadUInt32(Results + 4));
        Assert.Equal(0x30u, machine.Memory.ReadUInt32(Results + 8));
        Assert.Equal(0x30u, apic.Tpr);
        Assert.Equal(0xDEAD_BEEFu, machine.Memory.ReadUInt32(newBase + 0x30));
        Assert.Equal(0xCAFE_F00Du, machine.Memory.ReadUInt32(newBase + 0x80));
    }

    /// <summary>The exit-class operations of <see cref="TimeModel"/> and how many exits each makes.</summary>
    public static TheoryData<string, int> Operations() => new()
    {
        { "mmio read", 1 },
        { "mmio write", 1 },
        { "port in", 1 },
        { "port out", 1 },
        { "rdmsr", 1 },
        { "rdmsr+wrmsr", 2 },
        { "cpuid", 1 },
        { "vmcall", 1 },
        { "read cr8", 1 },
        { "write cr8", 1 },
        { "ram load", 0 },
        { "rdtsc", 0 },
        { "read cr0", 0 },
    };

    /// <summary>
    /// The time model's contract (docs/guest-engine.md, "Time"): every retired instruction costs
    /// InstructionNs, and each exit-class operation ExitNs more, once. Measured as the difference
    /// between a 64-bit program with the operation and the same program without it, under a model
    /// whose two prices cannot be confused.
    /// </summary>
    [Theory]
    [MemberData(nameof(Operations))]
    public void Each_exit_class_operation_costs_exit_ns_once_and_others_nothing(string operation, int exits)
    {
        var time = new TimeModel(InstructionNs: 3, ExitNs: 1_000_000);
        var without = RunLongMode(time, _ => { });
        var with = RunLongMode(time, a => Operation(a, operation));

        Assert.True(with.Instructions > without.Instructions);
        Assert.Equal(((with.Instructions - without.Instructions) * 3) + (exits * 1_000_000), with.VirtualNs - without.VirtualNs);
    }

    private static GuestRunResult RunLongMode(TimeModel time, Action<Assembler> body)
    {
        using var machine = Machine(
            EnterLongMode,
            time: time,
            setup: m =>
            {
                LongModeTables(m.Memory);
                Place(
                    m.Memory,
                    LongModeEntry,
                    a =>
                    {
                        a.nop();
                        body(a);
                        a.mov(eax, 0);
                        a.@out(0xF4, eax);
                        a.hlt();
                    },
                    bitness: 64);
            });
        var r = machine.Run();
        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        return r;
    }

    private static void Operation(Assembler a, string operation)
    {
        switch (operation)
        {
            case "mmio read": a.mov(eax, __dword_ptr[0xFEE00030]); break;
            case "mmio write": a.mov(ebx, 0xFEE00080); a.mov(__dword_ptr[rbx], 0); break;
            case "port in": a.@in(al, 0x21); break;
            case "port out": a.@out(0x80, al); break;
            case "rdmsr": a.mov(ecx, 0x1B); a.rdmsr(); break;
            case "rdmsr+wrmsr": a.mov(ecx, 0x1B); a.rdmsr(); a.wrmsr(); break;
            case "cpuid": a.xor(eax, eax); a.cpuid(); break;
            case "vmcall": a.mov(eax, 99); a.vmcall(); break;
            case "read cr8": a.mov(rax, cr8); break;
            case "write cr8": a.xor(eax, eax); a.mov(cr8, rax); break;
            case "ram load": a.mov(eax, __dword_ptr[(uint)Results]); break;
            case "rdtsc": a.rdtsc(); break;
            case "read cr0": a.mov(rax, cr0); break;
            default: throw new ArgumentException($"unknown operation '{operation}'", nameof(operation));
        }
    }

    /// <summary>How each test below makes vector 0x40 deliverable with its own APIC access.</summary>
    public static TheoryData<string> OwnApicAccesses() =>
        ["x2apic self-ipi msr", "xapic self-ipi icr", "tpr lowered by mmio", "tpr lowered by cr8"];

    /// <summary>
    /// An interrupt the vCPU's own APIC access makes deliverable (a self-IPI, a lowered TPR) is taken
    /// at the next instruction boundary, as on hardware and under KVM, which evaluates pending events
    /// at the next entry: the handler, through a 64-bit interrupt gate, sees the register the access
    /// left, not the one the next instruction writes.
    /// </summary>
    [Theory]
    [MemberData(nameof(OwnApicAccesses))]
    public void An_interrupt_made_deliverable_by_an_own_apic_access_is_taken_at_the_next_boundary(string access)
    {
        using var machine = Machine(
            EnterLongMode,
            model: new CpuModel(X2Apic: true),
            setup: m =>
            {
                LongModeTables(m.Memory);
                m.Memory.WriteUInt64(DescriptorImages + 16, 0xFFF | (Idt64 << 16));
                m.Memory.WriteUInt64(Idt64 + (0x40 * 16), (BoundaryHandler & 0xFFFF) | ((ulong)Code64 << 16) | (0x8EUL << 40) | ((BoundaryHandler >> 16) << 48));
                Place(
                    m.Memory,
                    BoundaryHandler,
                    a =>
                    {
                        a.mov(__dword_ptr[(uint)Results], ebx);
                        a.mov(__dword_ptr[(uint)Results + 4], 1);
                        a.iretq();
                    },
                    bitness: 64);
                Place(m.Memory, LongModeEntry, a => OwnAccessProgram(a, access), bitness: 64);
            });

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(1u, machine.Memory.ReadUInt32(Results + 4)); // taken
        Assert.Equal(0u, machine.Memory.ReadUInt32(Results));     // before MOV EBX, 1
    }

    private static void OwnAccessProgram(Assembler a, string access)
    {
        a.lidt(__[(uint)DescriptorImages + 16]);
        if (access.StartsWith("x2apic", StringComparison.Ordinal))
        {
            a.mov(ecx, 0x1B);
            a.rdmsr();
            a.or(eax, 0x400);
            a.wrmsr();
            a.mov(ecx, 0x80F);
            a.mov(eax, 0x1FF);
            a.xor(edx, edx);
            a.wrmsr();
        }
        else
        {
            a.mov(esi, 0xFEE00000);
            a.mov(__dword_ptr[rsi + 0xF0], 0x1FF);
        }

        a.sti();
        a.xor(ebx, ebx);
        if (access.StartsWith("tpr", StringComparison.Ordinal))
        {
            a.mov(__dword_ptr[rsi + 0x80], 0xF0);   // TPR 0xF0 holds vector 0x40 back
            a.mov(__dword_ptr[rsi + 0x300], 0x44040); // self-IPI, fixed, vector 0x40: pending
        }

        switch (access)
        {
            case "x2apic self-ipi msr":
                a.mov(ecx, 0x83F);
                a.mov(eax, 0x40);
                a.wrmsr();
                break;
            case "xapic self-ipi icr":
                a.mov(__dword_ptr[rsi + 0x300], 0x44040);
                break;
            case "tpr lowered by mmio":
                a.mov(__dword_ptr[rsi + 0x80], 0);
                break;
            case "tpr lowered by cr8":
                a.xor(eax, eax);
                a.mov(cr8, rax);
                break;
            default:
                throw new ArgumentException($"unknown access '{access}'", nameof(access));
        }

        a.mov(ebx, 1);
        a.mov(ebx, 2);
        a.mov(eax, 0);
        a.@out(0xF4, eax);
        a.hlt();
    }

    /// <summary>4-level tables at <see cref="Pml4"/> mapping 0-16 MiB and the 2 MiB pages of the IOAPIC
    /// and the APIC 1:1.</summary>
    private static void LongModeTables(PhysicalMemory m)
    {
        m.WriteUInt64(Pml4, (Pml4 + 0x1000) | 3);
        m.WriteUInt64(Pml4 + 0x1000, (Pml4 + 0x2000) | 3);           // PDPT[0]: 0-1 GiB
        m.WriteUInt64(Pml4 + 0x1000 + (3 * 8), (Pml4 + 0x3000) | 3); // PDPT[3]: 3-4 GiB
        for (ulong i = 0; i < 8; i++)
        {
            m.WriteUInt64(Pml4 + 0x2000 + (i * 8), (i << 21) | 0x83); // present, writable, 2 MiB
        }

        foreach (ulong page in new ulong[] { 0xFEC0_0000, 0xFEE0_0000 })
        {
            m.WriteUInt64(Pml4 + 0x3000 + (((page >> 21) & 511) * 8), (page & ~0x1F_FFFFUL) | 0x83);
        }
    }

    /// <summary>From the Multiboot state into 64-bit mode (SDM vol. 3A 10.8.5): CR4.PAE, CR3, EFER.LME,
    /// CR0.PG, then a far jump to the 64-bit code segment at <see cref="LongModeEntry"/>.</summary>
    private static void EnterLongMode(Assembler a)
    {
        LoadTables(a);
        a.mov(eax, cr4);
        a.or(eax, 0x20);
        a.mov(cr4, eax);
        a.mov(eax, (uint)Pml4);
        a.mov(cr3, eax);
        a.mov(ecx, 0xC000_0080);
        a.rdmsr();
        a.or(eax, 0x100);
        a.wrmsr();
        a.mov(eax, cr0);
        a.or(eax, unchecked((int)0x8000_0000));
        a.mov(cr0, eax);
        a.jmp(Code64, (uint)LongModeEntry);
    }

    /// <summary>The first byte past RAM is the MMIO hole: nothing decodes there, so loads read all-ones
    /// and stores vanish; the last byte of RAM is still RAM.</summary>
    [Fact]
    public void The_first_byte_past_ram_reads_all_ones_and_the_last_byte_of_ram_is_ram()
    {
        const uint ramEnd = 16 << 20;
        using var machine = Machine(
            a =>
            {
                a.mov(__byte_ptr[ramEnd], 0x55);
                a.movzx(eax, __byte_ptr[ramEnd]);
                a.mov(__dword_ptr[(uint)Results], eax);
                a.movzx(eax, __byte_ptr[ramEnd - 1]);
                a.mov(__dword_ptr[(uint)Results + 4], eax);
                a.mov(eax, 0);
                a.@out(0xF4, eax);
            },
            setup: m => m.Memory.Write(ramEnd - 1, [0x5A]));

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(0xFFu, machine.Memory.ReadUInt32(Results));
        Assert.Equal(0x5Au, machine.Memory.ReadUInt32(Results + 4));
    }

    /// <summary>How the bootstrap processor sends fixed vector 0x40 to APIC 1 in each test below.</summary>
    public static TheoryData<string> Senders() => ["xapic icr", "x2apic icr", "ioapic pin", "pv send-ipi"];

    /// <summary>
    /// The engine's scheduling rule (GuestMachine.FabricTouched): an IPI, an IRQ line or a PV IPI ends
    /// the sender's slice, so that the target runs before the sender's next instruction. The AP is
    /// started in real mode, switches to x2APIC mode, enables itself and halts with IF = 1; its handler
    /// (through the real-mode IVT) counts. The BSP, after sending, counts how often it looked at the
    /// AP's counter before seeing it move: with the rule kept, never.
    /// </summary>
    [Theory]
    [MemberData(nameof(Senders))]
    public void The_target_of_an_ipi_or_irq_runs_before_its_senders_next_instruction(string sender)
    {
        const uint apCounter = (uint)Results, apReady = (uint)Results + 4;
        using var machine = Machine(
            a =>
            {
                var wait = a.CreateLabel();
                var spin = a.CreateLabel();
                var seen = a.CreateLabel();
                a.mov(__dword_ptr[0xFEE000F0], 0x1FF);
                a.mov(__dword_ptr[0xFEE00310], 1 << 24);
                a.mov(__dword_ptr[0xFEE00300], 0x4500); // INIT
                a.mov(__dword_ptr[0xFEE00300], 0x4608); // SIPI: start at 0x8000
                a.Label(ref wait);
                a.pause();
                a.cmp(__dword_ptr[apReady], 1);
                a.jne(wait);
                Send(a, sender);
                a.xor(edi, edi);
                a.Label(ref spin);
                a.cmp(__dword_ptr[apCounter], 0);
                a.jne(seen);
                a.inc(edi);
                a.jmp(spin);
                a.Label(ref seen);
                Exit(a, edi);
            },
            cpus: 2,
            model: new CpuModel(X2Apic: true),
            setup: m =>
            {
                Place(m.Memory, 0x8000, StartAp, bitness: 16);
                Place(m.Memory, 0x8100, a =>
                {
                    a.inc(__dword_ptr[apCounter]);
                    a.iret();
                }, bitness: 16);
                m.Memory.WriteUInt32(0x40 * 4, 0x0000_8100); // IVT[0x40] = 0000:8100
            });

        var r = machine.Run();

        Assert.True(r.Outcome == GuestOutcome.Exited, r.Diagnosis);
        Assert.Equal(0u, r.ExitStatus);
        Assert.Equal(1u, machine.Memory.ReadUInt32(apCounter));

        static void StartAp(Assembler a)
        {
            var idle = a.CreateLabel();
            a.mov(ecx, 0x1B);
            a.rdmsr();
            a.or(eax, 0x400); // x2APIC mode: the AP's registers are MSRs, reachable from real mode
            a.wrmsr();
            a.mov(ecx, 0x80F);
            a.mov(eax, 0x1FF); // SVR: enabled
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(__dword_ptr[apReady], 1);
            a.sti();
            a.Label(ref idle);
            a.hlt();
            a.jmp(idle);
        }
    }

    private static void Send(Assembler a, string sender)
    {
        switch (sender)
        {
            case "xapic icr":
                a.mov(__dword_ptr[0xFEE00310], 1 << 24);
                a.mov(__dword_ptr[0xFEE00300], 0x40);
                break;
            case "x2apic icr":
                a.mov(ecx, 0x1B);
                a.rdmsr();
                a.or(eax, 0x400);
                a.wrmsr();
                a.mov(ecx, 0x830);
                a.mov(eax, 0x40);
                a.mov(edx, 1);
                a.wrmsr();
                break;
            case "ioapic pin":
                // Pin 14, edge, fixed vector 0x40 to APIC 1; then pc-testdev raises the line.
                a.mov(__dword_ptr[0xFEC00000], 0x10 + (2 * 14) + 1);
                a.mov(__dword_ptr[0xFEC00010], 1 << 24);
                a.mov(__dword_ptr[0xFEC00000], 0x10 + (2 * 14));
                a.mov(__dword_ptr[0xFEC00010], 0x40);
                a.mov(dx, VirtualApic.Guest.Platform.Devices.PcTestDev.IrqBase + 14);
                a.mov(al, 1);
                a.@out(dx, al);
                break;
            case "pv send-ipi":
                a.mov(eax, 10);
                a.mov(ebx, 0b10);
                a.xor(ecx, ecx);
                a.xor(edx, edx);
                a.mov(esi, 0x40);
                a.vmcall();
                break;
            default:
                throw new ArgumentException($"unknown sender '{sender}'", nameof(sender));
        }
    }

    /// <summary>Builds a machine from <paramref name="code"/>; <paramref name="setup"/> fills memory before it runs.</summary>
    private static GuestMachine Machine(Action<Assembler> code, int cpus = 1, CpuModel? model = null, Action<GuestMachine>? setup = null, TimeModel? time = null)
    {
        var image = TestImages.Image(code);
        var options = new GuestMachineOptions { Cpus = cpus, RamMiB = 16, CpuModel = model ?? new CpuModel(), Time = time ?? TimeModel.Default };
        var machine = new GuestMachine(image, options);
        var m = machine.Memory;
        m.WriteUInt64(Gdt + 0x08, 0x00AF9B000000FFFF); // ring-0 code, 64-bit
        m.WriteUInt64(Gdt + 0x10, 0x00CF9B000000FFFF); // ring-0 code, flat
        m.WriteUInt64(Gdt + 0x18, 0x00CF93000000FFFF); // ring-0 data
        m.WriteUInt64(Gdt + 0x20, 0x00CFFB000000FFFF); // ring-3 code
        m.WriteUInt64(Gdt + 0x28, 0x00CFF3000000FFFF); // ring-3 data
        m.WriteUInt64(DescriptorImages, 0x2F | (Gdt << 16));
        m.WriteUInt64(DescriptorImages + 8, 0x7FF | (Idt << 16));
        SetGate32(m, 13, GpHandler);
        Place(m, GpHandler, a =>
        {
            a.mov(eax, 13);
            a.@out(0xF4, eax);
            a.hlt();
        });
        setup?.Invoke(machine);
        return machine;
    }

    /// <summary>Loads the GDT and IDT and gives the CPU a stack (Multiboot leaves ESP undefined).</summary>
    private static void LoadTables(Assembler a)
    {
        a.mov(esp, (uint)Stack);
        a.lgdt(__[(uint)DescriptorImages]);
        a.lidt(__[(uint)DescriptorImages + 8]);
    }

    private static void SetGate32(PhysicalMemory m, int vector, ulong handler) =>
        m.WriteUInt64(Idt + (ulong)(vector * 8), (handler & 0xFFFF) | ((ulong)Code0 << 16) | (0x8EUL << 40) | ((handler >> 16) << 48));

    private static void Place(PhysicalMemory m, ulong address, Action<Assembler> build, int bitness = 32)
    {
        var a = new Assembler(bitness);
        build(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        m.Write(address, stream.ToArray());
    }

    private static void WriteMsr(Assembler a, uint msr, ulong value)
    {
        a.mov(ecx, msr);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }

    private static void ReadMsrTo(Assembler a, uint msr, ulong address)
    {
        a.mov(ecx, msr);
        a.rdmsr();
        a.mov(__dword_ptr[(uint)address], eax);
        a.mov(__dword_ptr[(uint)address + 4], edx);
    }

    private static void Exit(Assembler a, AssemblerRegister32 value)
    {
        a.mov(eax, value);
        a.@out(0xF4, eax);
        a.hlt();
    }

    private static void Exit(Assembler a, AssemblerMemoryOperand value)
    {
        a.mov(eax, value);
        a.@out(0xF4, eax);
        a.hlt();
    }
}
