// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Numerics;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Registers;

namespace VirtualApic.Diagnostics;

/// <summary>What a step may do to interrupts already accepted, by a documented rule.</summary>
[Flags]
public enum StepLicense
{
    /// <summary>Nothing may be dropped: every accepted vector stays pending until taken, every taken one in service until its EOI.</summary>
    None = 0,

    /// <summary>
    /// The step may reset an APIC and so drop its IRR and ISR: an IA32_APIC_BASE write (disable or
    /// mode change through disabled; SDM 11.4.3). Taking an INIT (SDM 10.4.7.3, KVM <c>kvm_lapic_reset</c>)
    /// needs no license: the tracker grants it to a vCPU that held an INIT before the step.
    /// </summary>
    MayResetApic = 1,

    /// <summary>The step replaces the whole state (a snapshot restore): the tracker starts over from it.</summary>
    ReplacesState = 2,
}

/// <summary>
/// Conservation of fixed interrupts, checked step by step on stored state (<see cref="StoredState"/>):
/// a vector pending on a vCPU (IRR, PIR or inbox) stays pending until it is taken, and then it is in
/// service until an EOI clears it; the only other way out is a rule the step is licensed for
/// (<see cref="StepLicense"/>). Per step and vCPU: at most one vector is taken and it was pending
/// before; at most one leaves service and it was the highest in service (EOI order); no pending
/// vector vanishes. Arrivals, takes, EOIs and licensed drops are counted per vector.
/// </summary>
/// <remarks>
/// Pending is a set, not a count: a second request for a vector already pending coalesces into the
/// one IRR bit (SDM 11.8.4), which is a rule, not a loss. One tracker follows one run; it is not
/// thread-safe and allocates (diagnostics, not a hot path).
/// </remarks>
public sealed class ConservationTracker
{
    private uint[][] _pending = [];
    private uint[][] _inService = [];
    private bool[] _initPending = [];
    private long[] _pvEois = [];

    /// <summary>Vectors that newly became pending, per vector.</summary>
    public long[] Arrived { get; } = new long[256];

    /// <summary>Vectors taken (pending to in service), per vector.</summary>
    public long[] Taken { get; } = new long[256];

    /// <summary>Vectors that left service by EOI, per vector.</summary>
    public long[] Completed { get; } = new long[256];

    /// <summary>Vectors dropped under a license (APIC reset), per vector.</summary>
    public long[] Dropped { get; } = new long[256];

    /// <summary>
    /// Compares <paramref name="vm"/> with the state after the previous step and remembers the new
    /// state. Returns the violations (empty when every vector is accounted for). The first call, or
    /// one with <see cref="StepLicense.ReplacesState"/>, only records.
    /// </summary>
    public IReadOnlyList<string> Step(VirtualMachine vm, StepLicense license)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var problems = new List<string>();
        int n = vm.Vcpus.Count;
        bool fresh = _pending.Length != n || (license & StepLicense.ReplacesState) != 0;
        uint[][] pending = new uint[n][];
        uint[][] inService = new uint[n][];
        bool[] initPending = new bool[n];
        long[] pvEois = new long[n];
        for (int c = 0; c < n; c++)
        {
            var vcpu = vm.Vcpus[c];
            pending[c] = new uint[8];
            inService[c] = new uint[8];
            for (int i = 0; i < 8; i++)
            {
                pending[c][i] = StoredState.PendingWord(vm, vcpu, i);
                inService[c][i] = vcpu.Apic.Page.Read(ApicOffset.Isr + (i << 4));
            }

            initPending[c] = (vcpu.PendingEvents & PendingEvents.Init) != 0;
            pvEois[c] = vcpu.PvEoi.Eois;
            if (!fresh)
            {
                // A vCPU that held an INIT may have taken it in this step: its APIC was reset.
                var own = _initPending[c] ? license | StepLicense.MayResetApic : license;

                // A PV EOI the guest made earlier, which KVM performed at an exit in this step, is
                // an EOI too: it cleared the highest in service before any EOI the step itself made.
                int deferred = (int)Math.Clamp(pvEois[c] - _pvEois[c], 0, 8);
                Compare(vcpu, _pending[c], _inService[c], pending[c], inService[c], own, deferred, problems);
            }
        }

        _pending = pending;
        _inService = inService;
        _initPending = initPending;
        _pvEois = pvEois;
        return problems;
    }

    private void Compare(Vcpu vcpu, uint[] p0, uint[] s0, uint[] p1, uint[] s1, StepLicense license, int deferredEois, List<string> problems)
    {
        bool mayReset = (license & StepLicense.MayResetApic) != 0;
        int taken = 0;
        int completed = 0;
        int highestBefore = Highest(s0);
        uint[] mayLeave = HighestOf(s0, 1 + deferredEois);
        uint[] deferredLeave = HighestOf(s0, deferredEois);
        for (int i = 0; i < 8; i++)
        {
            uint leftPending = p0[i] & ~p1[i];

            // A deferred PV EOI ends the instance in service before the step takes again (KVM syncs
            // the flag at the exit, before the entry injects): a vector pending and in service
            // before, in service and no longer pending after, left service and entered it again.
            uint retaken = leftPending & s0[i] & s1[i] & deferredLeave[i];
            uint newlyInService = (s1[i] & ~s0[i]) | retaken;
            uint leftService = (s0[i] & ~s1[i]) | retaken;
            uint arrived = p1[i] & ~p0[i];
            Count(Arrived, i, arrived);
            Count(Taken, i, newlyInService);
            taken += BitOperations.PopCount(newlyInService);
            completed += BitOperations.PopCount(leftService);

            if ((newlyInService & ~p0[i]) != 0)
            {
                Report(problems, vcpu, $"vector(s) {Vectors(i, newlyInService & ~p0[i])} entered service without having been pending");
            }

            uint lost = leftPending & ~newlyInService;
            if (lost != 0)
            {
                if (mayReset)
                {
                    Count(Dropped, i, lost);
                }
                else
                {
                    Report(problems, vcpu, $"accepted vector(s) {Vectors(i, lost)} vanished: neither pending, taken nor dropped by a rule");
                }
            }

            if (leftService != 0)
            {
                if (mayReset)
                {
                    Count(Dropped, i, leftService);
                }
                else
                {
                    Count(Completed, i, leftService);
                    uint expected = mayLeave[i];
                    if ((leftService & ~expected) != 0)
                    {
                        Report(problems, vcpu, string.Create(CultureInfo.InvariantCulture, $"vector(s) {Vectors(i, leftService & ~expected)} left service but an EOI clears only the highest in service (0x{Math.Max(highestBefore, 0):x2})"));
                    }
                }
            }
        }

        if (taken > 1)
        {
            Report(problems, vcpu, string.Create(CultureInfo.InvariantCulture, $"{taken} vectors entered service in one step"));
        }

        if (completed > 1 + deferredEois && !mayReset)
        {
            Report(problems, vcpu, string.Create(CultureInfo.InvariantCulture, $"{completed} vectors left service in one step"));
        }
    }

    // The k highest vectors of a set, as a set (the EOI order of k EOIs).
    private static uint[] HighestOf(uint[] words, int k)
    {
        uint[] top = new uint[8];
        for (int i = 7; i >= 0 && k > 0; i--)
        {
            uint w = words[i];
            while (w != 0 && k > 0)
            {
                int b = 31 - BitOperations.LeadingZeroCount(w);
                top[i] |= 1u << b;
                w &= ~(1u << b);
                k--;
            }
        }

        return top;
    }

    private static int Highest(uint[] words)
    {
        for (int i = 7; i >= 0; i--)
        {
            if (words[i] != 0)
            {
                return (i << 5) + 31 - BitOperations.LeadingZeroCount(words[i]);
            }
        }

        return -1;
    }

    private static void Count(long[] counts, int word, uint bits)
    {
        while (bits != 0)
        {
            int b = BitOperations.TrailingZeroCount(bits);
            counts[(word << 5) + b]++;
            bits &= bits - 1;
        }
    }

    private static string Vectors(int word, uint bits)
    {
        var list = new List<string>();
        while (bits != 0)
        {
            int b = BitOperations.TrailingZeroCount(bits);
            list.Add(string.Create(CultureInfo.InvariantCulture, $"0x{(word << 5) + b:x2}"));
            bits &= bits - 1;
        }

        return string.Join(' ', list);
    }

    private static void Report(List<string> problems, Vcpu vcpu, string message) =>
        problems.Add(string.Create(CultureInfo.InvariantCulture, $"cpu{vcpu.Index}: conservation: {message}"));
}
