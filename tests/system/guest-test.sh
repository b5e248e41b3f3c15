#!/bin/bash
# Runs inside the booted test system (kqemu-test.service, after
# multi-user.target), as a host's admin and users would: nothing here loads
# kqemu or sets up its node before the first checks; they only look.
# Prints "ok"/"not ok" lines on its own serial port (ttyS1), then powers off.
# Kernel command line:
#   kqemu_abi=ABI       the kernel it must run
#   kqemu_reinstall=1   purge kqemu-utils, then install it on the running
#                       system: kqemu must be usable at once, with no reboot
#   kqemu_purge=1       purge both packages; nothing may be left
#   kqemu_uninstall=1   `make uninstall` in /root/kqemu; nothing may be left
#   kqemu_qemu=1        member boots Linux with QEMU on kqemu (/opt/kqemu-qemu)
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }
check() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fi; }
show() { sed "s/^/#   /"; }
want=$(arg kqemu_abi)
guest=/usr/share/kqemu/guests/hello.bin
export DEBIAN_FRONTEND=noninteractive

# usable WHEN: the module, the node, the ACL, a member, an outsider, doctor.
usable() {
	local when=$1 path signer gid out rc
	check "$when: kqemu is loaded" '[ -d /sys/module/kqemu ]'
	path=$(modinfo -n kqemu 2>/dev/null)
	check "$when: it is DKMS's build for this kernel ($path)" \
		'[[ $path == /lib/modules/$(uname -r)/updates/dkms/kqemu.ko* ]]'
	out=$(dkms status kqemu -k "$(uname -r)" 2>&1)
	echo "$out" | show
	# Not "no warning" at all: DKMS's readelf warns about every .ko.xz
	# without a .comment section, which says nothing about kqemu.
	check "$when: DKMS's own dkms status says kqemu is installed for this kernel, with nothing deprecated" \
		'grep -q "^kqemu/.*$(uname -r).*: installed" <<<"$out" && ! grep -qi "deprecated" <<<"$out"'
	signer=$(modinfo -F signer kqemu 2>/dev/null)
	check "$when: DKMS signed it with its own key (signer: ${signer:-none})" \
		'[ -n "$signer" ] && [ -e /var/lib/dkms/mok.pub ]'
	gid=$(getent group kvm-users | cut -d: -f3)
	check "$when: /dev/kqemu is root:kvm-users 0660" \
		'[ "$(stat -c "%U:%G %a" /dev/kqemu 2>/dev/null)" = "root:kvm-users 660" ]'
	check "$when: the live in-kernel ACL allows kvm-users (allow_groups=$gid)" \
		'[ -n "$gid" ] && [ "$(cat /sys/module/kqemu/parameters/allow_groups 2>/dev/null)" = "$gid" ]'
	out=$(runuser -u member -- kqemu-run "$guest" 2>&1)
	rc=$?
	echo "$out" | show
	check "$when: member (in kvm-users) runs the hello guest with kqemu-run (status $rc)" \
		'[ $rc -eq 0 ] && grep -q "^Hello from a kqemu guest" <<<"$out"'
	out=$(runuser -u outsider -- kqemu-run "$guest" 2>&1)
	rc=$?
	echo "$out" | show
	check "$when: outsider is refused, in words (status $rc)" \
		'[ $rc -eq 125 ] && grep -q "permission denied on /dev/kqemu: you are not allowed" <<<"$out"'
	out=$(kqemuctl doctor --user=member 2>&1)
	rc=$?
	echo "$out" | show
	check "$when: kqemuctl doctor --user=member passes (status $rc)" '[ $rc -eq 0 ]'
}

# runs_as WHO: WHO runs the hello guest (0), or is refused in words (1).
runs_as() {
	local out rc
	out=$(runuser -u "$1" -- kqemu-run "$guest" 2>&1)
	rc=$?
	echo "$out" | show
	[ $rc -eq 0 ] && grep -q "^Hello from a kqemu guest" <<<"$out" && return 0
	[ $rc -eq 125 ] && grep -q "permission denied on /dev/kqemu" <<<"$out" && return 1
	return 2
}
# ctl ARGS: kqemuctl ARGS, shown; its status in $rc.
ctl() { kqemuctl "$@" >/tmp/kqemuctl.out 2>&1; rc=$?; show </tmp/kqemuctl.out; }
# acl_live WHEN: an admin lets member in by uid, takes the group out, takes
# member out, and puts the group back, live: the file the package wrote is
# kqemu's, so kqemuctl changes it.
acl_live() {
	local when=$1 gid r
	gid=$(getent group kvm-users | cut -d: -f3)
	ctl allow user member
	check "$when: kqemuctl allow user member (status $rc) on the file the package wrote" '[ $rc -eq 0 ]'
	ctl deny group kvm-users
	check "$when: kqemuctl deny group kvm-users (status $rc)" '[ $rc -eq 0 ]'
	runs_as member; r=$?
	check "$when: member still runs a guest, allowed by uid alone" '[ $r -eq 0 ]'
	ctl deny user member
	check "$when: kqemuctl deny user member (status $rc)" '[ $rc -eq 0 ]'
	runs_as member; r=$?
	check "$when: member is refused at once, in words" '[ $r -eq 1 ]'
	ctl allow group kvm-users
	check "$when: kqemuctl allow group kvm-users (status $rc)" '[ $rc -eq 0 ]'
	runs_as member; r=$?
	check "$when: member runs a guest again, as a member of kvm-users" '[ $r -eq 0 ]'
	check "$when: live and modprobe.d agree (allow_groups=$gid, no users)" \
		'[ "$(cat /sys/module/kqemu/parameters/allow_groups)" = "$gid" ] && [ -z "$(cat /sys/module/kqemu/parameters/allow_users)" ] && grep -qx "options kqemu allow_groups=$gid" /etc/modprobe.d/kqemu.conf'
	ctl acl
	check "$when: kqemuctl acl sees them agree (status $rc)" '[ $rc -eq 0 ]'
}

# nothing_left WHAT: no module loaded, no node, no file of ours anywhere
# (this test's own unit and script aside); the group stays.
nothing_left() {
	local left
	check "after $1: the module is unloaded and /dev/kqemu is gone" \
		'[ ! -d /sys/module/kqemu ] && [ ! -e /dev/kqemu ]'
	left=$(find /usr /etc /var/lib/dkms /var/lib/kqemu -name '*kqemu*' \
		! -name 'kqemu-test*' 2>/dev/null | tr '\n' ' ')
	check "after $1: no file, module, DKMS tree, source or config is left${left:+: $left}" '[ -z "$left" ]'
	check "after $1: no manifest and no backup of kqemu's is left" \
		'[ ! -e /var/lib/kqemu ] && [ -z "$(find /etc -name "*.kqemuctl-backup*" 2>/dev/null)" ]'
	check "after $1: the group kvm-users stays (the admin removes it)" 'getent group kvm-users >/dev/null'
}

echo "=== kqemu-system: start ==="
check "it runs the kernel $want" '[ "$(uname -r)" = "$want" ]'
check "systemd is PID 1" '[ "$(cat /proc/1/comm)" = systemd ]'
usable "after boot, with no manual step"
acl_live "after boot"

# qemu_as WHO [ACCEL]: WHO's QEMU on kqemu (or ACCEL) boots Linux (this
# kernel) with two vCPUs; its output, the guest's serial console included,
# in $out; its status $rc.
qemu_as() {
	local q=/opt/kqemu-qemu
	out=$(set -o pipefail; cd /tmp && runuser -u "$1" -- timeout 300 $q/lib/ld-linux-x86-64.so.2 --library-path $q/lib \
		$q/bin/qemu-system-x86_64 -L $q/share -accel "${2:-kqemu}" -cpu host -smp 2 -m 256 \
		-nodefaults -no-user-config -display none -serial stdio \
		-kernel $q/guest/vmlinuz -initrd $q/guest/initrd.gz \
		-append "console=ttyS0 panic=-1 loglevel=4" </dev/null 2>&1 | tr -d '\r')
	rc=$?
}

if [ "$(arg kqemu_qemu)" = 1 ]; then
	start=$SECONDS
	qemu_as member
	grep '^kqemu-guest:' <<<"$out" | sed 's/^/# the guest says: /'
	kq_s=$((SECONDS - start))
	check "member boots Linux with QEMU on kqemu (-accel kqemu -smp 2): the guest says hello on 2 CPUs and powers off ($kq_s s, status $rc)" \
		'[ $rc -eq 0 ] && grep -q "^kqemu-guest: hello from Linux $(uname -r) on 2 CPUs" <<<"$out" && grep -q "^kqemu-guest: powering off" <<<"$out"'
	[ $rc -eq 0 ] || tail -n 15 <<<"$out" | show
	# The reference: the same guest under the kernel's kvm_amd, in this
	# boot (root's: member is not in the kvm group).  kqemu leaves the CPU
	# to KVM between its own guests' runs, and KVM to kqemu.
	kq_words=$(grep '^kqemu-guest:' <<<"$out")
	start=$SECONDS
	modprobe kvm_amd
	qemu_as root kvm
	grep '^kqemu-guest:' <<<"$out" | sed 's/^/# under KVM the guest says: /'
	check "the same guest under -accel kvm (kvm_amd) in this boot says the same words ($((SECONDS - start)) s there, $kq_s s on kqemu; status $rc)" \
		'[ $rc -eq 0 ] && [ -n "$kq_words" ] && [ "$(grep "^kqemu-guest:" <<<"$out")" = "$kq_words" ]'
	[ $rc -eq 0 ] || tail -n 15 <<<"$out" | show
	qemu_as outsider
	echo "$out" | show
	check "outsider's QEMU stops at once, in one sentence (status $rc)" \
		'[ $rc -eq 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "permission denied on /dev/kqemu: you are not allowed" <<<"$out"'
fi

# What loading kqemu costs at boot: its init function (initcall_debug) and
# the unit that loads it.  The boot is not finished while this unit runs, so
# systemd-analyze has nothing yet: read the unit's own timestamps (us).
init=$(dmesg | sed -n 's/.*initcall kqemu_init.* returned 0 after \([0-9]*\) usecs.*/\1/p' | head -n 1)
ts() { systemctl show -P "$1" systemd-modules-load.service; }
unit=$(( $(ts ExecMainExitTimestampMonotonic) - $(ts ExecMainStartTimestampMonotonic) ))
mods=$(cat /etc/modules-load.d/*.conf /usr/lib/modules-load.d/*.conf 2>/dev/null | grep -v '^#' | grep -c .)
echo "# boot cost: kqemu_init ran ${init:-?} us; systemd-modules-load.service ($mods module(s) to load) ran $unit us"

if [ "$(arg kqemu_reinstall)" = 1 ]; then
	out=$(dpkg --purge kqemu-utils 2>&1)
	rc=$?
	echo "$out" | grep -v 'Reading database' | show
	check "dpkg --purge kqemu-utils (status $rc) unloads kqemu and removes the node" \
		'[ $rc -eq 0 ] && [ ! -d /sys/module/kqemu ] && [ ! -e /dev/kqemu ]'
	out=$(apt-get install -y -q /root/debs/kqemu-utils_*.deb 2>&1)
	rc=$?
	echo "$out" | grep -v 'Reading database' | tail -n 8 | show
	check "apt-get install kqemu-utils on the running system (status $rc)" '[ $rc -eq 0 ]'
	usable "at once after installing kqemu-utils, with no reboot"
fi

if [ "$(arg kqemu_purge)" = 1 ]; then
	out=$(apt-get purge -y -q kqemu-utils kqemu-dkms 2>&1)
	rc=$?
	echo "$out" | grep -v 'Reading database' | tail -n 15 | show
	check "apt-get purge kqemu-utils kqemu-dkms succeeds (status $rc)" '[ $rc -eq 0 ]'
	check "dpkg knows neither package any more" '! dpkg -s kqemu-utils >/dev/null 2>&1 && ! dpkg -s kqemu-dkms >/dev/null 2>&1'
	nothing_left "the purge"
fi

if [ "$(arg kqemu_uninstall)" = 1 ]; then
	out=$(make -C /root/kqemu uninstall 2>&1)
	rc=$?
	echo "$out" | tail -n 15 | show
	check "make uninstall succeeds (status $rc)" '[ $rc -eq 0 ]'
	nothing_left "make uninstall"
fi
echo "=== kqemu-system: done ==="
# Not `systemctl poweroff`: it asks logind first, over D-Bus, which this
# minimal system does not run, and prints an error before falling back.
systemctl start --no-block --job-mode=replace-irreversibly poweroff.target
