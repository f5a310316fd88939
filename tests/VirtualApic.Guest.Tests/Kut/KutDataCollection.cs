// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Guest.Tests.Kut;

/// <summary>
/// KutDataTests change <c>$VAPIC_KUT_DIR</c> for the whole process: a test beside them that looked
/// for the kvm-unit-tests data would see the wrong folder.
/// </summary>
[CollectionDefinition(nameof(KutDataTests), DisableParallelization = true)]
public sealed class KutDataCollection
{
}
