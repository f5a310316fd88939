#!/usr/bin/env bash
# W1 fixed-cycle side by side with the C floor (bench/baseline/w1-floor.c), in one run on one machine.
#
#   bench/compare.sh [BENCHMARKDOTNET ARGS...]     default: --job short
#   e.g. bench/compare.sh --warmupCount 5 --iterationCount 15 --iterationTime 250
#
# Builds w1-floor.c with gcc -O2 and runs it, then the W1 benchmarks (W1FixedCycle: the APIC-level
# cycle, xAPIC, no backend; W1Backend: the vCPU-level cycle, x2APIC, EOI by WRMSR 0x80B, under
# none/apicv/avic/x2avic), both pinned to CPU 1 with taskset when it is available, and prints each
# W1 figure's ratio to the floor. The floor is the faster of w1-floor.c's two variants (median of its
# runs); each W1 figure is compared by its median and by its minimum (the machine is shared, and the
# minimum is the estimate least disturbed by other load), next to w1-floor.c's median and minimum.
# NOPIN=1 runs both unpinned (on a loaded 2-core machine pinning to one busy core can hurt more
# than it helps; docs/performance.md shows both).
set -euo pipefail

if [ $# -eq 0 ]; then set -- --job short; fi
root=$(cd "$(dirname "$0")/.." && pwd)
floor_src=$root/bench/baseline/w1-floor.c
project=$root/bench/VirtualApic.Benchmarks
work=$(mktemp -d "${TMPDIR:-/tmp}/vapic-compare.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

pin=()
if [ -z "${NOPIN:-}" ] && command -v taskset >/dev/null 2>&1 && taskset -c 1 true 2>/dev/null; then
    pin=(taskset -c 1)
fi

echo "== machine"
lscpu 2>/dev/null | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core)' || true
echo "pinning: ${pin[*]:-none}"

echo "== floor: $floor_src"
[ -f "$floor_src" ] || { echo "w1-floor.c not found at $floor_src" >&2; exit 1; }
command -v gcc >/dev/null 2>&1 || { echo "compare.sh needs gcc to build the C floor" >&2; exit 1; }
gcc -O2 -std=gnu11 -o "$work/floor" "$floor_src"
"${pin[@]}" "$work/floor" | tee "$work/floor.txt"
floor_inl=$(awk '/^floor-inline/ { sub("median=", "", $3); print $3 }' "$work/floor.txt")
floor_call=$(awk '/^floor-noinline/ { sub("median=", "", $3); print $3 }' "$work/floor.txt")
floor=$(awk -v a="$floor_inl" -v b="$floor_call" 'BEGIN { print (a < b ? a : b) }')
floor_min=$(awk '/^floor-/ { sub("min=", "", $4); if (m == "" || $4 < m) m = $4 } END { print m }' "$work/floor.txt")

echo "== W1 under BenchmarkDotNet ($*)"
dotnet build "$project" -c Release -nologo -v quiet >/dev/null
(cd "$project" && "${pin[@]}" dotnet "$project/bin/Release/net10.0/VirtualApic.Benchmarks.dll" \
    --filter '*W1FixedCycle*' '*W1Backend*' "$@" --artifacts "$work/bdn") \
    > "$work/bdn.log" 2>&1 || { tail -40 "$work/bdn.log" >&2; exit 1; }
grep -E '^\|' "$work/bdn.log" || true

# The semicolon CSV (units in the header, plain numbers in the cells) has Method, [Accel,] Mean [ns].
extract() { # file -> "label mean" lines
    awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) { h[$i] = i } next }
        { label = $h["Method"]; if ("Accel" in h) label = label "(" $h["Accel"] ")"; if ("Irr" in h) label = label "(" $h["Irr"] ")"; if ("Bound" in h && $h["Bound"] == "True") label = label "(bound)"
          print label, $h["Median [ns]"], $h["Min [ns]"] }' "$1"
}
results=$(for f in "$work"/bdn/results/*W1*-report.csv; do extract "$f"; done)

echo
echo "== ratios to the floor (floor median = min(inline $floor_inl, noinline $floor_call) = $floor ns/cycle; floor min = $floor_min)"
printf '%-34s %10s %8s %10s %8s %8s\n' "W1 variant" "median" "/floor" "min" "/floor" "target"
while read -r label median min; do
    [ -n "$label" ] || continue
    case $label in
        ApicLevelXApic*|*"(none)"|*"(none)(bound)") target="1.5x" ;;
        *) target="2.0x" ;;
    esac
    awk -v l="$label" -v m="$median" -v f="$floor" -v n="$min" -v fn="$floor_min" -v t="$target" \
        'BEGIN { printf "%-34s %10.2f %7.2fx %10.2f %7.2fx %8s\n", l, m, m / f, n, n / fn, t }'
done <<< "$results"
