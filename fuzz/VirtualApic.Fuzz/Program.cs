// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text;
using SharpFuzz;
using VirtualApic.Cpu;
using VirtualApic.Core;
using VirtualApic.Scenarios.Syntax;
using VirtualApic.Snapshot;
using VirtualApic.Time;

namespace VirtualApic.Fuzz;

/// <summary>
/// AFL++ targets for the host-facing parsers: <c>scenario</c> (the .vapic parser) and
/// <c>snapshot</c> (the vCPU snapshot loader and the KVM register-image restore). Malformed input
/// must come back as diagnostics or <see cref="SnapshotFormatException"/>; any other exception is a
/// crash AFL records. Run through fuzz/run-afl.sh.
/// </summary>
public static class Program
{
    /// <summary>Entry point: <c>scenario</c> or <c>snapshot</c>, then AFL drives stdin.</summary>
    public static int Main(string[] args)
    {
        string target = args.Length > 0 ? args[0] : "scenario";
        if (target == "make-seed" && args.Length > 1)
        {
            // A valid snapshot to start the snapshot corpus from.
            using var vcpu = new Vcpu(1, new ApicConfig(), new VirtualClock());
            vcpu.TryWriteMsr(0x1B, 0xFEE0_0C00);
            vcpu.TryWriteMsr(0x80F, 0x1FF);
            vcpu.TryWriteMsr(0x832, 0x20030);
            vcpu.TryWriteMsr(0x838, 1000);
            File.WriteAllBytes(Path.Combine(args[1], "x2apic-timer.bin"), VcpuSnapshot.Capture(vcpu).Serialize());
            return 0;
        }

        Action<Stream> body = target switch
        {
            "scenario" => Scenario,
            "snapshot" => Snapshot,
            _ => throw new ArgumentException("target must be scenario or snapshot"),
        };
        if (args.Length > 1)
        {
            // Replay one input (a crash AFL found) outside AFL.
            using var file = File.OpenRead(args[1]);
            body(file);
            return 0;
        }

        Fuzzer.OutOfProcess.Run(body);
        return 0;
    }

    private static void Scenario(Stream input)
    {
        using var reader = new StreamReader(input, Encoding.UTF8);
        var result = ScenarioParser.Parse(reader.ReadToEnd(), "fuzz.vapic");
        if (!result.Succeeded && result.Diagnostics.Count == 0)
        {
            throw new InvalidOperationException("a failed parse must report a diagnostic");
        }
    }

    private static void Snapshot(Stream input)
    {
        using var buffer = new MemoryStream();
        input.CopyTo(buffer);
        byte[] data = buffer.ToArray();
        using var vcpu = new Vcpu(1, new ApicConfig(), new VirtualClock());
        try
        {
            VcpuSnapshot.Deserialize(data).Restore(vcpu);
        }
        catch (SnapshotFormatException)
        {
        }

        if (data.Length >= KvmLapicState.Size)
        {
            try
            {
                KvmLapicState.Apply(vcpu.Apic, data.AsSpan(0, KvmLapicState.Size));
            }
            catch (SnapshotFormatException)
            {
            }
        }
    }
}
