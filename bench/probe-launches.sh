#!/usr/bin/env bash
# Launch-to-launch spread of benchmark cases, without BenchmarkDotNet (docs/performance.md,
# "Launch-to-launch flips"): each case runs in N fresh processes (the benchmark project's --probe
# mode: its [GlobalSetup], a short warm-up, then 250 ms iterations), pinned to CPU 1 when taskset
# works, and one line per case lists every launch's median in ns per operation, then the spread
# (largest median over smallest).
#
#   bash bench/probe-launches.sh [N] [CASE...]       default: 5 launches of the eleven W1 cases
#   e.g. bash bench/probe-launches.sh 8 "W1Backend Accel=x2avic Bound=true" "W2LevelCycle"
#   DOTNET_TC_CallCountingDelayMs=100 VAPIC_BENCH_NO_JIT_WARMUP=1 bash bench/probe-launches.sh
#        # the runtime's default tiering delay and no warm-up in [GlobalSetup]: the flips come back
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-5}
shift || true
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
    cases=("W1FixedCycle Irr=locked" "W1FixedCycle Irr=bound" "W1FixedCycle Irr=one-thread")
    for a in none apicv avic x2avic; do
        for b in false true; do cases+=("W1Backend Accel=$a Bound=$b"); done
    done
fi

dotnet build "$root/bench/VirtualApic.Benchmarks" -c Release -v quiet -nologo > /dev/null
dll=$root/bench/VirtualApic.Benchmarks/bin/Release/net10.0/VirtualApic.Benchmarks.dll
pin=()
if command -v taskset > /dev/null 2>&1 && taskset -c 1 true 2> /dev/null; then
    pin=(taskset -c 1)
fi
# The same tiering set-up as the BenchmarkDotNet runs (Program.cs), unless the caller says otherwise.
export DOTNET_TC_CallCountingDelayMs=${DOTNET_TC_CallCountingDelayMs:-0}

for c in "${cases[@]}"; do
    medians=()
    for _ in $(seq "$n"); do
        # shellcheck disable=SC2086 # a case is a class and NAME=VALUE words
        medians+=("$("${pin[@]}" dotnet "$dll" --probe $c | awk '{print $2}')")
    done
    printf '%-36s %s  spread %s\n' "$c" "${medians[*]}" \
        "$(printf '%s\n' "${medians[@]}" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END{printf "%.2fx", hi/lo}')"
done
