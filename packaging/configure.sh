#!/bin/sh
# Configure a host for kqemu once its files are installed, or undo that.
# Run by `make install`/`make uninstall` and by the kqemu-utils package.
#   configure.sh [--root=DIR] configure
#       create kvm-users (sysusers.d), persist the ACL in
#       /etc/modprobe.d/kqemu.conf and record that file in kqemu's manifest
#       (/var/lib/kqemu/install.manifest, the one kqemuctl keeps), and, on a
#       booted systemd host, load kqemu so /dev/kqemu is there now
#       (otherwise from the next boot on)
#   configure.sh unload
#       unload kqemu if it is loaded and unused
#   configure.sh [--root=DIR] purge
#       remove every file the manifest lists that is still as kqemu wrote it
#       (the package's, make install's and kqemuctl's), the manifest and
#       what kqemu made for it; the group stays
# Nothing here touches the running system unless systemd is PID 1 of this
# root: in a chroot, an image build or under --root it only writes files.
set -e
KQEMU_ROOT=
case $1 in --root=/*) KQEMU_ROOT=${1#--root=}; shift ;; esac
here=$(cd "$(dirname "$0")" && pwd)
. "$here/manifest.sh"
group=kvm-users
conf=/etc/modprobe.d/kqemu.conf
# The sysusers.d file make install or the package put next to lib/kqemu/.
sysusers=${here%/kqemu}/sysusers.d/kqemu.conf

booted() { [ -z "$KQEMU_ROOT" ] && [ -d /run/systemd/system ] && [ /proc/1/root -ef / ] 2>/dev/null; }
group_gid() {
	if [ -z "$KQEMU_ROOT" ]; then
		getent group "$group" | cut -d: -f3
	else
		grep "^$group:" "$KQEMU_ROOT/etc/group" | cut -d: -f3
	fi
}
# What kqemuctl allow/deny write for this ACL (helper/acl.c): the same
# bytes, so that either can tell the file is kqemu's.
modprobe_conf() {
	printf '# Written by kqemu; change it with kqemuctl allow/deny, which also\n# apply it live.  kqemu'"'"'s in-kernel ACL: numeric uids and gids.\noptions kqemu allow_groups=%s\n' "$1"
}
# What kqemu 1.0's configure.sh wrote, and recorded nowhere.
written_by_1_0() {
	[ "$(sed -n 1p "$KQEMU_ROOT$conf")" = "# Written by kqemu: who may open /dev/kqemu (see kqemuctl acl)." ] &&
		[ "$(wc -l <"$KQEMU_ROOT$conf")" -eq 2 ] &&
		sed -n 2p "$KQEMU_ROOT$conf" | grep -qx 'options kqemu allow_groups=[0-9][0-9]*'
}

case "$1" in
configure)
	if [ -z "$(group_gid)" ]; then
		if [ -z "$KQEMU_ROOT" ] && [ -f "$sysusers" ] && command -v systemd-sysusers >/dev/null; then
			systemd-sysusers "$sysusers"
		elif [ -z "$KQEMU_ROOT" ]; then
			groupadd --system "$group"
		else
			groupadd --system --prefix "$KQEMU_ROOT" "$group"
		fi
	fi
	gid=$(group_gid)
	# The in-kernel ACL lets the group in from the first load on.  A file
	# already there is kqemuctl's or the admin's: keep it, and adopt only
	# 1.0's, which is ours.
	if [ ! -e "$KQEMU_ROOT$conf" ]; then
		made=
		if [ ! -d "$KQEMU_ROOT/etc/modprobe.d" ]; then
			mkdir -p "$KQEMU_ROOT/etc/modprobe.d"
			made=/etc/modprobe.d
		fi
		modprobe_conf "$gid" >"$KQEMU_ROOT$conf.kqemu-tmp"
		mv "$KQEMU_ROOT$conf.kqemu-tmp" "$KQEMU_ROOT$conf"
		kqemu_record "$conf" $made
	elif ! kqemu_listed "$conf" && written_by_1_0; then
		kqemu_record "$conf"
	fi
	booted || exit 0
	udevadm control --reload 2>/dev/null || true
	if [ ! -d /sys/module/kqemu ]; then
		if modinfo kqemu >/dev/null 2>&1; then
			modprobe kqemu || echo "kqemu: could not load the module now; run kqemuctl doctor" >&2
		else
			echo "kqemu: no kqemu module for kernel $(uname -r) yet (is kqemu-dkms installed, with linux-headers-$(uname -r)?)" >&2
		fi
	fi
	if [ -d /sys/module/kqemu ]; then
		udevadm trigger --action=change --subsystem-match=misc --sysname-match=kqemu 2>/dev/null || true
		udevadm settle --timeout=10 2>/dev/null || true
	fi
	;;
unload)
	if booted && [ -d /sys/module/kqemu ]; then
		modprobe -r kqemu 2>/dev/null ||
			echo "kqemu: the module is in use and stays loaded until the next boot" >&2
	fi
	;;
purge)
	if ! kqemu_listed "$conf" && [ -e "$KQEMU_ROOT$conf" ] && written_by_1_0; then
		rm -f "$KQEMU_ROOT$conf"
	fi
	kqemu_purge
	;;
*)
	echo "usage: $0 [--root=DIR] configure|unload|purge" >&2
	exit 2
	;;
esac
exit 0
