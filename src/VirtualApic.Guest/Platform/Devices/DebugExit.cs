// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Platform.Devices;

/// <summary>
/// QEMU's isa-debug-exit at 0xF4 (4 ports): a write stops the machine with the value written as its
/// status. QEMU exits with <c>(status &lt;&lt; 1) | 1</c>; kvm-unit-tests writes 0 when every test passed.
/// </summary>
public sealed class DebugExit : IPortDevice
{
    /// <summary>The port kvm-unit-tests uses.</summary>
    public const ushort Port = 0xF4;

    /// <summary>The status written, or <see langword="null"/> while nobody wrote one.</summary>
    public uint? Status { get; private set; }

    /// <summary>The exit code QEMU would return for <see cref="Status"/>.</summary>
    public int? QemuExitCode => Status is { } s ? (int)((s << 1) | 1) : null;

    /// <inheritdoc/>
    public uint Read(ushort port, int size) => uint.MaxValue;

    /// <inheritdoc/>
    public void Write(ushort port, uint value, int size) => Status ??= value;
}
