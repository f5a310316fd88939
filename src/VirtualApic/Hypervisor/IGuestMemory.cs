// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Hypervisor;

/// <summary>
/// Guest-physical RAM as the hypervisor reaches it (KVM <c>kvm_read_guest_cached</c> /
/// <c>kvm_write_guest_cached</c>), provided by the embedder. The model needs it only for KVM's
/// paravirtual interfaces that live in guest memory (PV EOI, <see cref="PvEoi"/>).
/// </summary>
/// <remarks>
/// A vCPU calls it on its own thread; an embedder whose guest runs on several threads makes it safe
/// for that. Neither method may throw for an address the guest chose: unbacked memory is a
/// <c>false</c> result.
/// </remarks>
public interface IGuestMemory
{
    /// <summary>Reads <c>destination.Length</c> bytes at <paramref name="gpa"/>; false when any byte is not RAM.</summary>
    bool TryRead(ulong gpa, Span<byte> destination);

    /// <summary>Writes <paramref name="source"/> at <paramref name="gpa"/>; false (nothing written) when any byte is not RAM.</summary>
    bool TryWrite(ulong gpa, ReadOnlySpan<byte> source);
}
