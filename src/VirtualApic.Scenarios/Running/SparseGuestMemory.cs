// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Hypervisor;

namespace VirtualApic.Scenarios.Running;

/// <summary>
/// The scenario VM's RAM: every byte below <see cref="RamTop"/> (3 GiB, where a PC's low RAM ends
/// and the PCI hole with the IOAPIC and APIC windows begins) reads as zero until written; 4 KiB pages
/// are allocated on first write. Bounded: one page per distinct page written.
/// </summary>
/// <remarks>Thread-safe (one lock); only KVM's paravirtual interfaces and the runner touch it.</remarks>
public sealed class SparseGuestMemory : IGuestMemory
{
    /// <summary>The first guest-physical address that is not RAM.</summary>
    public const ulong RamTop = 0xC000_0000;

    private const int PageSize = 4096;
    private readonly Dictionary<ulong, byte[]> _pages = [];
    private readonly Lock _lock = new();

    /// <summary>The number of pages written so far.</summary>
    public int Pages
    {
        get
        {
            lock (_lock)
            {
                return _pages.Count;
            }
        }
    }

    /// <inheritdoc/>
    public bool TryRead(ulong gpa, Span<byte> destination)
    {
        if (!IsRam(gpa, destination.Length))
        {
            return false;
        }

        lock (_lock)
        {
            for (int i = 0; i < destination.Length; i++)
            {
                ulong a = gpa + (ulong)i;
                destination[i] = _pages.TryGetValue(a / PageSize, out byte[]? page) ? page[a % PageSize] : (byte)0;
            }
        }

        return true;
    }

    /// <inheritdoc/>
    public bool TryWrite(ulong gpa, ReadOnlySpan<byte> source)
    {
        if (!IsRam(gpa, source.Length))
        {
            return false;
        }

        lock (_lock)
        {
            for (int i = 0; i < source.Length; i++)
            {
                ulong a = gpa + (ulong)i;
                if (!_pages.TryGetValue(a / PageSize, out byte[]? page))
                {
                    page = new byte[PageSize];
                    _pages[a / PageSize] = page;
                }

                page[a % PageSize] = source[i];
            }
        }

        return true;
    }

    /// <summary>A copy of the contents (snapshots).</summary>
    public SparseGuestMemory Clone()
    {
        var copy = new SparseGuestMemory();
        copy.CopyFrom(this);
        return copy;
    }

    /// <summary>Replaces the contents with <paramref name="other"/>'s (restores).</summary>
    public void CopyFrom(SparseGuestMemory other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (ReferenceEquals(other, this))
        {
            return;
        }

        KeyValuePair<ulong, byte[]>[] pages;
        lock (other._lock)
        {
            pages = [.. other._pages.Select(p => KeyValuePair.Create(p.Key, (byte[])p.Value.Clone()))];
        }

        lock (_lock)
        {
            _pages.Clear();
            foreach (var (key, page) in pages)
            {
                _pages[key] = page;
            }
        }
    }

    private static bool IsRam(ulong gpa, int length) => gpa < RamTop && (ulong)length <= RamTop - gpa;
}
