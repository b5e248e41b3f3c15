#!/bin/bash
# The full-system test: kqemu on a whole Debian 12 system, installed the way
# a host gets it.
#  1. build the Debian packages (kqemu-dkms, kqemu-utils) from this tree;
#  2. copy the cached Debian 12 root file system (rootfs.sh), install the
#     packages there with apt-get so that DKMS builds kqemu.ko for its
#     kernel, add a kvm-users member (kqemuctl adduser) and an outsider;
#  3. boot it under QEMU TCG (-cpu EPYC) with systemd as PID 1: the test
#     unit (guest-test.sh) checks, with no manual step, the module, the
#     node, the ACL, a guest run by the member, the outsider refused and
#     kqemuctl doctor; member boots Linux with QEMU on kqemu (where make
#     qemu has run); then purges kqemu-utils and installs it again on the
#     running system: all of it must hold at once, with no reboot;
#  4. upgrade the kernel (bookworm-backports' linux-image-amd64 and its
#     headers): DKMS must build for it by itself; boot it, check it all
#     again, then purge both packages and check nothing is left;
#  5. the same system fresh, with `make install` instead of the packages:
#     boot, check, `make uninstall`, check nothing is left.
# Prints "ok"/"not ok" lines and a closing "N passed, N failed".
# Environment: KQEMU_CACHE, KQEMU_BUILD, KQEMU_DEMO=1 (`make demo`: only
# the first boot, with nothing done after the checks).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${KQEMU_BUILD:-$top/build}
work=$build/system
root=$work/root
demo=${KQEMU_DEMO:-0}
start_all=$SECONDS
. "$top/tests/lib.sh"

# verdict TEXT CMD...: ok if CMD succeeds.
verdict() {
	local text=$1
	shift
	if "$@"; then say ok "$text"; else say fail "$text"; fi
}
finish() {
	umount "$root/proc" 2>/dev/null || true
	echo "# the full-system test took $((SECONDS - start_all)) s"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}
# step TEXT: what happens next, for the log (and for the demo's reader).
step() { echo "# --- $*"; }
in_root() {
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C \
		DEBIAN_FRONTEND=noninteractive "$@"
}
# newest_abi: the newest kernel installed in the tree.
newest_abi() { ls "$root/lib/modules" | sort -V | tail -n 1; }
built_for() { ls "$root/lib/modules/$1/updates/dkms/kqemu.ko"* >/dev/null 2>&1; }
# offline: the tree as a chroot in which packages install but no daemon starts.
offline() {
	mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod +x "$root/usr/sbin/policy-rc.d"
}
# fresh_root: a new copy of the cached Debian 12 system.
fresh_root() {
	umount "$root/proc" 2>/dev/null || true
	rm -rf "$root"
	cp -a --reflink=auto "$base" "$root"
	offline
}
# users_and_driver: member joins kvm-users the admin's way, outsider stays
# out; and the test's own unit, which runs guest-test.sh after boot.
users_and_driver() {
	in_root useradd -m -s /bin/bash member
	in_root useradd -m -s /bin/bash outsider
	in_root kqemuctl adduser member 2>&1 | sed 's/^/#   /'
	verdict "kqemuctl adduser member puts member in kvm-users" \
		sh -c "chroot '$root' id -nG member | grep -qw kvm-users"
	install -m 0755 "$here/guest-test.sh" "$root/usr/local/sbin/kqemu-test"
	cat >"$root/etc/systemd/system/kqemu-test.service" <<'EOU'
[Unit]
Description=kqemu full-system test
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/kqemu-test
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS1
[Install]
WantedBy=multi-user.target
EOU
	mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
	ln -sf ../kqemu-test.service "$root/etc/systemd/system/multi-user.target.wants/kqemu-test.service"
}

# qemu_and_guest: make qemu's QEMU (build/qemu: a trixie build that brings
# its own libraries and loader, so it runs on Debian 12) in /opt/kqemu-qemu,
# and the Linux guest it boots there: the system's own kernel with the
# small initramfs of tests/vm/qemu-guest, whose init says hello and powers
# off.  Returns 1 where make qemu has not run.
qemu_and_guest() {
	local q=$build/qemu g
	[ -x "$q/bin/qemu-system-x86_64" ] || return 1
	rm -rf "$root/opt/kqemu-qemu"
	mkdir -p "$root/opt/kqemu-qemu/guest"
	cp -a "$q/bin" "$q/lib" "$q/share" "$root/opt/kqemu-qemu/"
	install -m 0644 "$root/boot/vmlinuz-$abi1" "$root/opt/kqemu-qemu/guest/vmlinuz"
	g=$(mktemp -d)
	"$top/tests/vm/qemu-guest/mkinitrd.sh" "$g" "$root/opt/kqemu-qemu/guest/initrd.gz"
	rm -rf "$g"
}

# boot TAG ABI LOG [a=b...]: make the disk image from the tree and boot
# kernel ABI from it; judge the lines the test unit prints.  The unit writes
# to a serial port of its own (ttyS1, LOG.test): on the console, ttyS0
# (LOG), the kernel's messages can land in the middle of one of its lines.
boot() {
	local tag=$1 abi=$2 log=$3 t0=$SECONDS line
	local out=${log%.log}.test.log
	shift 3
	umount "$root/proc" 2>/dev/null || true
	rm -f "$root/usr/sbin/policy-rc.d" "$work/disk.img"
	if ! mkfs.ext4 -q -F -L root -d "$root" "$work/disk.img" 6G >"$work/mkfs.log" 2>&1; then
		cat "$work/mkfs.log"
		say fail "[$tag] make the disk image"
		return 1
	fi
	step "booting $abi under QEMU TCG (-cpu EPYC) with systemd (disk image made in $((SECONDS - t0)) s)"
	t0=$SECONDS
	timeout --foreground 900 qemu-system-x86_64 -accel tcg -cpu EPYC -smp 2 -m 2048 \
		-nographic -no-reboot -monitor none -serial stdio -serial file:"$out" -nic none \
		-drive file="$work/disk.img",format=raw,if=virtio \
		-kernel "$root/boot/vmlinuz-$abi" -initrd "$root/boot/initrd.img-$abi" \
		-append "root=/dev/vda rw console=ttyS0 panic=-1 loglevel=4 initcall_debug log_buf_len=4M kqemu_abi=$abi $*" \
		</dev/null >"$log" 2>&1
	echo "# [$tag] the VM ran for $((SECONDS - t0)) s; console: $log; the test's output: $out"
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) say ok "[$tag] ${line#ok - }" ;;
		"not ok - "*) say fail "[$tag] ${line#not ok - }" ;;
		"# "*) echo "# [$tag] ${line#\# }" ;;
		esac
	done < <(tr -d '\r' <"$out" | sed -n '/^=== kqemu-system: start ===/,/^=== kqemu-system: done ===/p')
	if tr -d '\r' <"$out" | grep -q '^=== kqemu-system: done ==='; then
		say ok "[$tag] the system booted and ran its test to the end"
	else
		echo "# the console's last lines, and the kernel's errors:"
		tr -d '\r' <"$log" | tail -n 40 | sed 's/^/#   /'
		tr -d '\r' <"$log" | grep -E '^\[ *[0-9.]+\] ' | grep -v 'calling\|initcall' | tail -n 40 | sed 's/^/#   /'
		echo "# the test's last lines:"
		tr -d '\r' <"$out" | tail -n 20 | sed 's/^/#   /'
		say fail "[$tag] the system booted and ran its test to the end"
	fi
	rm -f "$work/disk.img"
}

mkdir -p "$work"
step "building the Debian packages with dpkg-buildpackage"
if "$here/build-debs.sh" "$work/deb" >"$work/debs.log" 2>&1; then
	say ok "the Debian packages kqemu-dkms and kqemu-utils build"
else
	cat "$work/debs.log"
	say fail "the Debian packages kqemu-dkms and kqemu-utils build"
	finish
fi
sed 's/^/#   /' "$work/debs.log"

step "a Debian 12 system (debootstrap, cached in ${KQEMU_CACHE:-/var/cache/kqemu})"
if ! base=$("$here/rootfs.sh" 2>"$work/rootfs.log"); then
	tail -n 30 "$work/rootfs.log"
	say fail "a Debian 12 root file system"
	finish
fi
fresh_root
abi1=$(newest_abi)

step "installing the packages as an admin would: apt-get install ./kqemu-*.deb (DKMS builds kqemu.ko for $abi1)"
mkdir -p "$root/root/debs"
cp "$work"/deb/*.deb "$root/root/debs/"
verdict "apt-get installs kqemu-dkms and kqemu-utils" \
	in_root sh -c 'apt-get install -y -q --no-install-recommends /root/debs/*.deb >/root/install.log 2>&1'
grep -iE 'dkms|kqemu|sign|error' "$root/root/install.log" | sed 's/^/#   /'
verdict "DKMS built and installed kqemu.ko for $abi1 in updates/dkms" built_for "$abi1"
step "users: member joins kvm-users with kqemuctl adduser; outsider does not"
users_and_driver
qemu=
if qemu_and_guest; then
	step "QEMU with kqemu (make qemu) in /opt/kqemu-qemu, for member to boot Linux on kqemu"
	qemu=kqemu_qemu=1
else
	echo "# no QEMU here for member to boot Linux on kqemu: make qemu has not run (make check runs it first)"
fi

if [ "$demo" = 1 ]; then
	boot "boot 1: $abi1" "$abi1" "$work/serial-1.log" $qemu
	finish
fi
boot "boot 1: $abi1" "$abi1" "$work/serial-1.log" kqemu_reinstall=1 $qemu
rm -rf "$root/opt/kqemu-qemu"

step "kernel upgrade: apt-get install -t bookworm-backports linux-image-amd64 linux-headers-amd64"
offline
if in_root apt-get install -y -q --no-install-recommends -t bookworm-backports \
	linux-image-amd64 linux-headers-amd64 >"$work/upgrade.log" 2>&1; then
	abi2=$(newest_abi)
	say ok "the new kernel $abi2 and its headers install"
else
	tail -n 30 "$work/upgrade.log"
	say fail "the new kernel and its headers install"
	finish
fi
grep -iE 'dkms|kqemu' "$work/upgrade.log" | sed 's/^/#   /'
verdict "DKMS built kqemu.ko for the new kernel $abi2 by itself (AUTOINSTALL)" built_for "$abi2"
verdict "the build for $abi1 stays" built_for "$abi1"
boot "boot 2: $abi2" "$abi2" "$work/serial-2.log" kqemu_purge=1

step "the same system, fresh, with make install instead of the packages"
fresh_root
mkdir -p "$root/root/kqemu"
"$here/tree.sh" | tar -x -C "$root/root/kqemu"
verdict "make install (build, install, DKMS add and build for $abi1, configure)" \
	in_root sh -c 'make -C /root/kqemu install >/root/install.log 2>&1'
sed 's/^/#   /' "$root/root/install.log" | grep -v -e '^#   install ' -e 'Entering\|Leaving' | tail -n 25
verdict "DKMS built and installed kqemu.ko for $abi1 in updates/dkms" built_for "$abi1"
users_and_driver
boot "boot 3: $abi1, make install" "$abi1" "$work/serial-3.log" kqemu_uninstall=1
finish
