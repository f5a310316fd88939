// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using VirtualApic.Cpu;
using VirtualApic.Fabric;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Fabric;

/// <summary>
/// Cross-thread delivery in the style of KVM's selftest xapic_ipi_test: one receiver vCPU thread
/// that takes, counts and EOIs vectors (halting and waiting for a kick when idle), and sender
/// threads that each own a vCPU and send it fixed IPIs with their own vector through their own
/// ICR (or, in the device variant, plain threads sending MSIs). The IRR coalesces a vector, so a
/// sender waits until its previous interrupt was taken before the next one, as the selftest does;
/// then every interrupt sent must be taken exactly once.
/// </summary>
public class ThreadedIpiTests(ITestOutputHelper output)
{
    private const int Senders = 3;
    private const byte BaseVector = 0x40;
    private static readonly TimeSpan SendFor = TimeSpan.FromMilliseconds(600);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(2);

    // Each sender sends at least this many, however slow the host: progress, not wall time, ends a run.
    private const int MinSends = 50;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Ipis_from_sender_vcpu_threads_are_each_taken_exactly_once(bool x2)
    {
        // vCPU 0 receives; vCPU i + 1 is sender i's own vCPU.
        using var vm = TestGuest.Vm(Senders + 1, x2);
        Run(vm, (i, vector) => vm.Vcpus[i + 1].SendFixed(vector, 0));
    }

    [Fact]
    public void Msis_from_device_threads_are_each_taken_exactly_once()
    {
        using var vm = TestGuest.Vm(2, x2Apic: true);
        ulong address = Msi.EncodeAddress(1);
        Run(vm, (_, vector) => vm.DeliverMsi(address, vector), receiverIndex: 1);
    }

    private void Run(VirtualMachine vm, Action<int, byte> send, int receiverIndex = 0)
    {
        long[] sent = new long[Senders];
        long[] received = new long[Senders];
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int sendersRunning = Senders;
        bool stopReceiver = false;
        var receiver = vm.Vcpus[receiverIndex];

        var receiverThread = new Thread(() =>
        {
            try
            {
                receiver.Sti();
                while (!Volatile.Read(ref stopReceiver))
                {
                    receiver.PrepareToWait();
                    var e = receiver.Take();
                    if (e.Kind == GuestEventKind.Vector)
                    {
                        int i = e.Vector - BaseVector;
                        if ((uint)i >= Senders)
                        {
                            failures.Enqueue($"unexpected vector 0x{e.Vector:x2}");
                        }
                        else if (Volatile.Read(ref received[i]) >= Volatile.Read(ref sent[i]))
                        {
                            failures.Enqueue($"vector 0x{e.Vector:x2} taken with nothing outstanding (duplicate)");
                        }

                        receiver.WriteEoi();
                        receiver.Iret(); // IF back on
                        if ((uint)i < Senders)
                        {
                            Interlocked.Increment(ref received[i]);
                        }
                    }
                    else if (e.Kind != GuestEventKind.None)
                    {
                        failures.Enqueue($"unexpected event {e}");
                    }
                    else
                    {
                        receiver.Hlt();
                        receiver.WaitForKick(TimeSpan.FromMilliseconds(2));
                    }
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                failures.Enqueue($"receiver: {ex}");
            }
        })
        { IsBackground = true, Name = "receiver" };

        var senderThreads = new Thread[Senders];
        for (int s = 0; s < Senders; s++)
        {
            int i = s;
            senderThreads[i] = new Thread(() =>
            {
                try
                {
                    byte vector = (byte)(BaseVector + i);
                    var clock = Stopwatch.StartNew();
                    while (clock.Elapsed < SendFor || Volatile.Read(ref sent[i]) < MinSends)
                    {
                        // Wait until the previous one was taken (the IRR would coalesce it).
                        var spin = new SpinWait();
                        var waited = Stopwatch.StartNew();
                        while (Volatile.Read(ref received[i]) != Volatile.Read(ref sent[i]))
                        {
                            if (waited.Elapsed > Patience)
                            {
                                failures.Enqueue($"sender {i}: IPI {sent[i]} not taken within {Patience}");
                                return;
                            }

                            spin.SpinOnce();
                        }

                        Interlocked.Increment(ref sent[i]);
                        send(i, vector);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    failures.Enqueue($"sender {i}: {ex}");
                }
                finally
                {
                    Interlocked.Decrement(ref sendersRunning);
                }
            })
            { IsBackground = true, Name = $"sender {i}" };
        }

        receiverThread.Start();
        foreach (var t in senderThreads)
        {
            t.Start();
        }

        foreach (var t in senderThreads)
        {
            Assert.True(t.Join(TimeSpan.FromMinutes(1)), "a sender thread hung"); // a hang guard only: each IPI has its own Patience
        }

        // Let the receiver drain the last ones, then stop it.
        var drain = Stopwatch.StartNew();
        while (drain.Elapsed < Patience && !AllTaken(sent, received))
        {
            Thread.Sleep(1);
        }

        Volatile.Write(ref stopReceiver, true);
        receiver.Kick();
        Assert.True(receiverThread.Join(Patience), "the receiver thread hung");

        output.WriteLine($"sent {string.Join(", ", sent)}; received {string.Join(", ", received)}; receiver kicks {receiver.Kicks}");
        Assert.Empty(failures);
        Assert.Equal(0, sendersRunning);
        for (int i = 0; i < Senders; i++)
        {
            Assert.True(sent[i] >= MinSends, $"sender {i} stopped early: {sent[i]} sent");
            Assert.Equal(sent[i], received[i]);
        }

        Assert.True(receiver.Apic.HighestIrr < 0, "nothing left pending");
        Assert.True(receiver.Apic.HighestIsr < 0, "nothing left in service");
    }

    private static bool AllTaken(long[] sent, long[] received)
    {
        for (int i = 0; i < sent.Length; i++)
        {
            if (Volatile.Read(ref received[i]) != Volatile.Read(ref sent[i]))
            {
                return false;
            }
        }

        return true;
    }
}
