#!/usr/bin/env bash
# A long differential-fuzzing campaign in independent chunks (docs/reliability.md, "Campaign"):
# chunk i runs `vapic fuzz --seed FIRST+i*CHUNK --iterations CHUNK` under the kvm profile for even
# i and the architectural profile for odd i, CORES chunks at a time (one process each), each with
# its own log and findings directory; then every chunk log found in OUTDIR,
# this run's and earlier ones', is summed. Re-running with the same OUTDIR skips finished chunks,
# so a campaign can be stopped (Ctrl-C) and resumed. Not run by CI.
#
#   fuzz/run-campaign.sh [-j CORES] [-n CHUNKS] [-c PROGRAMS_PER_CHUNK] [-s FIRST_SEED] OUTDIR
#   e.g. fuzz/run-campaign.sh -j 2 -n 100 -c 10000 campaign     # 10^6 programs, both profiles
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cores=1 chunks=10 size=10000 first=10000001
while getopts "j:n:c:s:" o; do
    case $o in
        j) cores=$OPTARG ;; n) chunks=$OPTARG ;; c) size=$OPTARG ;; s) first=$OPTARG ;;
        *) echo "usage: fuzz/run-campaign.sh [-j CORES] [-n CHUNKS] [-c PROGRAMS] [-s FIRST_SEED] OUTDIR" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
out=${1:?"usage: fuzz/run-campaign.sh [-j CORES] [-n CHUNKS] [-c PROGRAMS] [-s FIRST_SEED] OUTDIR"}
mkdir -p "$out"
out=$(cd "$out" && pwd)

dotnet build "$repo/src/VirtualApic.Cli" -c Release -nologo -v quiet > "$out/build.log" 2>&1 \
    || { echo "run-campaign.sh: the CLI does not build (see $out/build.log)" >&2; exit 1; }
vapic=$repo/src/VirtualApic.Cli/bin/Release/net10.0/vapic.dll
echo "campaign at $(git -C "$repo" rev-parse --short HEAD): $chunks chunks of $size programs from seed $first, $cores at a time" \
    | tee -a "$out/campaign.log"

run_chunk() {
    local i=$1
    local seed=$((first + i * size))
    local profile=kvm
    (( i % 2 )) && profile=architectural
    local log=$out/chunk-$seed-$profile.log
    if grep -q '^fuzz: .* programs' "$log" 2> /dev/null; then return 0; fi
    dotnet "$vapic" fuzz --seed "$seed" --iterations "$size" --profile "$profile" \
        --out "$out/findings-$seed-$profile" > "$log" 2>&1 || true
    echo "chunk $i: $(grep '^fuzz: ' "$log" | tail -n 1)" | tee -a "$out/campaign.log"
}
export -f run_chunk
export out first size vapic
seq 0 $((chunks - 1)) | xargs -P "$cores" -I{} bash -c 'run_chunk {}'

# The totals over every finished chunk in OUTDIR.
cat "$out"/chunk-*.log | grep -h '^fuzz: ' | awk -F'[ ,]+' '
    { for (i = 1; i <= NF; i++) { if ($(i+1) == "programs") p += $i; if ($(i+1) == "steps") s += $i; if ($(i+1) == "findings") f += $i } }
    END { printf "campaign total: %d programs, %d steps, %d findings\n", p, s, f }' | tee -a "$out/campaign.log"
