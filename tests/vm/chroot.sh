#!/bin/bash
# Build (once) and cache a Debian chroot that can build kqemu.ko for RELEASE's
# newest kernel, the way that release's DKMS would: its own gcc, its own kbuild.
# Usage: chroot.sh RELEASE        prints the chroot's path
set -euo pipefail
release=$1
cache=${KQEMU_CACHE:-/var/cache/kqemu}
root=$cache/chroot-$release
mirror=${KQEMU_MIRROR:-http://deb.debian.org/debian}

mount_proc() {
	# objtool reads /proc; leave it mounted for the run, unmount at exit.
	mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
}

if [ -f "$root/.kqemu-ready" ]; then
	mount_proc
	echo "$root"
	exit 0
fi

# One build at a time (make check and check-vmx may ask at once): a second
# run waits for the first and takes its chroot.
mkdir -p "$cache"
exec 9>"$cache/.chroot-$release.lock"
flock 9
if [ -f "$root/.kqemu-ready" ]; then
	mount_proc
	echo "$root"
	exit 0
fi

echo "chroot.sh: building a $release chroot in $root (first run only)" >&2
# A build that was killed may have left its /proc mounted: never delete
# through it.
umount "$root.tmp/proc" 2>/dev/null || true
rm -rf "$root.tmp"
debootstrap --variant=minbase --include=gcc,make,libc6-dev,libelf-dev,perl,ca-certificates \
	"$release" "$root.tmp" "$mirror" >&2 || {
	echo "chroot.sh: debootstrap of $release failed; see $root.tmp/debootstrap/debootstrap.log" >&2
	exit 1
}
echo 'Acquire::Check-Valid-Until "false";' > "$root.tmp/etc/apt/apt.conf.d/99kqemu-valid-until"
mount -t proc proc "$root.tmp/proc"
trap 'umount "$root.tmp/proc" 2>/dev/null || true' EXIT
chroot "$root.tmp" apt-get update >&2
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	linux-headers-amd64 >&2
umount "$root.tmp/proc"
trap - EXIT
touch "$root.tmp/.kqemu-ready"
mv "$root.tmp" "$root"
mount_proc
echo "$root"
