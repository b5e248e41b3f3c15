#!/bin/bash
# Build kqemu.ko and the test module kqemu_squat.ko in RELEASE's chroot,
# against its newest kernel's headers, with W=1; any warning fails the build.
# Usage: build.sh RELEASE OUTDIR     copies both .ko files into OUTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
release=$1
out=$2

root=$("$here/chroot.sh" "$release")
abi=$(chroot_abi "$root")
kdir=/usr/src/linux-headers-$abi

# A fresh build folder each run, of this run alone: nothing left from an
# earlier build or release, and two runs at once do not meet.
# The squat module keeps its place in the tree, three levels below the
# top, since its Makefile finds include/uapi from there.
bdir=$(mktemp -d "$root/build.XXXXXX")
trap 'rm -rf "$bdir"' EXIT
b=/${bdir##*/}
mkdir -p "$bdir/tests/vm"
cp -r "$top/kmod" "$top/include" "$bdir/"
cp -r "$top/tests/vm/squat" "$bdir/tests/vm/"
rm -f "$bdir"/kmod/*.o "$bdir"/kmod/*.ko "$bdir"/kmod/.*.cmd

echo "build.sh: building for $abi ($release)" >&2
if ! log=$(in_chroot "$root" sh -c \
	'make -C "$1" M="$2/kmod" W=1 modules &&
	 make -C "$1" M="$2/tests/vm/squat" W=1 modules' sh "$kdir" "$b" 2>&1); then
	echo "$log" >&2
	echo "build.sh: build for $abi failed" >&2
	exit 1
fi
echo "$log" >&2
if grep -E 'warning:|error' <<<"$log" >&2; then
	echo "build.sh: the build for $abi is not warning-free (lines above)" >&2
	exit 1
fi

mkdir -p "$out"
cp "$bdir/kmod/kqemu.ko" "$bdir/tests/vm/squat/kqemu_squat.ko" "$out/"
