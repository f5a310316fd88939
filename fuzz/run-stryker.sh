#!/usr/bin/env bash
# Mutation testing of the library with Stryker.NET (docs/reliability.md, "Mutation testing").
# Not run by CI: a full run mutates thousands of sites and reruns the covering tests for each.
#
#   fuzz/run-stryker.sh FOLDER [TEST_FILTER] [EXTRA STRYKER ARGS...]
#     FOLDER       Core | Registers | Fabric | Devices | Assist (a folder of src/VirtualApic), or a file
#                  glob inside it, e.g. Devices/IoApic.cs
#     TEST_FILTER  a dotnet test filter for the tests to run against each mutant
#                  (default: the tests of the same layer, FullyQualifiedName~VirtualApic.Tests.FOLDER)
#
# Examples:
#   fuzz/run-stryker.sh Devices                                  # the IOAPIC against the Devices tests
#   fuzz/run-stryker.sh Fabric "FullyQualifiedName~Fabric|FullyQualifiedName~Scenarios"
#   fuzz/run-stryker.sh Core "" --since:main                     # only what changed since main
# The report lands in StrykerOutput/<date>/reports/mutation-report.html (and .json).
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$repo"
scope=${1:?"usage: fuzz/run-stryker.sh FOLDER [TEST_FILTER] [STRYKER ARGS...]"}
shift
layer=${scope%%/*}
filter=${1:-"FullyQualifiedName~VirtualApic.Tests.$layer"}
shift || true
case "$scope" in
    *.cs) mutate="**/VirtualApic/$scope" ;;
    *) mutate="**/VirtualApic/$scope/*.cs" ;;
esac

dotnet tool restore > /dev/null
config=$(mktemp "${TMPDIR:-/tmp}/stryker-config.XXXXXX.json")
trap 'rm -f "$config"' EXIT
cat > "$config" <<JSON
{
  "stryker-config": {
    "project": "VirtualApic.csproj",
    "mutate": ["$mutate"],
    "test-case-filter": "$filter",
    "configuration": "Release",
    "concurrency": ${STRYKER_CONCURRENCY:-1},
    "coverage-analysis": "perTest",
    "reporters": ["html", "json", "progress", "cleartext"],
    "thresholds": { "high": 80, "low": 60, "break": 0 }
  }
}
JSON
# From the test project's folder: at the root Stryker would pick the solution up.
cd tests/VirtualApic.Tests
# nice: the machine is shared; other engineers' builds keep priority.
nice -n 19 dotnet dotnet-stryker --config-file "$config" --output "$repo/StrykerOutput" "$@"
