#!/usr/bin/env bash
# Brings each tracked project's PublicAPI.Unshipped.txt in step with its code, for a change to the
# public surface that is meant (the build fails with RS0016/RS0017 until the lists say so).
#
#   tools/update-public-api.sh            all projects that carry a PublicAPI.Shipped.txt
#
# It builds each project, adds every symbol RS0016 reports as undeclared to PublicAPI.Unshipped.txt and
# removes every one RS0017 reports as gone, then sorts the list. Review the diff: it is the API change.
# (`dotnet format analyzers` does not apply the analyzer's fix to these additional files.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The library first: the others build on it, and a library that fails to build hides their errors.
for dir in "$root"/src/VirtualApic $(ls -d "$root"/src/*/ | sed 's:/$::' | grep -v '/VirtualApic$'); do
    [ -f "$dir/PublicAPI.Shipped.txt" ] || continue
    project=$(ls "$dir"/*.csproj)
    unshipped=$dir/PublicAPI.Unshipped.txt
    [ -f "$unshipped" ] || printf '#nullable enable\n' > "$unshipped"
    log=$(mktemp)
    dotnet build "$project" -c Release --no-incremental -nologo -p:TreatWarningsAsErrors=false >"$log" 2>&1 || true
    grep -F "[$project]" "$log" > "$log.own" || true
    mv "$log.own" "$log"
    added=$(grep -oE "RS0016: Symbol '.*' is not part of the declared public API" "$log" \
        | sed -E "s/^RS0016: Symbol '(.*)' is not part of the declared public API$/\1/" | sort -u || true)
    removed=$(grep -oE "RS0017: Symbol '.*' is part of the declared API, but is either not public or could not be found" "$log" \
        | sed -E "s/^RS0017: Symbol '(.*)' is part of the declared API.*/\1/" | sort -u || true)
    rm -f "$log"
    body=$(mktemp)
    { grep -v '^#nullable' "$unshipped" || true; [ -z "$added" ] || printf '%s\n' "$added"; } | sort -u > "$body"
    if [ -n "$removed" ]; then
        grep -vxF -f <(printf '%s\n' "$removed") "$body" > "$body.new" || true
        mv "$body.new" "$body"
    fi
    { printf '#nullable enable\n'; cat "$body"; } > "$unshipped"
    rm -f "$body"
    echo "$(basename "$dir"): +$(printf '%s' "$added" | grep -c . || true) -$(printf '%s' "$removed" | grep -c . || true)"
done
