// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

[module: System.Runtime.CompilerServices.SkipLocalsInit]
