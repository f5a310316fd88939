#!/usr/bin/env bash
# Mutation testing of the library with Stryker.NET (docs/reliability.md, "Mutation testing").
# Not run by CI: a full run mutates thousands of sites and reruns the covering tests for each.
#
#   fuzz/run-stryker.sh SCOPE [TEST_FILTER] [EXTRA STRYKER ARGS...]
#     SCOPE        Core | Registers | Fabric | Devices | Assist | Hypervisor | Cpu (a folder of src/VirtualApic), a file
#                  in it (Devices/IoApic.cs), a line range of a file (Devices/IoApic.cs:712-853, turned
#                  into the character span Stryker's mutate pattern takes), or several of these
#                  separated by commas (Core/LocalApic.cs,Registers/RegisterRule.cs); the first one's
#                  folder names the layer. Guest, Guest/FOLDER or Guest/FOLDER/FILE (same forms) mutate
#                  the guest engine (src/VirtualApic.Guest) against its own tests instead
#     TEST_FILTER  a dotnet test filter for the tests to run against each mutant (default: the
#                  tests of the same layer, FullyQualifiedName~VirtualApic.Tests.LAYER; for Core also
#                  the Time and Snapshot tests, the LINT tests of Fabric (the LVT's LINT pins and
#                  their Remote IRR) and ProfileSwitchTests (the per-profile reset and ESR rules),
#                  for Fabric, Assist, Hypervisor and Cpu (tested through the VM) the Fabric,
#                  Assist, Hypervisor, Cpu, Snapshot and Profiles tests; both without the slow tests, see below;
#                  for Guest the guest engine's tests without KutConformanceTests, which boot the whole
#                  kvm-unit-tests binaries under four backends: the score is the unit tests' own)
#     EXTRA ARGS   passed to Stryker, e.g. --since:main, --break-at 80, --mutate '!**/Foo.cs'
#
# Examples:
#   fuzz/run-stryker.sh Devices                                  # the IOAPIC against the Devices tests
#   fuzz/run-stryker.sh Fabric "FullyQualifiedName~Fabric|FullyQualifiedName~Scenarios"
#   fuzz/run-stryker.sh Core "" --since:main                     # only what changed since main
#   fuzz/run-stryker.sh Guest/Cpu                                # the guest engine's interpreter
# The reports land at a stable path per scope: StrykerOutput/<scope>/reports/mutation-report.html
# and .json (<scope> with '/' and ',' turned into '-'); with jq installed the script ends by listing
# the counts per status and the surviving mutants (file:line mutator) from the JSON report.
# STRYKER_CONCURRENCY sets the number of test sessions (default 1); STRYKER_ADDITIONAL_TIMEOUT_MS the
# milliseconds a test run may exceed its measured time before it counts as timed out (default 5000;
# more on a machine shared with other work, so a starved test is not taken for a hang).
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$repo"
scope=${1:?"usage: fuzz/run-stryker.sh SCOPE [TEST_FILTER] [STRYKER ARGS...]"}
shift
# The guest engine is its own assembly with its own test project; its scopes carry a Guest/ prefix.
project=VirtualApic
if [ "${scope%%[/,]*}" = Guest ]; then
    project=VirtualApic.Guest
    scope=${scope#Guest}
    scope=${scope#/}
    scope=${scope//,Guest\//,}
fi
layer=${scope%%/*}
layer=${layer%%,*}
# The default filter per scope: the layer's own tests, widened where other namespaces test the layer
# through the VM, and without the tests that can overrun Stryker's per-test coverage capture (after
# one overruns, Stryker 5.1.0's MTP runner stalls 10 s on every later test; docs/reliability.md).
slow='FullyQualifiedName!~Ten_million_timer_rewrites&FullyQualifiedName!~CrossBackendEquivalenceTests&FullyQualifiedName!~LargeVmTests&FullyQualifiedName!~4096'
case "$project:$scope" in
    VirtualApic.Guest:*)
        preset="FullyQualifiedName~VirtualApic.Guest.Tests.${layer:+$layer.}&FullyQualifiedName!~KutConformanceTests" ;;
    *:Core|*:Core/*)
        preset="(FullyQualifiedName~VirtualApic.Tests.Core.|FullyQualifiedName~VirtualApic.Tests.Time.|FullyQualifiedName~VirtualApic.Tests.Snapshot.|FullyQualifiedName~VirtualApic.Tests.Fabric.LintTests|FullyQualifiedName~VirtualApic.Tests.Profiles.ProfileSwitchTests)&$slow" ;;
    *:Fabric|*:Assist|*:Hypervisor|*:Cpu|*:Fabric,Assist|*:Assist,Fabric|*:Fabric/*|*:Assist/*|*:Hypervisor/*|*:Cpu/*)
        preset="(FullyQualifiedName~VirtualApic.Tests.Fabric.|FullyQualifiedName~VirtualApic.Tests.Assist.|FullyQualifiedName~VirtualApic.Tests.Hypervisor.|FullyQualifiedName~VirtualApic.Tests.Cpu.|FullyQualifiedName~VirtualApic.Tests.Snapshot.|FullyQualifiedName~VirtualApic.Tests.Profiles.)&$slow" ;;
    *)
        preset="FullyQualifiedName~VirtualApic.Tests.$layer" ;;
esac
filter=${1:-"$preset"}
shift || true
mutate=""
[ -n "$scope" ] || scope='*'
IFS=',' read -r -a parts <<< "$scope"
for part in "${parts[@]}"; do
    case "$part" in
        *.cs:*-*)
            # Stryker's span is in characters from the file's start: count those of the lines before.
            file=${part%%:*}
            range=${part##*:}
            first=${range%-*}
            last=${range#*-}
            path="src/$project/$file"
            [ -f "$path" ] || { echo "no such file: $path" >&2; exit 2; }
            start=$(head -n $((first - 1)) "$path" | LC_ALL=C.UTF-8 wc -m)
            end=$(head -n "$last" "$path" | LC_ALL=C.UTF-8 wc -m)
            glob="**/$project/$file{$start..$end}" ;;
        *.cs) glob="**/$project/$part" ;;
        '*') glob="**/$project/**/*.cs" ;;
        *) glob="**/$project/$part/*.cs" ;;
    esac
    mutate="$mutate${mutate:+, }\"$glob\""
done
slug=$(printf '%s' "$scope" | tr '/,:*' '---x')
[ "$project" = VirtualApic ] || slug="Guest-$slug"
out="$repo/StrykerOutput/$slug"

dotnet tool restore > /dev/null
# The progress bar only on a real terminal: Stryker 5.1.0's bar throws when it is disposed on a
# terminal of width 0 (a pseudo-terminal such as script(1)'s), after every mutant was tested and
# before the reports are written, losing the run.
progress=""
if [ -t 1 ] && [ "$(tput cols 2> /dev/null || echo 0)" -gt 0 ]; then progress=', "progress"'; fi
config=$(mktemp "${TMPDIR:-/tmp}/stryker-config.XXXXXX.json")
trap 'rm -f "$config"' EXIT
cat > "$config" <<JSON
{
  "stryker-config": {
    "project": "$project.csproj",
    "mutate": [$mutate],
    "test-case-filter": "$filter",
    "configuration": "Release",
    "concurrency": ${STRYKER_CONCURRENCY:-1},
    "test-runner": "${STRYKER_TEST_RUNNER:-mtp}",
    "coverage-analysis": "perTest",
    "additional-timeout": ${STRYKER_ADDITIONAL_TIMEOUT_MS:-5000},
    "reporters": ["html", "json"$progress, "cleartext"],
    "thresholds": { "high": 80, "low": 60, "break": 0 }
  }
}
JSON
# Test runner: Microsoft Testing Platform (`mtp`, Stryker 5.1 marks it preview). xunit v3 test
# projects are MTP executables; under the default VSTest runner xunit v3 runs the tests in a child
# process of VSTest's test host, where Stryker 5.1.0 captures no coverage and, measured here,
# reports every mutant "Survived", including mutants the tests plainly kill (stryker-net#3117;
# docs/reliability.md). With mtp, per-test coverage works and a mutant costs well under a second.
# STRYKER_TEST_RUNNER=vstest brings the old runner back, to compare.
# MSBuild reads environment variables as properties: Stryker's own build of the test project then
# compiles in this (pinned, niced) process instead of a shared compiler server.
export UseSharedCompilation=false
# From the test project's folder: at the root Stryker would pick the solution up.
cd "tests/$project.Tests"
# nice: the machine is shared; other engineers' builds keep priority.
nice -n 19 dotnet dotnet-stryker --config-file "$config" --output "$out" "$@"

report="$out/reports/mutation-report.json"
if command -v jq > /dev/null && [ -f "$report" ]; then
    echo
    echo "Report: $report"
    jq -r '[.files[].mutants[].status] | group_by(.) | map("\(.[0]): \(length)") | .[]' "$report"
    echo "Survivors (file:line mutator: replacement):"
    jq -r '.files | to_entries[] | .key as $f | .value.mutants[] | select(.status == "Survived")
        | "  \($f | sub(".*/src/[^/]*/"; "")):\(.location.start.line) \(.mutatorName): \(.replacement // "" | gsub("\n"; " "))"' "$report"
fi
