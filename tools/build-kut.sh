#!/usr/bin/env bash
# Rebuilds the kvm-unit-tests binaries the guest engine boots (apic.flat, ioapic.flat) from the
# source tarball and checks them against SHA256SUMS. For users; CI does not run it (CI uses the
# prebuilt copies in ../shared/testdata/kvm-unit-tests/<commit>).
#
# usage: tools/build-kut.sh [DATA_DIR] [OUT_DIR]
#   DATA_DIR  folder with kvm-unit-tests-<commit>-src.tar.gz and SHA256SUMS
#             (default: $VAPIC_KUT_DIR, else ../shared/testdata/kvm-unit-tests/1da1819e beside the repo)
#   OUT_DIR   where the built .flat files go (default: a new temporary folder)
#
# Needs: an x86-64 gcc and binutils, make, tar, sha256sum. The published hashes come from Debian 12
# (gcc 12.2.0, GNU ld 2.40); another toolchain builds working binaries with other hashes, and the
# script says so instead of failing silently.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-${VAPIC_KUT_DIR:-$repo/../shared/testdata/kvm-unit-tests/1da1819e}}"
out="${2:-$(mktemp -d -t kut-build.XXXXXX)}"
binaries=(apic.flat ioapic.flat)

tarball="$(ls "$data"/kvm-unit-tests-*-src.tar.gz 2>/dev/null | head -n 1 || true)"
if [[ -z "$tarball" ]]; then
    echo "build-kut: no kvm-unit-tests-*-src.tar.gz in $data" >&2
    exit 2
fi
if [[ ! -f "$data/SHA256SUMS" ]]; then
    echo "build-kut: no SHA256SUMS in $data" >&2
    exit 2
fi
for tool in gcc make tar sha256sum; do
    command -v "$tool" >/dev/null || { echo "build-kut: $tool is required" >&2; exit 2; }
done

# The tarball itself must be the one the hashes describe.
(cd "$(dirname "$tarball")" && grep " $(basename "$tarball")\$" SHA256SUMS | sha256sum --check --quiet) \
    || { echo "build-kut: $tarball does not match SHA256SUMS" >&2; exit 1; }

work="$(mktemp -d -t kut-src.XXXXXX)"
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work"
src="$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)"

# The build command of SOURCE.md: default flags, build folder kept out of file names.
(cd "$src" && ./configure --arch=x86_64 --cflags="-ffile-prefix-map=$src=." >/dev/null \
    && make -j"$(nproc)" "${binaries[@]/#/x86/}" >/dev/null)

mkdir -p "$out"
status=0
for b in "${binaries[@]}"; do
    cp "$src/x86/$b" "$out/$b"
    want="$(awk -v f="$b" '$2 == f { print $1 }' "$data/SHA256SUMS")"
    got="$(sha256sum "$out/$b" | cut -d' ' -f1)"
    if [[ "$want" == "$got" ]]; then
        echo "$b: OK ($got)"
    else
        echo "$b: hash differs from SHA256SUMS (toolchain $(gcc -dumpfullversion), want gcc 12.2.0 / ld 2.40)"
        echo "  want $want"
        echo "  got  $got"
        status=1
    fi
done
echo "built into $out (boot them with: vapic kut --dir $out --cfg $data/unittests.cfg --accel all)"
exit $status
