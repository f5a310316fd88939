#!/usr/bin/env bash
# Where one benchmark case spends its cycles, instruction by instruction (docs/performance.md,
# "Store-forwarding stalls"): runs the case under the probe harness (no BenchmarkDotNet) with
# `perf record`, maps every sample to its JIT-compiled method through the runtime's perf map, and
# prints the methods and the hottest instruction offsets; with DISASM, the Tier1 disassembly of the
# named methods (DOTNET_JitDisasm, with code bytes, so offsets can be counted) and the instructions
# leading up to each hot offset. On AMD without IBS a sample lands on the instruction after the one
# that stalled: a hot offset right after a lock-prefixed instruction is that instruction; right after
# a wide load that follows narrow stores to the same place, a store that could not be forwarded.
#
#   bash bench/perf-hot.sh CLASS[.METHOD] [NAME=VALUE...]
#   e.g. DISASM="Unicast TakeCore" bash bench/perf-hot.sh W3IpiUnicast.Unicast Accel=none Cpus=64
#
# With ANNOTATE=1 (and DISASM), each named method's whole Tier1 listing instead, every instruction
# with its share of all samples: where a loop's time goes, block by block.
#
# Needs perf (a VM without hardware counters samples the cpu-clock) and python3. TOP (default 20)
# is how many offsets to print; ITERATIONS (default 12) the probe's 250 ms iterations. Pinned to
# CPU 1 (PROBE_CPU) when taskset works.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: bench/perf-hot.sh CLASS[.METHOD] [NAME=VALUE...]" >&2; exit 2; }
command -v perf > /dev/null || { echo "perf-hot.sh: perf is not installed" >&2; exit 2; }
command -v python3 > /dev/null || { echo "perf-hot.sh: python3 is not installed" >&2; exit 2; }

dotnet build -c Release "$root/bench/VirtualApic.Benchmarks" -nologo -v q > /dev/null
dll=$root/bench/VirtualApic.Benchmarks/bin/Release/net10.0/VirtualApic.Benchmarks.dll
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pin=()
if taskset -c "${PROBE_CPU:-1}" true 2> /dev/null; then pin=(taskset -c "${PROBE_CPU:-1}"); fi

(
    cd "$work"
    export DOTNET_PerfMapEnabled=3 DOTNET_PerfMapJitDumpPath=$work DOTNET_EnableWriteXorExecute=0 \
        DOTNET_TC_CallCountingDelayMs=0
    if [ -n "${DISASM:-}" ]; then
        export DOTNET_JitDisasm=$DISASM DOTNET_JitStdOutFile=$work/disasm.txt DOTNET_JitDisasmWithCodeBytes=1
    fi
    perf record -q -F 5000 -o "$work/perf.data" "${pin[@]}" dotnet "$dll" --probe "$@" \
        "iterations=${ITERATIONS:-12}" 2>&1 | tail -n 1
)
perf script -i "$work/perf.data" -F ip 2> /dev/null > "$work/ips.txt"

python3 - "$work" "${TOP:-20}" "${ANNOTATE:-0}" <<'PY'
import bisect, collections, glob, re, sys
work, top, annotate = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'
methods = []
for line in open(glob.glob(work + '/perf-*.map')[0]):
    start, size, name = line.rstrip('\n').split(' ', 2)
    methods.append((int(start, 16), int(size, 16), name))
methods.sort()
starts = [m[0] for m in methods]

def short(name):
    method = name.split('::')[-1].split('(')[0]
    owner = name.split('::')[0].split('.')[-1].split(']')[-1]
    tier = re.search(r'\[(\w+)\]$', name)
    return owner + '::' + method + ('' if tier and tier.group(1) == 'OptimizedTier1' else ' [' + (tier.group(1) if tier else '?') + ']')

per_method, per_offset, total = collections.Counter(), collections.Counter(), 0
for line in open(work + '/ips.txt'):
    ip = int(line.strip(), 16)
    total += 1
    i = bisect.bisect_right(starts, ip) - 1
    if i >= 0 and ip < methods[i][0] + methods[i][1]:
        key = short(methods[i][2])
        per_method[key] += 1
        per_offset[(key, ip - methods[i][0])] += 1
    else:
        per_method['(runtime, kernel or stub)'] += 1
if total == 0:
    sys.exit('perf-hot.sh: no samples')
print(f'{total} samples')
for key, n in per_method.most_common(15):
    print(f'{100 * n / total:5.1f}%  {key}')
print('hottest offsets:')
hot = per_offset.most_common(top)
for (key, off), n in hot:
    print(f'{100 * n / total:5.1f}%  {key} +0x{off:x}')

# The disassembly: offsets counted from the code bytes of the last Tier1 listing of each method.
try:
    text = open(work + '/disasm.txt').read().split('\n')
except FileNotFoundError:
    sys.exit(0)
listings = {}
for i, line in enumerate(text):
    m = re.match(r'; Assembly listing for method (\S+?)\(.*\((Tier1|Tier1-OSR)\)', line)
    if m:
        listings[m.group(1).split(':')[-1]] = i
for method, first in listings.items():
    rows, offset = [], 0
    for line in text[first + 1:]:
        if line.startswith('; Assembly listing'):
            break
        label = re.search(r';; offset=0x([0-9A-F]+)', line)
        if label:
            offset = int(label.group(1), 16)
            continue
        code = re.match(r'\s+([0-9A-F]+)\s{2,}(.*)', line)
        if code and len(code.group(1)) % 2 == 0:
            rows.append((offset, code.group(2).strip()))
            offset += len(code.group(1)) // 2
    if annotate:
        for key in (k for k in per_method if k.split(' ')[0].endswith('::' + method) and ' [' not in k):
            print(f'\n{key}, every instruction (% of all samples):')
            for o, ins in rows:
                print(f'{100 * per_offset.get((key, o), 0) / total:6.2f}  {o:04x}  {ins}')
        continue
    for (key, off), n in hot:
        if not key.split(' ')[0].endswith('::' + method):
            continue
        print(f'\n{key} +0x{off:x} ({100 * n / total:.1f}%):')
        at = next((k for k, (o, _) in enumerate(rows) if o >= off), len(rows))
        for o, ins in rows[max(0, at - 5):at + 1]:
            print(f'  {"=>" if o == off else "  "} {o:04x}  {ins}')
PY
