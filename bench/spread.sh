#!/usr/bin/env bash
# Launch-to-launch spread of whole-suite runs (issue 16 item 1): reads the output of several
# `bench/compare.sh` launches and prints, per benchmark case, each launch's median, the spread
# (largest median over smallest) in ns and in ratio to its launch's floor (as compare.sh printed
# it), and each launch's ratio; then how many cases agree within 10%. The guest engine's rows (G: ns
# per guest instruction, host seconds per kvm-unit-tests configuration) come along when the
# launches ran it. W6 (microseconds) and W7 (cross-thread, its threads pinned apart) are listed like the rest.
#
#   bash bench/compare.sh ... > launch1.txt; ... ; bash bench/spread.sh launch1.txt launch2.txt launch3.txt
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bench/spread.sh COMPARE-OUTPUT COMPARE-OUTPUT..." >&2; exit 2; }
for f in "$@"; do [ -f "$f" ] || { echo "spread.sh: no file '$f'" >&2; exit 2; }; done
awk '
    FNR == 1 { launch++; inratios = 0 }
    /^== ratios to the C floor/ { inratios = 1; match($0, /= [0-9.]+ ns; floor min/); floor[launch] = substr($0, RSTART + 2, RLENGTH - 16) + 0; next }
    /^== / && !/^== ratios/ { inratios = 0 }
    inratios && /^W[0-9] / {
        key = substr($0, 1, 48); sub(/ +$/, "", key)
        split(substr($0, 49), f, " ")   # median, median / floor ("6.61x"), min, min / floor, ...
        add(key, f[1], launch)
        rat[key, launch] = f[2] + 0   # over the floor of its launch, as compare.sh printed it
    }
    function add(key, value, l) {
        if (!(key in seen)) { seen[key] = 1; order[++n] = key }
        med[key, l] = value + 0
    }
    /^== guest engine/ { inguest = 1; next }
    /^== launch/ { inguest = 0 }
    inguest && /^ApicFlat/ {
        # "ApicFlatX2Apic accel=None   26.66   37.5M", maybe followed by "(spell: canary 1.25x)".
        split(substr($0, 45), g, " ")
        key = "G   " substr($0, 1, 44); sub(/ +$/, "", key); add(key, g[1], launch)
    }
    inguest && /^ +(PASS|FAIL) / {
        # "PASS x2apic [none] (56 tests) ... 5.07s host", maybe followed by "(median of 15)": host
        # seconds per configuration.
        key = sprintf("G   kut %s %s (host s)", $2, $3)
        for (i = NF; i > 1; i--) if ($i == "host") { v = $(i - 1); sub(/s$/, "", v); add(key, v, launch); break }
    }
    END {
        printf "%-48s", "case (median ns per operation)"
        for (l = 1; l <= launch; l++) printf " %9s", "launch " l
        printf " %7s %7s  %s\n", "spread", "ratio", "median / floor, per launch"
        within = 0; rwithin = 0; total = 0
        for (i = 1; i <= n; i++) {
            k = order[i]; lo = 0; hi = 0; rlo = 0; rhi = 0; ratios = ""; complete = 1
            printf "%-48s", k
            for (l = 1; l <= launch; l++) {
                if (!((k, l) in med) || med[k, l] <= 0) { printf " %9s", "-"; complete = 0; continue }
                m = med[k, l]; printf " %9.2f", m
                if (lo == 0 || m < lo) lo = m
                if (m > hi) hi = m
                if (k !~ /^G /) {
                    r = rat[k, l]
                    ratios = ratios (ratios == "" ? "" : ", ") sprintf("%.2fx", r)
                    if (rlo == 0 || r < rlo) rlo = r
                    if (r > rhi) rhi = r
                }
            }
            rs = (rlo > 0) ? sprintf("%6.2fx", rhi / rlo) : "      -"
            if (complete) {
                total++; if (hi / lo <= 1.10) within++
                if (rlo > 0 ? rhi / rlo <= 1.10 : hi / lo <= 1.10) rwithin++
                printf " %6.2fx %s  %s\n", hi / lo, rs, ratios
            }
            else printf " %7s %s  %s\n", "-", rs, ratios
        }
        printf "C floor of each launch (ns):"
        for (l = 1; l <= launch; l++) printf " %s", floor[l]
        printf "\n%d of %d cases within 10%% across the %d launches in ns; %d of %d in ratio to the floor of their launch\n", within, total, launch, rwithin, total
    }' "$@"
