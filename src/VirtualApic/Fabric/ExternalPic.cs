// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Cpu;

namespace VirtualApic.Fabric;

/// <summary>
/// The smallest 8259 a virtual-wire configuration needs: an INTR output the host raises with a
/// vector, which the INTA cycle answers with that vector and then lowers (the request moves to the
/// 8259's ISR). Wired to every vCPU's LINT0.
/// </summary>
public sealed class ExternalPic : IExternalInterruptController
{
    private readonly Lock _lock = new();
    private volatile bool _intr;
    private byte _vector;

    /// <summary>Raised when INTR goes high, so halted vCPUs can be woken.</summary>
    public event Action? Raised;

    /// <inheritdoc/>
    public bool HasInterrupt => _intr; // read on every take: no lock

    /// <summary>The vector the next acknowledge returns.</summary>
    public byte Vector => _vector;

    /// <summary>Raises INTR with <paramref name="vector"/>.</summary>
    public void Raise(byte vector)
    {
        lock (_lock)
        {
            _intr = true;
            _vector = vector;
        }

        Raised?.Invoke();
    }

    /// <summary>Lowers INTR.</summary>
    public void Lower()
    {
        lock (_lock)
        {
            _intr = false;
        }
    }

    /// <inheritdoc/>
    public byte Acknowledge()
    {
        lock (_lock)
        {
            _intr = false;
            return _vector;
        }
    }

    /// <summary>The state for snapshots.</summary>
    public (bool Intr, byte Vector) Save()
    {
        lock (_lock)
        {
            return (_intr, _vector);
        }
    }

    /// <summary>Restores the state; a restored INTR wakes its vCPUs as a raise does (a halted vCPU must not sleep on it).</summary>
    public void Restore((bool Intr, byte Vector) state)
    {
        lock (_lock)
        {
            (_intr, _vector) = state;
        }

        if (state.Intr)
        {
            Raised?.Invoke();
        }
    }
}
