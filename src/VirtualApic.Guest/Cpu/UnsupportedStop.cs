// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Cpu;

/// <summary>What stopped a run that met something the interpreter does not model: the place, the raw bytes,
/// Iced's disassembly and a one-line reason. The CPU never guesses; its state is as before the instruction.</summary>
/// <param name="Rip">RIP of the instruction (offset in CS).</param>
/// <param name="LinearAddress">CS base + RIP.</param>
/// <param name="Bytes">The instruction bytes as fetched (up to 15; fewer if the fetch itself failed).</param>
/// <param name="Disassembly">Iced's disassembly, or an empty string when nothing could be decoded.</param>
/// <param name="Reason">Why it is unsupported.</param>
public sealed record UnsupportedStop(ulong Rip, ulong LinearAddress, byte[] Bytes, string Disassembly, string Reason)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"unsupported at RIP {Rip:X16} (linear {LinearAddress:X16}): {Disassembly} [{Convert.ToHexString(Bytes)}]: {Reason}";
}
