// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.InteropServices;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>An executable page of host memory (mmap + mprotect through libc) for running assembled
/// snippets natively on an x86-64 Linux host.</summary>
internal sealed unsafe partial class NativeCode : IDisposable
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapPrivate = 2, MapAnonymous = 0x20;
    private const nuint Size = 4096;
    private readonly void* _page;

    public NativeCode()
    {
        _page = Mmap(null, Size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (_page == (void*)-1)
        {
            throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Whether native x86-64 execution is possible here, and if not, why.</summary>
    public static string? WhyUnavailable =>
        RuntimeInformation.ProcessArchitecture != Architecture.X64 ? $"the host is {RuntimeInformation.ProcessArchitecture}, not x86-64"
        : !OperatingSystem.IsLinux() ? "the native oracle uses Linux mmap/mprotect"
        : null;

    public ulong Address => (ulong)_page;

    /// <summary>Copies code into the page and makes it executable (W^X: never both at once).</summary>
    public void Load(ReadOnlySpan<byte> code)
    {
        Check(Mprotect(_page, Size, ProtRead | ProtWrite));
        code.CopyTo(new Span<byte>(_page, (int)Size));
        Check(Mprotect(_page, Size, ProtRead | ProtExec));
    }

    /// <summary>Calls the code as <c>void f(void* state)</c> (System V ABI: the argument in RDI).</summary>
    public void Call(ulong* state)
    {
        var f = (delegate* unmanaged<ulong*, void>)_page;
        f(state);
    }

    public void Dispose() => _ = Munmap(_page, Size);

    private static void Check(int rc)
    {
        if (rc != 0)
        {
            throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(void* addr, nuint length, int prot);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(void* addr, nuint length);
}
