// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Core;

namespace VirtualApic.Tests.Support;

/// <summary>An <see cref="IApicCpu"/> that records the non-vector events the APIC hands over.</summary>
internal sealed class RecordingCpu : IApicCpu
{
    public int Nmis { get; private set; }

    public int Smis { get; private set; }

    public int Inits { get; private set; }

    public List<byte> Sipis { get; } = [];

    public void OnNmi() => Nmis++;

    public void OnSmi() => Smis++;

    public void OnInit() => Inits++;

    public void OnSipi(byte vector) => Sipis.Add(vector);
}
