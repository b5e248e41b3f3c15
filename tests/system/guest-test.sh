#!/bin/bash
# Runs inside the booted test system (kqemu-test.service, after
# multi-user.target), as a host's admin and users would: nothing here loads
# kqemu or sets up its node; it only looks.  Prints "ok"/"not ok" lines on
# the serial console, then powers the machine off.
# Kernel command line: kqemu_abi=ABI (the kernel it must run),
# kqemu_purge=1 (purge the packages at the end and check nothing is left).
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }
check() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fi; }
show() { sed "s/^/#   /"; }
want=$(arg kqemu_abi)
guest=/usr/share/kqemu/guests/hello.bin

echo "=== kqemu-system: start ==="
check "it runs the kernel $want" '[ "$(uname -r)" = "$want" ]'
check "systemd is PID 1" '[ "$(cat /proc/1/comm)" = systemd ]'
check "kqemu was loaded at boot, with no manual step" '[ -d /sys/module/kqemu ]'
path=$(modinfo -n kqemu 2>/dev/null)
check "the module is DKMS's build for this kernel ($path)" \
	'[[ $path == /lib/modules/$(uname -r)/updates/dkms/kqemu.ko* ]]'
signer=$(modinfo -F signer kqemu 2>/dev/null)
check "DKMS signed it with its own key (signer: ${signer:-none})" '[ -n "$signer" ] && [ -e /var/lib/dkms/mok.pub ]'
gid=$(getent group kvm-users | cut -d: -f3)
check "/dev/kqemu is root:kvm-users 0660" '[ "$(stat -c "%U:%G %a" /dev/kqemu 2>/dev/null)" = "root:kvm-users 660" ]'
check "the live in-kernel ACL allows kvm-users (allow_groups=$gid)" \
	'[ -n "$gid" ] && [ "$(cat /sys/module/kqemu/parameters/allow_groups 2>/dev/null)" = "$gid" ]'

out=$(runuser -u member -- kqemu-run "$guest" 2>&1)
rc=$?
echo "$out" | show
check "member (in kvm-users) runs the hello guest with kqemu-run (status $rc)" \
	'[ $rc -eq 0 ] && grep -q "^Hello from a kqemu guest" <<<"$out"'
out=$(runuser -u outsider -- kqemu-run "$guest" 2>&1)
rc=$?
echo "$out" | show
check "outsider is refused, in words (status $rc)" \
	'[ $rc -eq 125 ] && grep -q "permission denied on /dev/kqemu: you are not allowed" <<<"$out"'
out=$(kqemuctl doctor --user=member 2>&1)
rc=$?
echo "$out" | show
check "kqemuctl doctor --user=member passes (status $rc)" '[ $rc -eq 0 ]'

# What loading kqemu costs at boot: its init function (initcall_debug) and
# the unit that loads it.
init=$(dmesg | sed -n 's/.*initcall kqemu_init.* returned 0 after \([0-9]*\) usecs.*/\1/p' | head -n 1)
# (the boot is not finished while this unit runs, so systemd-analyze blame
# has nothing yet: read the unit's own timestamps, in microseconds)
ts() { systemctl show -P "$1" systemd-modules-load.service; }
unit=$(( $(ts ExecMainExitTimestampMonotonic) - $(ts ExecMainStartTimestampMonotonic) ))
mods=$(cat /etc/modules-load.d/*.conf /usr/lib/modules-load.d/*.conf 2>/dev/null | grep -v '^#' | grep -c .)
echo "# boot cost: kqemu_init ran ${init:-?} us; systemd-modules-load.service ($mods module(s) to load) ran $unit us"

if [ "$(arg kqemu_purge)" = 1 ]; then
	files=$(dpkg -L kqemu-dkms kqemu-utils 2>/dev/null | while read -r f; do
		[ -f "$f" ] || [ -L "$f" ] && echo "$f"; done)
	out=$(DEBIAN_FRONTEND=noninteractive apt-get purge -y kqemu-utils kqemu-dkms 2>&1)
	rc=$?
	echo "$out" | grep -v 'Reading database' | tail -n 15 | show
	check "apt-get purge kqemu-utils kqemu-dkms succeeds" '[ $rc -eq 0 ]'
	check "dpkg knows neither package any more" '! dpkg -s kqemu-utils kqemu-dkms >/dev/null 2>&1'
	check "the module is unloaded" '[ ! -d /sys/module/kqemu ] && [ ! -e /dev/kqemu ]'
	left=$(for f in $files; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done)
	check "none of the packages' $(echo "$files" | wc -w) files is left${left:+: $left}" '[ -z "$left" ]'
	left=$(find /lib/modules /usr/src /var/lib/dkms /etc -name '*kqemu*' ! -name 'kqemu-test*' 2>/dev/null)
	check "no module, DKMS tree, source or config is left${left:+: $left}" '[ -z "$left" ]'
	check "the group kvm-users stays (the admin removes it)" 'getent group kvm-users >/dev/null'
fi
echo "=== kqemu-system: done ==="
systemctl poweroff --no-block
