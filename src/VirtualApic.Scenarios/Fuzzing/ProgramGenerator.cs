// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text;
using VirtualApic.Fabric;

namespace VirtualApic.Scenarios.Fuzzing;

/// <summary>
/// Generates random but meaningful guest programs as <c>.vapic</c> text: mode switches, register
/// and MSR accesses (invalid ones included), IPIs of every kind, IOAPIC programming and line
/// changes, MSIs, timers and time, takes and EOIs, INIT/SIPI, snapshots, restores and migrations.
/// Most programs also weave in coherent interrupt chains (route, assert, STI, take, EOI, deassert;
/// MSI or IPI, take, EOI; NMI, take, IRET; timer, advance, take, EOI) whose steps the random
/// statements interleave and may break, so that vectors are really taken and level EOIs really
/// complete. A few programs are x2APIC VMs above 255 vCPUs (ext-dest-id, APs waiting for SIPI),
/// and some run for seconds of virtual time. Deterministic for a seed.
/// </summary>
public sealed class ProgramGenerator
{
    private static readonly string[] Registers =
    [
        "ID", "VER", "TPR", "APR", "PPR", "EOI", "RRD", "LDR", "DFR", "SVR", "ISR0", "ISR7", "TMR1", "IRR2", "IRR7", "ESR",
        "LVT_CMCI", "ICR", "ICR2", "LVT_TIMER", "LVT_THERMAL", "LVT_PMC", "LVT_LINT0", "LVT_LINT1", "LVT_ERROR", "TMICT",
        "TMCCT", "TDCR", "SELF_IPI", "0x40", "0x3f0", "0x400",
    ];

    private readonly Random _random;

    // Issue 15's configurations and statements (split irqchip, X2APIC_API flags, PV EOI, PV unhalt,
    // MSI routes) draw from a stream of their own, so the programs of a seed are the earlier ones
    // with these woven in.
    private readonly Random _extra;
    private readonly HashSet<int> _pvEoi = [];
    private readonly bool _kvmConfigurations;
    private readonly int _cpus;
    private readonly bool _architectural;
    private readonly StringBuilder _text = new();
    private readonly List<Queue<string>> _chains = [];
    private int[] _active = [];
    private int _vmCpus;
    private bool _extDestId;
    private int _snapshots;

    /// <summary>Creates a generator.</summary>
    /// <param name="seed">The seed: the same seed gives the same programs.</param>
    /// <param name="cpus">vCPUs per program (1-8).</param>
    /// <param name="architectural">Generate for the architectural profile (no KVM-divergent IPIs to avoid).</param>
    /// <param name="kvmConfigurations">Weave in issue 15's VM options and statements: split irqchip,
    /// 32-bit x2APIC IDs, the broadcast quirk off, PV EOI, PV unhalt (<c>kick-cpu</c>), MSI routes.</param>
    public ProgramGenerator(int seed, int cpus, bool architectural, bool kvmConfigurations = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cpus, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpus, 8);
        _random = new Random(seed);
        _extra = new Random(unchecked(seed ^ 0x2F0E_1D15));
        _kvmConfigurations = kvmConfigurations;
        _cpus = cpus;
        _architectural = architectural;
    }

    /// <summary>Generates one program of <paramref name="statements"/> statements after the vm line.</summary>
    public string Next(int statements)
    {
        _text.Clear();
        _chains.Clear();
        _snapshots = 0;
        _pvEoi.Clear();

        // One program in 100 is a large x2APIC VM (IDs above 255 need x2APIC mode and, for the
        // IOAPIC and MSIs, ext-dest-id); only a handful of its vCPUs take part, to keep it cheap.
        bool big = Chance(100);
        _vmCpus = big ? 256 + _random.Next(1, 64) : _cpus;
        _extDestId = big || Chance(8);
        _active = big ? [0, 1, 255, _vmCpus - 1] : [.. Enumerable.Range(0, _cpus)];
        bool waitForSipi = big ? Chance(2) : Chance(16);
        string kvmConfig = !_kvmConfigurations ? string.Empty : (_extra.Next(5) == 0 ? " split-irqchip=on" : string.Empty)
            + (_extra.Next(6) == 0 ? " x2apic-32bit-ids=on" : string.Empty)
            + (_extra.Next(6) == 0 ? " x2apic-broadcast-quirk=off" : string.Empty);
        Line($"vm cpus={_vmCpus} profile={(_architectural ? "architectural" : "kvm")} tsc-deadline={(Chance(8) ? "off" : "on")} cmci={(Chance(4) ? "on" : "off")} ioapic-version={(Chance(4) ? "0x11" : "0x20")}{(_extDestId ? " ext-dest-id=on" : string.Empty)}{(waitForSipi ? " ap-state=wait-for-sipi" : string.Empty)}{kvmConfig}");

        foreach (int c in _active)
        {
            if (big || Chance(10))
            {
                Line($"cpu{c} wrmsr APIC_BASE {Hex(0xFEE0_0C00ul | (c == 0 ? 0x100ul : 0))}");
            }

            if (waitForSipi && c != 0 && !Chance(4))
            {
                // INIT then SIPI from the BSP starts the AP (SDM 8.4.4.1).
                Line($"cpu0 ipi 0x00 dest={c} mode=init");
                Line($"cpu0 ipi 0x{_random.Next(1, 0x100):x2} dest={c} mode=sipi");
                Line($"cpu{c} take");
            }

            // Most programs start with software-enabled APICs, otherwise little happens.
            if (!Chance(6))
            {
                Line($"cpu{c} write SVR 0x1ff");
            }

            // A Linux guest enables PV EOI on every vCPU, each with its own flag word.
            if (_kvmConfigurations && _extra.Next(3) == 0)
            {
                Line($"cpu{c} pv-eoi enable {Hex(PvEoiFlag(c))}");
                _pvEoi.Add(c);
            }
        }

        int chains = Chance(8) ? 0 : _random.Next(1, 4);
        for (int i = 0; i < chains; i++)
        {
            _chains.Add(Chain());
        }

        for (int i = 0; i < statements; i++)
        {
            if (_kvmConfigurations && _extra.Next(10) == 0)
            {
                Extra();
            }

            var open = _chains.Where(q => q.Count > 0).ToList();
            if (open.Count > 0 && _random.Next(100) < 55)
            {
                Line(open[_random.Next(open.Count)].Dequeue());
            }
            else
            {
                Statement();
            }
        }

        return _text.ToString();
    }

    // A coherent chain of steps on one vCPU, of one of the kinds the issue lists.
    private Queue<string> Chain()
    {
        int c = Cpu();
        string dest = DestOf(c);
        byte v = (byte)_random.Next(0x20, 0xF0);
        var q = new Queue<string>();
        switch (_random.Next(12))
        {
            case 0:
            case 1:
            case 2:
            case 3:
            case 8:
            case 9:
                {
                    // Level-triggered IOAPIC interrupt to completion (KVM ioapic.c Remote-IRR).
                    int pin = _random.Next(24);
                    q.Enqueue($"ioapic route {pin} vector={Hex(v)} dest={dest} trigger=level{(Chance(6) ? " polarity=low" : string.Empty)}{(Chance(8) ? " mode=lowest" : string.Empty)}");
                    q.Enqueue($"irq {pin} assert");
                    q.Enqueue($"cpu{c} sti");
                    q.Enqueue($"cpu{c} take");

                    // The handler quiets the device, then EOIs (mostly); an EOI with the line still
                    // asserted makes the IOAPIC deliver again.
                    bool quietFirst = !Chance(4);
                    if (quietFirst)
                    {
                        q.Enqueue($"irq {pin} deassert");
                    }

                    if (Chance(5))
                    {
                        // Directed EOI: the local EOI is not broadcast, the IOAPIC EOI register completes it.
                        q.Enqueue($"cpu{c} write SVR 0x11ff");
                        q.Enqueue($"cpu{c} eoi");
                        q.Enqueue($"cpu{c} mmio-write 0xfec00040 {Hex(v)} size=4");
                    }
                    else
                    {
                        q.Enqueue($"cpu{c} eoi");
                    }

                    // A second round, in case a higher vector was taken first.
                    q.Enqueue($"cpu{c} sti");
                    q.Enqueue($"cpu{c} take");
                    q.Enqueue($"cpu{c} eoi");
                    q.Enqueue($"irq {pin} deassert");
                    break;
                }

            case 4:
                {
                    int pin = _random.Next(24);
                    q.Enqueue($"ioapic route {pin} vector={Hex(v)} dest={dest} trigger=edge");
                    q.Enqueue($"irq {pin} pulse");
                    q.Enqueue($"cpu{c} sti");
                    q.Enqueue($"cpu{c} take");
                    q.Enqueue($"cpu{c} eoi");
                    break;
                }

            case 5:
                q.Enqueue($"msi {Hex(MsiAddress(c))} {Hex(v | (Chance(4) ? 0xC000u : 0))}");
                q.Enqueue($"cpu{c} sti");
                q.Enqueue($"cpu{c} take");
                q.Enqueue($"cpu{c} eoi");
                break;
            case 6:
                q.Enqueue($"cpu{Cpu()} ipi {Hex(v)} dest={c} mode=fixed");
                q.Enqueue($"cpu{c} sti");
                q.Enqueue($"cpu{c} take");
                q.Enqueue($"cpu{c} eoi");
                break;
            case 7:
                q.Enqueue(Chance(2) ? $"cpu{Cpu()} ipi 0x00 dest={c} mode=nmi" : $"msi {Hex(MsiAddress(c))} 0x400");
                q.Enqueue($"cpu{c} take");
                q.Enqueue($"cpu{c} iret");
                break;
            default:
                q.Enqueue($"cpu{c} write LVT_TIMER {Hex(v | (Chance(3) ? 0x20000u : 0))}");
                q.Enqueue($"cpu{c} write TDCR 0xb");
                q.Enqueue($"cpu{c} write TMICT {Hex((uint)_random.Next(1, 5000))}");
                q.Enqueue($"advance {_random.Next(1, 100)}us");
                q.Enqueue($"cpu{c} sti");
                q.Enqueue($"cpu{c} take");
                q.Enqueue($"cpu{c} eoi");
                break;
        }

        return q;
    }

    private static ulong PvEoiFlag(int c) => 0x1000ul + ((ulong)c * 64);

    private int ExtraCpu() => _active[_extra.Next(_active.Length)];

    // One of issue 15's guest or VMM actions, from the extra stream.
    private void Extra()
    {
        int c = ExtraCpu();
        byte v = (byte)_extra.Next(0x20, 0xF0);
        switch (_extra.Next(9))
        {
            case 0:
            case 1:
                Line($"cpu{c} pv-eoi eoi");
                break;
            case 2:
                {
                    // Enable (again), disable, or a value KVM refuses: bit 1 set, or not RAM.
                    string what = _extra.Next(4) switch
                    {
                        0 => "disable",
                        1 => $"enable {Hex(PvEoiFlag(c) | 2)}",
                        2 => "enable 0xfee00000",
                        _ => $"enable {Hex(PvEoiFlag(c))}",
                    };
                    Line($"cpu{c} pv-eoi {what}");
                    break;
                }

            case 3:
                Line($"cpu{c} kick-cpu {ExtraCpu()}");
                break;
            case 4:
                {
                    // The halt-and-kick of a PV spinlock.
                    int other = ExtraCpu();
                    Line($"cpu{other} hlt");
                    Line($"cpu{c} kick-cpu {other}");
                    break;
                }

            case 5:
                Line($"msi-route {_extra.Next(32)} {Hex(MsiAddress(ExtraCpu()))} {Hex(v | (_extra.Next(2) == 0 ? 0xC000u : 0))}");
                break;
            case 6:
                Line($"gsi {_extra.Next(32)}");
                break;
            default:
                {
                    // A level MSI route at a reserved IOAPIC GSI taken and ended with a PV EOI where enabled:
                    // with a split irqchip its EOI exits to the VMM.
                    int gsi = _extra.Next(24);
                    Line($"msi-route {gsi} {Hex(MsiAddress(c))} {Hex(v | 0xC000u)}");
                    Line($"gsi {gsi}");
                    Line($"cpu{c} sti");
                    Line($"cpu{c} take");
                    Line(_pvEoi.Contains(c) ? $"cpu{c} pv-eoi eoi" : $"cpu{c} eoi");
                    Line($"cpu{c} iret");
                    break;
                }
        }
    }

    // The destination that names vCPU c physically: its index, which is its APIC ID unless the
    // program changes the ID (that is the program's business).
    private string DestOf(int c) => c.ToString(CultureInfo.InvariantCulture);

    private ulong MsiAddress(int c)
    {
        // Destination ID bits 19:12, with ext-dest-id bits 14:8 of the ID in address bits 11:5.
        ulong low = (ulong)(c & 0xFF) << 12;
        ulong ext = _extDestId ? (ulong)((c >> 8) & 0x7F) << 5 : 0;
        return 0xFEE0_0000ul | low | ext;
    }

    private void Line(string s) => _text.Append(s).Append('\n');

    private bool Chance(int oneIn) => _random.Next(oneIn) == 0;

    private int Cpu() => _active[_random.Next(_active.Length)];

    private int AnyDest() => _random.Next(6) == 0 ? _random.Next(_vmCpus + 1) : (Chance(2) ? Cpu() : _random.Next(Math.Min(_vmCpus, 256) + 1));

    private string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    private uint Value32() => _random.Next(6) switch
    {
        0 => 0,
        1 => (uint)_random.Next(0x100),
        2 => 0x100u | (uint)_random.Next(0x10, 0x100),
        3 => 0x10000u | (uint)_random.Next(0x100),
        4 => 0xFFFF_FFFF,
        _ => (uint)_random.NextInt64(0, 1L << 32),
    };

    private byte Vector() => (byte)(_architectural && Chance(12) ? _random.Next(0, 16) : _random.Next(16, 256));

    private uint IcrSafe(uint value) => _architectural ? value : ((value & 0xFF) < 16 ? value | 0x10 : value);

    private void Statement()
    {
        int c = Cpu();
        switch (_random.Next(30))
        {
            case 0:
                ApicBase(c);
                break;
            case 1:
            case 2:
            case 3:
                {
                    string reg = Registers[_random.Next(Registers.Length)];
                    uint v = reg is "ICR" ? IcrSafe(Value32()) : Value32();
                    Line($"cpu{c} write {reg} {Hex(v)}");
                    break;
                }

            case 4:
            case 5:
                Line($"cpu{c} read {Registers[_random.Next(Registers.Length)]}");
                break;
            case 6:
                {
                    uint msr = 0x800u + (uint)_random.Next(0x100);
                    ulong v = Chance(5) ? (ulong)_random.NextInt64() : Value32();
                    if (msr == 0x830)
                    {
                        v = IcrSafe((uint)v) | ((ulong)AnyDest() << 32);
                    }

                    Line(Chance(2) ? $"cpu{c} rdmsr {Hex(msr)}" : $"cpu{c} wrmsr {Hex(msr)} {Hex(v)}");
                    break;
                }

            case 7:
            case 8:
            case 9:
                Ipi(c);
                break;
            case 10:
            case 11:
                Line($"cpu{c} take");
                break;
            case 12:
                Line($"cpu{c} eoi");
                break;
            case 13:
                Line(Chance(4) ? $"cpu{c} cli" : $"cpu{c} sti");
                break;
            case 14:
                Line(Chance(3) ? $"cpu{c} hlt" : $"cpu{c} iret");
                break;
            case 15:
                {
                    string mode = _random.Next(12) switch
                    {
                        0 or 1 => " mode=lowest",
                        2 => " mode=nmi",
                        3 => " mode=smi",
                        4 => " mode=init",
                        5 => " mode=extint",
                        _ => string.Empty,
                    };
                    int dest = Chance(8) ? 0xFF : Math.Min(AnyDest(), _extDestId ? 0x7FFF : 0xFF);
                    Line($"ioapic route {_random.Next(24)} vector={Hex(Vector())} dest={dest}{(Chance(4) ? " logical" : string.Empty)} trigger={(Chance(2) ? "level" : "edge")}{mode}{(Chance(6) ? " masked" : string.Empty)}");
                    break;
                }

            case 16:
            case 17:
                Line($"irq {_random.Next(24)} {(_random.Next(3) switch { 0 => "assert", 1 => "deassert", _ => "pulse" })}");
                break;
            case 18:
                {
                    // Delivery mode in data bits 10:8: fixed, lowest, SMI, NMI, INIT, ExtINT; 0xff is a broadcast.
                    uint mode = _random.Next(10) switch
                    {
                        0 => 1u,
                        1 => 2u,
                        2 => 4u,
                        3 => 5u,
                        4 => 7u,
                        _ => 0u,
                    };
                    ulong address = (Chance(6) ? 0xFEEF_F000ul : MsiAddress(AnyDest())) | (Chance(4) ? 4ul : 0) | (Chance(6) ? 8ul : 0);
                    Line($"msi {Hex(address)} {Hex(Vector() | (mode << 8) | (Chance(5) ? 0xC000u : 0))}");
                    break;
                }

            case 19:
                // Mostly short steps; sometimes long runs (periodic timers fire many times).
                Line(Chance(10) ? $"advance {_random.Next(1, 50)}ms" : $"advance {_random.Next(1, 500)}us");
                break;
            case 20:
                Timer(c);
                break;
            case 21:
                Line(Chance(2) ? $"cpu{c} wrcr8 {_random.Next(Chance(8) ? 32 : 16)}" : $"cpu{c} rdcr8");
                break;
            case 22:
                Line($"cpu{c} lint{_random.Next(2)} {(_random.Next(3) switch { 0 => "assert", 1 => "deassert", _ => "pulse" })}");
                break;
            case 23:
                Line(Chance(2) ? $"pic raise {Hex((ulong)_random.Next(0x20, 0x30))}" : "pic lower");
                break;
            case 24:
                {
                    // APIC MMIO anywhere in the page (unaligned offsets and above 0x400 too), the
                    // IOAPIC's index, window and EOI registers.
                    ulong addr = _random.Next(4) switch
                    {
                        0 => 0xFEE0_0000ul + (ulong)(_random.Next(0x100) * 4),
                        1 => 0xFEE0_0000ul + (ulong)_random.Next(0x1000),
                        2 => 0xFEC0_0000ul + (ulong)(Chance(2) ? 0 : 0x10),
                        _ => 0xFEC0_0040ul,
                    };
                    int size = 1 << _random.Next(4);
                    uint value = addr == 0xFEE0_0300 ? IcrSafe(Value32()) : Value32();
                    value = size >= 4 ? value : value & (uint)((1ul << (size * 8)) - 1);
                    Line(Chance(2) ? $"cpu{c} mmio-read {Hex(addr)} size={size}" : $"cpu{c} mmio-write {Hex(addr)} {Hex(value)} size={size}");
                    break;
                }

            case 25:
                Line(Chance(2)
                    ? $"ioapic read {Hex((ulong)_random.Next(0x40))}"
                    : $"ioapic write {Hex((ulong)_random.Next(0x40))} {Hex(Value32())}");
                break;
            case 26:
                if (_snapshots > 0 && Chance(2))
                {
                    Line($"restore s{_random.Next(_snapshots)}");
                }
                else
                {
                    Line($"snapshot s{_snapshots++}");
                }

                break;
            case 27:
                Line($"migrate accel={AccelNames.Names[_random.Next(AccelNames.Names.Count)]}");
                break;
            case 28:
                Line($"cpu{c} {(Chance(2) ? "rdtsc" : "cpuid 1 edx")}");
                break;
            default:
                Line($"cpu{c} ipi {Hex((ulong)_random.Next(256))} dest={Cpu()} mode={(Chance(2) ? "init" : "sipi")}");
                break;
        }
    }

    private void ApicBase(int c)
    {
        ulong bsp = c == 0 ? 0x100u : 0;
        ulong v = _random.Next(8) switch
        {
            0 => 0xFEE0_0800 | bsp,          // xAPIC
            1 or 2 => 0xFEE0_0C00 | bsp,     // x2APIC
            3 => 0,                          // disabled
            4 => 0xFEE0_0400,                // invalid EN=0/EXTD=1
            5 => 0xFEE0_0801 | bsp,          // reserved bit
            6 => 0xFED0_0800 | bsp,          // relocated
            _ => 0xFEE0_0800,                // BSP bit flipped
        };
        Line(Chance(6) ? $"cpu{c} host-wrmsr APIC_BASE {Hex(v)}" : $"cpu{c} wrmsr APIC_BASE {Hex(v)}");
    }

    private void Ipi(int c)
    {
        string mode = _random.Next(10) switch
        {
            0 => "lowest",
            1 => "nmi",
            2 => "smi",
            3 => "init",
            4 => "sipi",
            _ => "fixed",
        };
        string shorthand = _random.Next(6) switch
        {
            0 => " shorthand=self",
            1 => " shorthand=all",
            2 => " shorthand=others",
            _ => string.Empty,
        };
        string dest = Chance(6) ? (_vmCpus > 255 && Chance(2) ? "0xffffffff" : "0xff") : AnyDest().ToString(CultureInfo.InvariantCulture);
        byte vector = mode is "fixed" or "lowest" ? Vector() : (byte)_random.Next(256);
        Line($"cpu{c} ipi {Hex(vector)} dest={dest} mode={mode}{(Chance(4) ? " logical" : string.Empty)}{shorthand}{(Chance(6) ? " trigger=level" : string.Empty)}{(Chance(8) ? " level=deassert" : string.Empty)}");
    }

    private void Timer(int c)
    {
        switch (_random.Next(4))
        {
            case 0:
                Line($"cpu{c} write LVT_TIMER {Hex((uint)_random.Next(0x20, 0x100) | ((uint)_random.Next(3) << 17) | (Chance(5) ? 0x10000u : 0))}");
                break;
            case 1:
                Line($"cpu{c} write TMICT {Hex((uint)_random.Next(1, 200_000))}");
                break;
            case 2:
                Line($"cpu{c} write TDCR {Hex((uint)_random.Next(16))}");
                break;
            default:
                Line($"cpu{c} wrmsr TSC_DEADLINE {Hex((ulong)_random.Next(0, 2_000_000))}");
                break;
        }
    }
}
