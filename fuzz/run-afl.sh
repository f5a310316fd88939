#!/usr/bin/env bash
# Coverage-guided fuzzing of the scenario parser or the snapshot loader with SharpFuzz + AFL++.
#   fuzz/run-afl.sh scenario|snapshot [SECONDS]      (default 600)
# Needs: apt-get install afl++; dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0
# Findings land in fuzz/out/TARGET/default/crashes; replay one with
#   dotnet fuzz/VirtualApic.Fuzz/bin/Release/net10.0/VirtualApic.Fuzz.dll TARGET FILE
set -euo pipefail
target=${1:?scenario or snapshot}
seconds=${2:-600}
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
bin=$root/fuzz/VirtualApic.Fuzz/bin/Release/net10.0
dotnet build "$root/fuzz/VirtualApic.Fuzz" -c Release -nologo -v quiet
export PATH="$PATH:$HOME/.dotnet/tools"
# Instrument the libraries under test (not the harness, not the runtime).
sharpfuzz "$bin/VirtualApic.dll" >/dev/null
sharpfuzz "$bin/VirtualApic.Scenarios.dll" >/dev/null
corpus=$root/fuzz/corpus/$target
out=$root/fuzz/out/$target
mkdir -p "$out"
# dotnet itself carries no AFL instrumentation: the instrumented assemblies do (SharpFuzz).
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
timeout --preserve-status "$seconds" afl-fuzz -i "$corpus" -o "$out" -t 5000 -m none \
    -- dotnet "$bin/VirtualApic.Fuzz.dll" "$target" || true
echo "crashes: $(find "$out" -path '*crashes/id*' | wc -l)"
grep -E 'execs_done|run_time|saved_crashes|corpus_count' "$out"/default/fuzzer_stats || true
