#!/bin/bash
# Build (once) and cache the disk of the Debian system that QEMU boots on
# kqemu in suite-qemu: a small Debian 13 (debootstrap's minbase with
# systemd as init, udev, which networkd waits for, and iproute2), ext4 on a raw image, whose one job is the
# unit disk-test.service: with systemd-networkd's DHCP on QEMU's user-mode
# network (slirp) it fetches a word from 10.0.2.2, writes it to the disk
# and powers off; the next boot of the same disk says what the disk holds.
# No kernel on it: QEMU boots the test VM's own with -kernel, and the small
# initramfs of tests/vm/qemu-guest (kq_mode=disk) mounts /dev/vda.
# Cached in $KQEMU_CACHE/qemu-disk-HASH.img, HASH of this script and of
# disk-test.sh.
# Usage: mkdisk.sh        prints the image's path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KQEMU_CACHE:-/var/cache/kqemu}
mirror=${KQEMU_MIRROR:-http://deb.debian.org/debian}
hash=$(cat "$0" "$here/disk-test.sh" | sha256sum | cut -c1-12)
image=$cache/qemu-disk-$hash.img

if [ -f "$image" ]; then
	echo "$image"
	exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/.qemu-disk.lock"
flock 9
if [ -f "$image" ]; then
	echo "$image"
	exit 0
fi

echo "mkdisk.sh: building the Debian 13 disk QEMU boots on kqemu (first run only)" >&2
root=$cache/qemu-disk.tmp
umount "$root/proc" 2>/dev/null || true
rm -rf "$root" "$image.tmp"
log=$cache/qemu-disk.log
if ! debootstrap --variant=minbase --include=systemd-sysv,udev,iproute2 trixie "$root" "$mirror" >"$log" 2>&1; then
	echo "mkdisk.sh: debootstrap failed; the end of $log:" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
for f in /usr/lib/systemd/systemd-networkd /usr/lib/systemd/systemd-networkd-wait-online; do
	if [ ! -x "$root$f" ]; then
		echo "mkdisk.sh: $f is not in Debian 13's systemd" >&2
		exit 1
	fi
done

echo kqemu-disk >"$root/etc/hostname"
echo '/dev/vda / ext4 rw,noatime 0 1' >"$root/etc/fstab"
cat >"$root/etc/systemd/network/50-slirp.network" <<'EOF'
[Match]
Type=ether

[Network]
DHCP=ipv4
EOF
install -m 0755 "$here/disk-test.sh" "$root/usr/local/sbin/disk-test"
cat >"$root/etc/systemd/system/disk-test.service" <<'EOF'
[Unit]
Description=kqemu's disk test: fetch a word over slirp, keep it on disk
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/disk-test
StandardOutput=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
EOF
# Enabled as systemctl enable would; nothing else that is slow at boot.
wants=$root/etc/systemd/system/multi-user.target.wants
mkdir -p "$wants" "$root/etc/systemd/system/network-online.target.wants"
ln -sf /etc/systemd/system/disk-test.service "$wants/disk-test.service"
ln -sf /usr/lib/systemd/system/systemd-networkd.service "$wants/systemd-networkd.service"
ln -sf /usr/lib/systemd/system/systemd-networkd-wait-online.service \
	"$root/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service"
for unit in serial-getty@ttyS0.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
	e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-timesyncd.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# What the image need not carry.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
	"$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root/debootstrap"

# Its size: what it holds and a quarter more, for the journal and the test.
kb=$(du -sk "$root" | cut -f1)
if ! mkfs.ext4 -q -F -L kqemu-disk -d "$root" "$image.tmp" "$((kb * 5 / 4 + 32768))k" >>"$log" 2>&1; then
	echo "mkdisk.sh: mkfs.ext4 -d failed; the end of $log:" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
rm -rf "$root"
mv "$image.tmp" "$image"
echo "$image"
