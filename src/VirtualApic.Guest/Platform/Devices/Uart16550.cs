// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Platform.Devices;

/// <summary>
/// The transmit side of a 16550 UART (COM1 at 0x3F8): bytes written to THR go to the console; LSR
/// always reports the transmitter empty (THRE | TEMT), so a polling guest never waits; LCR, IER,
/// MCR and SCR read back what was written; the divisor latch (LCR.DLAB) is accepted and ignored.
/// Nothing is received. The text kept is bounded (<see cref="DefaultRetainedChars"/>): past it, the
/// middle of the output is dropped and the drop is marked in <see cref="Text"/>.
/// </summary>
public sealed class Uart16550 : IPortDevice
{
    /// <summary>COM1.</summary>
    public const ushort Com1 = 0x3F8;

    /// <summary>The characters of output kept by default (4 Mi): far more than a kvm-unit-tests run prints.</summary>
    public const int DefaultRetainedChars = 4 << 20;

    private const byte LsrThreTemt = 0x60;
    private const byte LcrDlab = 0x80;
    private readonly ushort _base;
    private readonly SerialTranscript _text;
    private byte _lcr;
    private byte _ier;
    private byte _mcr;
    private byte _scr;
    private byte _dll;
    private byte _dlm;

    /// <summary>Creates a UART at <paramref name="basePort"/> (8 ports) keeping at most
    /// <paramref name="retainedChars"/> characters of its output.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retainedChars"/> is below 2.</exception>
    public Uart16550(ushort basePort = Com1, int retainedChars = DefaultRetainedChars)
    {
        _base = basePort;
        _text = new SerialTranscript(retainedChars);
    }

    /// <summary>Raised for every byte transmitted.</summary>
    public event Action<byte>? Transmitted;

    /// <summary>Bytes transmitted so far.</summary>
    public long BytesTransmitted { get; private set; }

    /// <summary>The output so far as text, with the CR of each CR LF dropped (bounded: see the class).</summary>
    public string Text => _text.ToString();

    /// <summary>Characters of output dropped from the middle of <see cref="Text"/> to bound it.</summary>
    public long DroppedChars => _text.Dropped;

    /// <inheritdoc/>
    public uint Read(ushort port, int size)
    {
        bool dlab = (_lcr & LcrDlab) != 0;
        return (port - _base) switch
        {
            0 => dlab ? _dll : 0u,        // RBR: nothing received
            1 => dlab ? _dlm : _ier,
            2 => 0x01,                    // IIR: no interrupt pending
            3 => _lcr,
            4 => _mcr,
            5 => LsrThreTemt,
            6 => 0xB0,                    // MSR: CTS, DSR, DCD
            7 => _scr,
            _ => 0xFF,
        };
    }

    /// <inheritdoc/>
    public void Write(ushort port, uint value, int size)
    {
        byte b = (byte)value;
        bool dlab = (_lcr & LcrDlab) != 0;
        switch (port - _base)
        {
            case 0 when dlab:
                _dll = b;
                break;
            case 0:
                BytesTransmitted++;
                if (b != (byte)'\r')
                {
                    _text.Append((char)b);
                }

                Transmitted?.Invoke(b);
                break;
            case 1 when dlab:
                _dlm = b;
                break;
            case 1:
                _ier = (byte)(b & 0x0F);
                break;
            case 3:
                _lcr = b;
                break;
            case 4:
                _mcr = (byte)(b & 0x1F);
                break;
            case 7:
                _scr = b;
                break;
            default:
                break; // FCR and the read-only registers
        }
    }
}
