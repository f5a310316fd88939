// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;

namespace VirtualApic.Guest.Cpu;

/// <summary>The run loop, instruction fetch and the decode cache.</summary>
public sealed partial class X86Cpu
{
    private const int MaxCachedPages = 2048;

    private readonly LinearCodeReader _reader;
    private readonly Decoder _decoder16, _decoder32, _decoder64;
    private readonly Dictionary<ulong, CodePage> _codePages = [];
    private Decoded _uncached;

    /// <summary>Linear page (address &gt;&gt; 12) of <see cref="_fetchPage"/>, or <see cref="ulong.MaxValue"/>.</summary>
    private ulong _fetchLinearPage = ulong.MaxValue;
    private CodePage? _fetchPage;

    /// <summary>RIP of the instruction after the one executing (branches overwrite it).</summary>
    private ulong _nextRip;

    /// <summary>RSP at the start of the executing instruction, restored when it faults.</summary>
    private ulong _startRsp;

    private StopReason _stop;
    private bool _stopRequested;

    /// <summary>
    /// Runs until <paramref name="maxInstructions"/> have retired or something stops the CPU: HLT, PAUSE,
    /// <see cref="RequestYield"/>, wait-for-SIPI, shutdown, or an unsupported instruction. Events are checked
    /// first (a halted CPU wakes if one is delivered, otherwise this returns <see cref="StopReason.Halted"/> at once).
    /// </summary>
    /// <param name="maxInstructions">The instruction budget.</param>
    public RunResult Run(long maxInstructions)
    {
        long start = _retired;
        _yieldRequested = false;
        _stopRequested = false;
        while (true)
        {
            try
            {
                var reason = RunInner(start + maxInstructions);
                return new RunResult(reason, _retired - start);
            }
            catch (UnsupportedException e)
            {
                _gpr[4] = _startRsp;
                return new RunResult(StopReason.Unsupported, _retired - start, DescribeUnsupported(e.Message));
            }
        }
    }

    private StopReason RunInner(long end)
    {
        // The try region is entered once per fault, not once per instruction, so the loop itself
        // stays free of exception-handling bookkeeping.
        while (true)
        {
            try
            {
                return RunLoop(end);
            }
            catch (GuestFault)
            {
                // From the fetch or execution of the instruction at RIP (event delivery handles its own).
                HandleInstructionFault();
            }
        }
    }

    private StopReason RunLoop(long end)
    {
        while (true)
        {
            if (_shutdown)
            {
                return StopReason.Shutdown;
            }

            if (_eventCheck && !_shadowActive)
            {
                CheckEvents();
                if (_shutdown)
                {
                    return StopReason.Shutdown;
                }
            }

            if (_waitForSipi)
            {
                if (_eventCheck)
                {
                    continue; // an INIT was just taken: the SIPI may be waiting behind it
                }

                return StopReason.WaitForSipi;
            }

            if (_halted)
            {
                return StopReason.Halted;
            }

            if (_retired >= end)
            {
                return StopReason.BudgetExhausted;
            }

            _startRsp = _gpr[4];
            ref var d = ref Fetch();
            _nextRip = MaskIp(_rip + d.Length);
            Execute(ref d);
            _rip = _nextRip;
            _retired++;
            _shadowActive = _shadowPending;
            _shadowPending = false;
            if (_stopRequested | _yieldRequested)
            {
                if (_stopRequested)
                {
                    _stopRequested = false;
                    return _stop;
                }

                _yieldRequested = false;
                return StopReason.YieldRequested;
            }
        }
    }

    private void RequestStop(StopReason reason)
    {
        _stop = reason;
        _stopRequested = true;
    }

    private void HandleInstructionFault()
    {
        // Precise: RIP still points at the faulting instruction; undo the only register a partly
        // executed instruction may have moved before faulting.
        _gpr[4] = _startRsp;
        _shadowPending = false;
        _shadowActive = false;
        DeliverException(_fault.Vector, _fault.ErrorCode, _fault.FaultAddress);
    }

    private ulong MaskIp(ulong ip) => _bitness == 64 ? ip : _bitness == 32 ? (uint)ip : (ushort)ip;

    internal ulong MaskLinear(ulong linear) => (_efer & EferLma) != 0 ? linear : (uint)linear;

    private ulong CsBase => _bitness == 64 ? 0 : _segBase[1];

    private ref Decoded Fetch()
    {
        ulong linear = MaskLinear(CsBase + _rip);
        var page = _fetchPage;
        if (linear >> 12 == _fetchLinearPage && page!.Generation == _pageGeneration[page.PhysicalPage])
        {
            int slot = page.Slot[linear & 0xFFF];
            if (slot != 0)
            {
                return ref page.Ops[slot];
            }
        }

        return ref FetchSlow(linear);
    }

    private ref Decoded FetchSlow(ulong linear)
    {
        ulong physical = TranslateFetch(linear);
        ulong physPage = physical >> 12;
        if (physical >= _ramSize || IsMmio(physical))
        {
            throw new UnsupportedException($"instruction fetch from MMIO or unbacked physical address {physical:X}");
        }

        ulong key = (physPage << 2) | (uint)(_bitness >> 5);
        if (!_codePages.TryGetValue(key, out var page))
        {
            if (_codePages.Count >= MaxCachedPages)
            {
                _codePages.Clear();
            }

            page = new CodePage(physPage, _bitness, _pageGeneration[physPage]);
            _codePages.Add(key, page);
        }
        else if (page.Generation != _pageGeneration[physPage])
        {
            page.Clear(_pageGeneration[physPage]);
        }

        _memory.MarkCode(physPage);
        _fetchPage = page;
        _fetchLinearPage = linear >> 12;
        int offset = (int)(linear & 0xFFF);
        int slot = page.Slot[offset];
        if (slot != 0)
        {
            return ref page.Ops[slot];
        }

        DecodeAt(linear, ref _uncached);
        if (_reader.CrossedPage)
        {
            return ref _uncached;
        }

        if (page.Count == page.Ops.Length)
        {
            var bigger = new Decoded[page.Ops.Length * 2];
            Array.Copy(page.Ops, bigger, page.Ops.Length);
            page.Ops = bigger;
        }

        slot = page.Count++;
        page.Ops[slot] = _uncached;
        page.Slot[offset] = (ushort)slot;
        return ref page.Ops[slot];
    }

    private void DecodeAt(ulong linear, ref Decoded d)
    {
        _reader.Reset(linear);
        var decoder = _bitness == 64 ? _decoder64 : _bitness == 32 ? _decoder32 : _decoder16;
        decoder.IP = _rip;
        decoder.Decode(out d.I);
        if (d.I.IsInvalid)
        {
            // Iced decodes every valid encoding; what it rejects is #UD, or #GP(0) when it is too long (SDM Vol 3A
            // 6.15, interrupt 13: the 15-byte limit). Iced reads at most 15 bytes, so look again without the extra prefixes.
            if (_reader.BytesRead.Length >= 15 && ExceedsLengthLimit(linear))
            {
                RaiseGp(0);
            }

            RaiseUd();
        }

        d.Length = (byte)d.I.Length;
        ulong next = MaskIp(_rip + d.Length);
        d.Relative = 0;
        d.RipRelative = false;
        d.MemBytes = 0;
        d.AddrBytes = (byte)(_bitness / 8);
        int opCount = d.I.OpCount;
        var k0 = opCount > 0 ? d.I.Op0Kind : OpKind.Register;
        if (k0 is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64)
        {
            d.Relative = (long)(d.I.NearBranchTarget - next);
        }

        bool hasMemory = false;
        for (int i = 0; i < opCount; i++)
        {
            if (d.I.GetOpKind(i) == OpKind.Memory)
            {
                hasMemory = true;
            }
        }

        if (hasMemory)
        {
            d.MemBytes = (byte)d.I.MemorySize.GetSize();
            var b = d.I.MemoryBase;
            if (b is Register.RIP or Register.EIP)
            {
                d.RipRelative = true;
                d.Relative = (long)(d.I.MemoryDisplacement64 - next);
                d.AddrBytes = (byte)(b == Register.RIP ? 8 : 4);
            }
            else if (b != Register.None)
            {
                d.AddrBytes = (byte)b.GetSize();
            }
            else if (d.I.MemoryIndex != Register.None)
            {
                d.AddrBytes = (byte)d.I.MemoryIndex.GetSize();
            }
            else if (d.I.MemoryDisplSize is 2 or 4 or 8)
            {
                d.AddrBytes = (byte)d.I.MemoryDisplSize;
            }
        }

        d.OpBytes = (byte)OperandBytes(ref d.I, d.MemBytes);
    }

    /// <summary>
    /// Whether the instruction at <paramref name="linear"/>, whose first 15 bytes Iced rejected, is a valid one
    /// longer than 15 bytes: it is decoded again without its redundant prefixes (a prefix byte repeated later in
    /// the prefix run, a REX not right before the opcode), which change nothing but the length.
    /// </summary>
    private bool ExceedsLengthLimit(ulong linear)
    {
        var window = _reader.BytesRead;
        int run = 0;
        while (run < window.Length && IsPrefix(window[run]))
        {
            run++;
        }

        var kept = new List<byte>(16);
        int removed = 0;
        for (int i = 0; i < run; i++)
        {
            bool redundant = window[(i + 1)..run].Contains(window[i]) || (IsRex(window[i]) && i < run - 1);
            if (redundant)
            {
                removed++;
            }
            else
            {
                kept.Add(window[i]);
            }
        }

        if (removed == 0)
        {
            return false;
        }

        kept.AddRange(window[run..]);
        for (int i = window.Length; kept.Count < 15 && TryPeekCode(MaskLinear(linear + (ulong)i), out byte b); i++)
        {
            kept.Add(b);
        }

        var decoder = Decoder.Create(_bitness, new ByteArrayCodeReader(kept.ToArray()));
        decoder.Decode(out var instr);
        return !instr.IsInvalid && instr.Length + removed > 15;
    }

    private bool IsPrefix(byte b) =>
        b is 0x26 or 0x2E or 0x36 or 0x3E or 0x64 or 0x65 or 0x66 or 0x67 or 0xF0 or 0xF2 or 0xF3 || IsRex(b);

    private bool IsRex(byte b) => _bitness == 64 && b >> 4 == 4;

    private static int OperandBytes(ref Instruction i, int memBytes)
    {
        if (i.OpCount == 0)
        {
            return 0;
        }

        var k = i.Op0Kind;
        if (k == OpKind.Register)
        {
            return i.Op0Register.GetSize();
        }

        if (k == OpKind.Memory)
        {
            return memBytes;
        }

        return 0;
    }

    /// <summary>Fetches one instruction byte for the decoder (instruction-fetch permissions; may raise #PF).</summary>
    internal byte FetchByte(ulong linear)
    {
        ulong physical = TranslateFetch(linear);
        if (physical >= _ramSize || IsMmio(physical))
        {
            throw new UnsupportedException($"instruction fetch from MMIO or unbacked physical address {physical:X}");
        }

        return _ram[physical];
    }

    private UnsupportedStop DescribeUnsupported(string reason)
    {
        ulong linear = MaskLinear(CsBase + _rip);
        var bytes = new List<byte>(15);
        for (int i = 0; i < 15; i++)
        {
            if (!TryPeekCode(MaskLinear(linear + (ulong)i), out byte b))
            {
                break;
            }

            bytes.Add(b);
        }

        string text = string.Empty;
        if (bytes.Count > 0)
        {
            var decoder = Decoder.Create(_bitness, new ByteArrayCodeReader(bytes.ToArray()), _rip);
            decoder.Decode(out var instr);
            if (!instr.IsInvalid)
            {
                var formatter = new GasFormatter();
                var output = new StringOutput();
                formatter.Format(instr, output);
                text = output.ToStringAndReset();
                bytes.RemoveRange(instr.Length, bytes.Count - instr.Length);
            }
        }

        return new UnsupportedStop(_rip, linear, [.. bytes], text, reason);
    }
}
