#!/usr/bin/env bash
# Sourced by compare.sh and probe-ab.sh: allowed_cpus prints, one per line, every CPU that taskset
# may pin this shell's children to (docs/performance.md, "Twenty-third session": the scripts run
# each case or launch on whichever of these CPUs reads the lower floor).
allowed_cpus() {
    local c n
    n=$(nproc --all)
    for ((c = 0; c < n; c++)); do
        if taskset -c "$c" true 2> /dev/null; then echo "$c"; fi
    done
}
