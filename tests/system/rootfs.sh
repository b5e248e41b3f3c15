#!/bin/bash
# Build (once) and cache the root file system of a whole Debian 12 system:
# systemd as init, udev, its kernel with headers, DKMS and a compiler, as a
# host that is to get kqemu through DKMS would have (and libkmod-dev and
# libudev-dev, for the `make install` test).  The second kernel (the
# "upgrade", bookworm-backports' linux-image-amd64 with headers) is
# downloaded into its apt cache but not installed, so a test can install it
# later without the network.
# Usage: rootfs.sh        prints the cached tree's path
set -euo pipefail
cache=${KQEMU_CACHE:-/var/cache/kqemu}
root=$cache/system-bookworm-v2
mirror=${KQEMU_MIRROR:-http://deb.debian.org/debian}

if [ -f "$root/.kqemu-ready" ]; then
	echo "$root"
	exit 0
fi

# One build at a time: a second run waits for the first and takes its tree,
# rather than deleting the half-built one under it.
mkdir -p "$cache"
exec 9>"$cache/.system-bookworm.lock"
flock 9
if [ -f "$root/.kqemu-ready" ]; then
	echo "$root"
	exit 0
fi

echo "rootfs.sh: building a Debian 12 system in $root (first run only)" >&2
# A build that was killed may have left its /proc mounted: never delete
# through it.
umount "$root.tmp/proc" 2>/dev/null || true
rm -rf "$root.tmp"
debootstrap --variant=minbase \
	--include=systemd-sysv,udev,kmod,acl,passwd,dkms,gcc,make,libc6-dev,libkmod-dev,libudev-dev,ca-certificates \
	bookworm "$root.tmp" "$mirror" >&2 || {
	echo "rootfs.sh: debootstrap failed; see $root.tmp/debootstrap/debootstrap.log" >&2
	exit 1
}
cleanup() {
	umount "$root.tmp/proc" 2>/dev/null || true
}
trap cleanup EXIT
mount -t proc proc "$root.tmp/proc"
echo 'Acquire::Check-Valid-Until "false";' >"$root.tmp/etc/apt/apt.conf.d/99valid-until"
echo "deb $mirror bookworm-backports main" >"$root.tmp/etc/apt/sources.list.d/backports.list"
# The kernel's maintainer scripts run update-initramfs; no daemons may start.
printf '#!/bin/sh\nexit 101\n' >"$root.tmp/usr/sbin/policy-rc.d"
chmod +x "$root.tmp/usr/sbin/policy-rc.d"
in_root() {
	chroot "$root.tmp" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C \
		DEBIAN_FRONTEND=noninteractive "$@"
}
in_root apt-get -q update >&2
in_root apt-get -q install -y --no-install-recommends linux-image-amd64 linux-headers-amd64 initramfs-tools >&2
in_root apt-get clean
in_root apt-get -q install -y --no-install-recommends --download-only -t bookworm-backports \
	linux-image-amd64 linux-headers-amd64 >&2

# A system that boots straight to its test: root on the virtio disk, the
# serial console for output, nothing slow at boot.
echo kqemu-test >"$root.tmp/etc/hostname"
echo '/dev/vda / ext4 rw,noatime 0 1' >"$root.tmp/etc/fstab"
for unit in serial-getty@ttyS0.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
	e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-timesyncd.service; do
	ln -sf /dev/null "$root.tmp/etc/systemd/system/$unit"
done
rm -f "$root.tmp/usr/sbin/policy-rc.d"
umount "$root.tmp/proc"
trap - EXIT
touch "$root.tmp/.kqemu-ready"
mv "$root.tmp" "$root"
echo "$root"
