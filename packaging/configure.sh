#!/bin/sh
# Configure a host for kqemu once its files are installed, or undo that.
# Run by `make install`/`make uninstall` and by the kqemu-utils package.
#   configure.sh configure   create kvm-users (sysusers.d), persist the ACL
#                            in /etc/modprobe.d/kqemu.conf, and, on a booted
#                            systemd host, load kqemu so /dev/kqemu is there
#                            now (otherwise from the next boot on)
#   configure.sh unload      unload kqemu if it is loaded and unused
#   configure.sh purge       remove /etc/modprobe.d/kqemu.conf (the group stays)
# Nothing here touches the running system unless systemd is PID 1 of this
# root: in a chroot or an image build it only writes files.
set -e
group=kvm-users
conf=/etc/modprobe.d/kqemu.conf

booted() { [ -d /run/systemd/system ] && [ /proc/1/root -ef / ] 2>/dev/null; }

case "$1" in
configure)
	if ! getent group "$group" >/dev/null; then
		if command -v systemd-sysusers >/dev/null; then
			systemd-sysusers /usr/lib/sysusers.d/kqemu.conf
		else
			groupadd --system "$group"
		fi
	fi
	gid=$(getent group "$group" | cut -d: -f3)
	# The in-kernel ACL lets the group in from the first load on.  An admin's
	# (or kqemuctl allow/deny's) file is theirs: keep it.
	if [ ! -e "$conf" ]; then
		mkdir -p /etc/modprobe.d
		printf '# Written by kqemu: who may open /dev/kqemu (see kqemuctl acl).\noptions kqemu allow_groups=%s\n' \
			"$gid" >"$conf"
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
	rm -f "$conf"
	;;
*)
	echo "usage: $0 configure|unload|purge" >&2
	exit 2
	;;
esac
exit 0
