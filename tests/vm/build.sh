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

# A fresh /build each run: nothing left from an earlier build or release.
# The squat module keeps its place in the tree, three levels below the
# top, since its Makefile finds include/uapi from there.
rm -rf "$root/build"
mkdir -p "$root/build/tests/vm"
cp -r "$top/kmod" "$top/include" "$root/build/"
cp -r "$top/tests/vm/squat" "$root/build/tests/vm/"

echo "build.sh: building for $abi ($release)" >&2
if ! log=$(in_chroot "$root" sh -c \
	'make -C "$1" M=/build/kmod W=1 modules &&
	 make -C "$1" M=/build/tests/vm/squat W=1 modules' sh "$kdir" 2>&1); then
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
cp "$root/build/kmod/kqemu.ko" "$root/build/tests/vm/squat/kqemu_squat.ko" "$out/"
