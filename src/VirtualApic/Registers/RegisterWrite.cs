// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Registers;

/// <summary>
/// One slot's write rule compiled from its <see cref="RegisterRule"/> for one APIC mode and feature
/// set (<see cref="ApicRegisterTable.CompileWrites"/>): everything <c>LocalApic.WriteRegister</c>
/// asks before the side effect, in one 16-byte load. <see cref="WriteEffect.None"/> means the
/// register is not writable in the mode (or does not exist with the features).
/// </summary>
/// <param name="Kept">The bits a write keeps (<see cref="RegisterRule.WriteMaskFor"/>).</param>
/// <param name="ForcedOnes">The bits a write always sets (<see cref="RegisterRule.ForcedOnes"/>).</param>
/// <param name="FaultBits">
/// x2APIC mode only: the low-half value bits that make the WRMSR #GP by the row's
/// <see cref="X2ApicReservedRule"/> (a set high half always does, except for the 64-bit ICR).
/// </param>
/// <param name="Effect">What the write does after masking.</param>
internal readonly record struct RegisterWrite(uint Kept, uint ForcedOnes, uint FaultBits, WriteEffect Effect);
