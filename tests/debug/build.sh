#!/bin/bash
# tests/vm/run.sh's build.sh for the "debug" release: kqemu.ko and the
# squat module against the debug kernel's tree, W=1, no warning allowed.
# Usage: build.sh debug OUTDIR
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$2
kdir=$("$(dirname "$0")/build-kernel.sh")/linux-source-6.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tests/vm"
cp -r "$top/kmod" "$top/include" "$tmp/"
cp -r "$top/tests/vm/squat" "$tmp/tests/vm/"
rm -f "$tmp"/kmod/*.o "$tmp"/kmod/*.ko "$tmp"/kmod/.*.cmd
log=$(make -C "$kdir" M="$tmp/kmod" W=1 modules 2>&1 &&
      make -C "$kdir" M="$tmp/tests/vm/squat" W=1 modules 2>&1) || { echo "$log" >&2; exit 1; }
echo "$log" >&2
if grep -E 'warning:|error' <<<"$log" >&2; then
	echo "build.sh: the debug build is not warning-free (lines above)" >&2
	exit 1
fi
mkdir -p "$out"
cp "$tmp/kmod/kqemu.ko" "$tmp/tests/vm/squat/kqemu_squat.ko" "$out/"
