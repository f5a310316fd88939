#!/usr/bin/env bash
# Measures the fuzzer's strength against hand-made mutants (docs/reliability.md, "Hand-made mutants").
# Each fuzz/mutants/*.patch is applied to a temporary detached worktree of HEAD, the CLI is built,
# and `vapic fuzz --duration 60s` runs on it; the script reports the time to the first finding.
# A mutant passes when it is found within the budget. Not run by CI (minutes per mutant).
#
#   fuzz/run-mutants.sh [DURATION] [PATCH...]      e.g. fuzz/run-mutants.sh 60s fuzz/mutants/01-*.patch
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
duration=${1:-60s}
shift || true
patches=("$@")
if [ ${#patches[@]} -eq 0 ]; then
    patches=("$repo"/fuzz/mutants/*.patch)
fi

results=()
for patch in "${patches[@]}"; do
    patch=$(realpath "$patch") # applied from inside the temporary worktree
    name=$(basename "$patch" .patch)
    work=$(mktemp -d "${TMPDIR:-/tmp}/vapic-mutant-$name.XXXXXX")
    git -C "$repo" worktree add --detach --quiet "$work/tree" HEAD
    trap 'git -C "$repo" worktree remove --force "$work/tree" 2>/dev/null || true; rm -rf "$work"' EXIT
    if ! (cd "$work/tree" && patch -p1 --quiet < "$patch" > "$work/patch.log" 2>&1); then
        # The library moved under the mutant: regenerate the patch (MutantPatchTests says which).
        echo "$name: STALE PATCH, does not apply to HEAD"
        results+=("$name: NOT FOUND (stale patch)")
        git -C "$repo" worktree remove --force "$work/tree"
        rm -rf "$work"
        trap - EXIT
        continue
    fi
    echo "== $name: building"
    dotnet build "$work/tree/src/VirtualApic.Cli/VirtualApic.Cli.csproj" -c Release -nologo -v quiet > "$work/build.log" 2>&1 \
        || { echo "$name: build failed (see $work/build.log)"; exit 1; }
    echo "== $name: fuzzing for $duration"
    # Shrinking the findings may outlast the budget; the time to the first finding is what counts.
    timeout 600 dotnet "$work/tree/src/VirtualApic.Cli/bin/Release/net10.0/vapic.dll" fuzz --duration "$duration" \
        --out "$work/findings" > "$work/fuzz.log" 2>&1 || true
    first=$(grep -o 'first finding after [0-9.]* s (program [0-9]*)' "$work/fuzz.log" || echo "NOT FOUND")
    kind=$(grep -m1 -oE '^(Divergence|Exception|InvariantViolation|Unparsable): .{0,160}' "$work/fuzz.log" || true)
    echo "$name: $first"
    [ -n "$kind" ] && echo "    $kind"
    results+=("$name: $first")
    git -C "$repo" worktree remove --force "$work/tree"
    rm -rf "$work"
    trap - EXIT
done

echo
printf '%s\n' "${results[@]}"
! printf '%s\n' "${results[@]}" | grep -q "NOT FOUND"
