#!/bin/bash
# The initramfs of the Linux guest that QEMU boots on kqemu (in the test
# VM: tests/vm/guest/pack-qemu.sh; in the full-system test's Debian 12
# system: tests/system/run.sh): busybox, this folder's init, PROGRAMs in
# /bin, and whatever DIR already holds (pack-qemu.sh's modules).
# Usage: mkinitrd.sh DIR OUT [PROGRAM...]    (OUT: a gzipped cpio archive)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$1 out=$2
shift 2
mkdir -p "$dir"/{bin,dev,proc,sys,tmp}
cp /bin/busybox "$dir/bin/busybox"
[ $# -eq 0 ] || cp "$@" "$dir/bin/"
install -m 0755 "$here/init" "$dir/init"
(cd "$dir" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out"
