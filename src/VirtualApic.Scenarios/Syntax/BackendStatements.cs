// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary><c>snapshot NAME</c>: saves the whole VM under NAME (names compare case-insensitively; a later snapshot of the same name replaces it).</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Name">The snapshot name as written.</param>
public sealed record SnapshotStatement(SourceLine Source, string Name)
    : Statement(Source);

/// <summary><c>restore NAME</c>: brings back the whole state saved by an earlier <c>snapshot NAME</c>, virtual time included.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Name">The snapshot name as written.</param>
public sealed record RestoreStatement(SourceLine Source, string Name)
    : Statement(Source);

/// <summary><c>migrate accel=KIND</c>: saves, rebuilds the VM under backend KIND, restores and goes on.</summary>
/// <param name="Source">Where the statement is written.</param>
/// <param name="Accel">The backend to migrate to.</param>
public sealed record MigrateStatement(SourceLine Source, AccelKind Accel)
    : Statement(Source);
