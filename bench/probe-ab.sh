#!/usr/bin/env bash
# A/B of benchmark cases across git revisions, without BenchmarkDotNet (docs/performance.md,
# "W1 before and after the re-rooming, settled"): each revision's library is built in a temporary
# worktree with THIS tree's probe harness and benchmark classes copied over it, so only the library
# differs; then rounds of launches rotate over the revisions, pinned to CPU 1 (PROBE_CPU) when taskset
# works (under a floor gate, to the quieter CPU: below), and each launch prints the minimum of eight
# 250 ms iterations (the probe's min: the least disturbed iteration of a launch, which on this shared
# machine repeats within about 1% where medians do not).
# One line per case and revision: the smallest and the median of the launch minimums.
#
#   bash bench/probe-ab.sh [-n ROUNDS] REV... -- CASE...
#   e.g. bash bench/probe-ab.sh -n 3 9943481 HEAD -- "W1FixedCycle Irr=locked" "W1Backend Accel=avic Bound=false"
#
# A case may name one method of its class (W4IpiBroadcast.TakeEoi256). A benchmark class must
# compile against every revision's library (the harness files are copied too: InliningLog.cs, JitWarmup.cs,
# LaunchProbe.cs, Program.cs).
#
# FLOOR_GATE=1.03 (needs gcc) gates every launch on the C floor (bench/baseline/w1-floor.c, a short
# run on the same CPU) measured just before and just after it: a launch whose floor read more than
# that factor above the lowest floor seen so far fell in a host spell and is run again, after a
# pause, up to FLOOR_TRIES times (default 40) per launch; one that never gets a quiet window is kept
# and counted. Spells on the shared 2-core machines double single figures for minutes at a time
# (docs/performance.md, "Thirteenth session"), one vCPU at a time ("Twenty-third session"): with the
# gate, each launch goes to whichever allowed CPU reads the lower floor just before it (PROBE_CPU
# names one CPU to use instead); without it, every launch runs on PROBE_CPU (default 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=3
if [ "${1:-}" = "-n" ]; then rounds=$2; shift 2; fi
revs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do revs+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
cases=("$@")
if [ ${#revs[@]} -eq 0 ] || [ ${#cases[@]} -eq 0 ]; then
    echo "usage: bench/probe-ab.sh [-n ROUNDS] REV... -- CASE..." >&2
    exit 2
fi

bench=$root/bench/VirtualApic.Benchmarks
files=(InliningLog.cs JitWarmup.cs LaunchProbe.cs Program.cs)
for c in "${cases[@]}"; do
    class=${c%% *}
    class=${class%%.*} # CLASS.METHOD names the class's file by CLASS
    file=$(grep -l "public class $class\b" "$bench"/*.cs | head -n 1) \
        || { echo "probe-ab.sh: no benchmark class '$class'" >&2; exit 2; }
    files+=("$(basename "$file")")
done

work=$(mktemp -d)
trap 'for r in "$work"/rev-*; do git -C "$root" worktree remove --force "$r" > /dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
dlls=()
for i in "${!revs[@]}"; do
    dir=$work/rev-$i
    git -C "$root" worktree add --detach "$dir" "${revs[$i]}" > /dev/null 2>&1 \
        || { echo "probe-ab.sh: cannot check out '${revs[$i]}'" >&2; exit 2; }
    for f in $(printf '%s\n' "${files[@]}" | sort -u); do cp "$bench/$f" "$dir/bench/VirtualApic.Benchmarks/"; done
    echo "building ${revs[$i]} ..." >&2
    dotnet build "$dir/bench/VirtualApic.Benchmarks" -c Release -v quiet -nologo -p:TreatWarningsAsErrors=false > "$work/build-$i.log" 2>&1 \
        || { echo "probe-ab.sh: ${revs[$i]} does not build with this harness (log: $work/build-$i.log)" >&2; cat "$work/build-$i.log" >&2; exit 1; }
    dlls+=("$dir/bench/VirtualApic.Benchmarks/bin/Release/net10.0/VirtualApic.Benchmarks.dll")
done

# The CPUs a launch may run on ("" = unpinned): PROBE_CPU, or under the gate every CPU this shell
# may use, or CPU 1.
cpus=("")
if command -v taskset > /dev/null 2>&1 && taskset -c "${PROBE_CPU:-1}" true 2> /dev/null; then
    cpus=("${PROBE_CPU:-1}")
    if [ -z "${PROBE_CPU:-}" ] && [ -n "${FLOOR_GATE:-}" ]; then
        # shellcheck source=bench/allowed-cpus.sh
        . "$root/bench/allowed-cpus.sh"
        mapfile -t cpus < <(allowed_cpus)
    fi
fi
on_cpu() { if [ -n "$1" ]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
export DOTNET_TC_CallCountingDelayMs=${DOTNET_TC_CallCountingDelayMs:-0}

gate=${FLOOR_GATE:-}
lowest=
spelled=0
if [ -n "$gate" ]; then
    command -v gcc > /dev/null || { echo "probe-ab.sh: FLOOR_GATE needs gcc" >&2; exit 2; }
    gcc -O2 -o "$work/floor" "$root/bench/baseline/w1-floor.c"
fi

# The C floor now on CPU $1: ns per cycle, the median of five short runs of its called variant.
floor_now() { on_cpu "$1" "$work/floor" 5000000 5 c | awk '{sub("median=", "", $3); print $3}'; }

# Sets cpu and f to the CPU with the lowest floor now, and that floor.
quietest_cpu() {
    local c g
    cpu= f=
    for c in "${cpus[@]}"; do
        g=$(floor_now "$c")
        if [ -z "$f" ] || awk -v a="$g" -v b="$f" 'BEGIN{exit !(a < b)}'; then f=$g; cpu=$c; fi
    done
}

# Whether floor $1 is within the gate of the lowest floor seen (which it lowers).
quiet() {
    if [ -z "$lowest" ] || awk -v f="$1" -v l="$lowest" 'BEGIN{exit !(f < l)}'; then lowest=$1; fi
    awk -v f="$1" -v l="$lowest" -v g="$gate" 'BEGIN{exit !(f <= l * g)}'
}

# The minimum (ns per operation) of one launch of case $1 on revision index $2, on CPU $3.
launch() {
    # shellcheck disable=SC2086 # a case is a class and NAME=VALUE words
    on_cpu "$3" dotnet "${dlls[$2]}" --probe $1 warmup=300 iterations=8 | awk '{print $4}'
}

# Sets result to the minimum of a launch of case $1 on revision index $2 that the gate lets through
# (run here, not in a subshell, so that the lowest floor and the spell count persist).
gated_launch() {
    local tries=0 cpu f
    if [ -z "$gate" ]; then result=$(launch "$1" "$2" "${cpus[0]}"); return; fi
    while :; do
        quietest_cpu
        if quiet "$f"; then
            result=$(launch "$1" "$2" "$cpu")
            f=$(floor_now "$cpu")
            if quiet "$f"; then return; fi
        fi
        tries=$((tries + 1))
        if [ "$tries" -ge "${FLOOR_TRIES:-40}" ]; then
            echo "probe-ab.sh: no quiet window for $1 on ${revs[$2]}; kept a launch in a spell" >&2
            spelled=$((spelled + 1))
            result=$(launch "$1" "$2" "$cpu")
            return
        fi
        sleep 5
    done
}

if [ -n "$gate" ]; then
    for _ in 1 2 3; do quietest_cpu; quiet "$f" || true; sleep 2; done # seed the lowest floor
fi

for c in "${cases[@]}"; do
    declare -A mins=()
    for _ in $(seq "$rounds"); do
        for i in "${!dlls[@]}"; do
            gated_launch "$c" "$i"
            mins[$i]+="$result "
        done
    done
    for i in "${!dlls[@]}"; do
        # shellcheck disable=SC2086
        printf '%-40s %-12s %s\n' "$c" "${revs[$i]}" "$(printf '%s\n' ${mins[$i]} | sort -g \
            | awk '{v[NR]=$1} END{printf "min %.2f  median of mins %.2f ns/op  (%d launches)", v[1], v[int((NR+1)/2)], NR}')"
    done
    unset mins
done
if [ -n "$gate" ]; then
    echo "floor gate: ${gate}x the lowest floor seen, ${lowest} ns; launches kept in a spell: $spelled" >&2
fi
