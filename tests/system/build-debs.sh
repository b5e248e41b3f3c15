#!/bin/bash
# Build the Debian packages kqemu-dkms and kqemu-utils from this tree with
# the standard tools (dpkg-buildpackage, debhelper, dh-dkms), in a copy of
# the tree so that the build leaves nothing in the working tree.
# Usage: build-debs.sh OUTDIR       leaves OUTDIR/kqemu-{dkms,utils}_*.deb
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/kqemu"
"$(dirname "$0")/tree.sh" | tar -x -C "$work/kqemu"
(cd "$work/kqemu" && dpkg-buildpackage -us -uc -b --no-sign) >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "build-debs.sh: dpkg-buildpackage failed; see $out/build.log" >&2
	exit 1
}
rm -f "$out"/*.deb
cp "$work"/kqemu-dkms_*.deb "$work"/kqemu-utils_*_amd64.deb "$out/"
ls "$out"/*.deb
