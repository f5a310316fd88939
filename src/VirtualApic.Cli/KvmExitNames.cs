// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Fabric;

namespace VirtualApic.Cli;

/// <summary>
/// The names Linux gives each exit in its tracepoints and in <c>perf kvm stat</c>: VMX's
/// <c>VMX_EXIT_REASONS</c> (upper case) for <c>none</c> and <c>apicv</c>, SVM's
/// <c>SVM_EXIT_REASONS</c> (lower case) for <c>avic</c> and <c>x2avic</c>. SVM has one MSR exit for
/// both directions, so its rows carry the direction in parentheses; <c>apic-access</c> under AVIC is
/// the nested page fault on the APIC page. <c>none</c> is KVM's emulated APIC on either vendor and is
/// reported with the VMX names.
/// </summary>
internal static class KvmExitNames
{
    private static readonly Dictionary<ExitReason, (string Vmx, string Svm)> Table = new()
    {
        [ExitReason.MsrRead] = ("MSR_READ", "msr (read)"),
        [ExitReason.MsrWrite] = ("MSR_WRITE", "msr (write)"),
        [ExitReason.ApicAccess] = ("APIC_ACCESS", "npf"),
        [ExitReason.ApicWrite] = ("APIC_WRITE", "APIC_WRITE"),
        [ExitReason.EoiInduced] = ("EOI_INDUCED", "EOI_INDUCED"),
        [ExitReason.AvicNoAccel] = ("avic_unaccelerated_access", "avic_unaccelerated_access"),
        [ExitReason.AvicIncompleteIpi] = ("avic_incomplete_ipi", "avic_incomplete_ipi"),
        [ExitReason.Hlt] = ("HLT", "hlt"),
    };

    /// <summary>The name <c>perf kvm stat</c> shows for <paramref name="reason"/> under <paramref name="backend"/>.</summary>
    public static string Of(ExitReason reason, string backend) =>
        AccelNames.TryParse(backend, out var kind) && AccelNames.IsSvm(kind) ? Table[reason].Svm : Table[reason].Vmx;
}
