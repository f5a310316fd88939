namespace VirtualApic.Assist;

/// <summary>Why a guest access left "hardware" for the hypervisor (a VM exit).</summary>
public enum ExitReason : byte
{
    /// <summary>An intercepted RDMSR (APIC_BASE, TSC_DEADLINE, emulated x2APIC registers).</summary>
    MsrRead,
    /// <summary>An intercepted WRMSR.</summary>
    MsrWrite,
    /// <summary>An xAPIC MMIO access emulated by the hypervisor (NPF / APIC-access exit, fault-like).</summary>
    ApicAccess,
    /// <summary>Intel APIC-write VM exit (trap-like, exit reason 56).</summary>
    ApicWrite,
    /// <summary>Intel EOI-induced VM exit (trap-like, the EOI-exit bitmap had the vector).</summary>
    EoiInduced,
    /// <summary>AMD #VMEXIT(AVIC_NOACCEL) 0x402, trap-like or fault-like.</summary>
    AvicNoAccel,
    /// <summary>AMD #VMEXIT(AVIC_INCOMPLETE_IPI) 0x401.</summary>
    AvicIncompleteIpi,
    /// <summary>HLT.</summary>
    Hlt,
}

/// <summary>Exit counts of one vCPU, by reason (the <c>perf kvm stat</c> view).</summary>
public sealed class ExitStatistics
{
    private static readonly string[] Names =
        ["msr-read", "msr-write", "apic-access", "apic-write", "eoi-induced", "avic-noaccel", "avic-incomplete-ipi", "hlt"];

    private readonly long[] _counts = new long[Names.Length];

    /// <summary>Every reason, in enum order.</summary>
    public static IReadOnlyList<ExitReason> Reasons { get; } = Enum.GetValues<ExitReason>();

    /// <summary>The name of a reason as scenarios and reports spell it (<c>avic-noaccel</c>).</summary>
    public static string NameOf(ExitReason reason) => Names[(int)reason];

    /// <summary>Parses a reason name.</summary>
    public static bool TryParse(string name, out ExitReason reason)
    {
        int i = Array.FindIndex(Names, n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
        reason = i < 0 ? default : (ExitReason)i;
        return i >= 0;
    }

    /// <summary>The count for one reason.</summary>
    public long this[ExitReason reason] => Volatile.Read(ref _counts[(int)reason]);

    /// <summary>The total of all reasons.</summary>
    public long Total
    {
        get
        {
            long t = 0;
            for (int i = 0; i < _counts.Length; i++)
            {
                t += Volatile.Read(ref _counts[i]);
            }

            return t;
        }
    }

    /// <summary>Counts one exit. Only the vCPU's own thread exits, so a plain increment is enough.</summary>
    public void Count(ExitReason reason) => _counts[(int)reason]++;

    /// <summary>Zeroes every count.</summary>
    public void Clear() => Array.Clear(_counts);
}

/// <summary>Receives the events of a run, for traces (each exit, each delivery, each EOI and timer fire).</summary>
public interface IVmTracer
{
    /// <summary>A VM exit of <paramref name="vcpu"/>.</summary>
    void OnExit(int vcpu, ExitReason reason, int offsetOrMsr, bool trapLike);

    /// <summary>A fixed vector became pending on <paramref name="vcpu"/> (IRR or PIR).</summary>
    void OnDelivery(int vcpu, int vector, bool posted);

    /// <summary>An EOI completed on <paramref name="vcpu"/>.</summary>
    void OnEoi(int vcpu, int vector);
}
