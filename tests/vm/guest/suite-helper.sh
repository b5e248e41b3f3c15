# kqemuctl on a real kernel with a real systemd-udevd: install, the access
# it gives, doctor and each fault it must name with its fix, allow/deny,
# unload while in use, and an uninstall that leaves nothing behind.
# Sourced by /init.  Every verdict looks at the system, not at kqemuctl's
# word: stat the node, read sysfs, open the device as each user.
# run NAME CMD...: run, keep the output in /tmp/NAME.out and rc in $rc,
# and show the output as comments for the serial log.
run() {
	local name=$1
	shift
	"$@" >/tmp/$name.out 2>&1
	rc=$?
	sed "s/^/# $name: /" /tmp/$name.out
}
says() { grep -qF -- "$2" "/tmp/$1.out"; }
node_is() { [ "$(stat -c '%u:%g %a %t:%T' /dev/kqemu 2>/dev/null)" = "$1" ]; }
can_open() { runas "$@" sh -c 'exec 3<>/dev/kqemu' 2>/dev/null; }
doctor_fails() {	# doctor_fails NAME CHECK TEXT FIX [CMD...], CMD: kqemuctl doctor
	local name=$1 chk=$2 text=$3 fix=$4
	shift 4
	[ $# -gt 0 ] || set -- kqemuctl doctor
	echo "# fault: $name"
	run fault "$@"
	check "doctor exits non-zero when $name" '[ $rc -ne 0 ]'
	check "doctor names it: $chk: $text" 'grep "^FAIL $chk " /tmp/fault.out | grep -qF -- "$text"'
	check "doctor gives the fix: $fix" 'grep -A1 "^FAIL $chk " /tmp/fault.out | grep "fix: " | grep -qF -- "$fix"'
}
installed_files="/etc/sysusers.d/kqemu.conf /etc/udev/rules.d/60-kqemu.rules /etc/modprobe.d/kqemu.conf /etc/modules-load.d/kqemu.conf /var/lib/kqemu/install.manifest"
nothing_installed() {
	for f in $installed_files; do [ ! -e "$f" ] || return 1; done
	[ ! -d /sys/module/kqemu ] && ! grep -q '^kvm-users:' /etc/group
}

install_module_tree
# install creates the group itself: drop the one the initramfs ships.
groupdel kvm-users
mkdir -p /var

# Without udevd, install must fail and roll back everything it did.
run noudev kqemuctl install
check "install without systemd-udevd fails with exit status 7" '[ $rc -eq 7 ]'
check "and says udevd is not running and how to start it" 'says noudev "systemd-udevd is not running" && says noudev "systemctl start systemd-udevd"'
check "and rolls back: no file, no group, no module left" nothing_installed

/lib/systemd/systemd-udevd --daemon 2>&1 | sed 's/^/# udevd: /'
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /run/udev/control ] && break; sleep 0.2; done
check "systemd-udevd runs" '[ -S /run/udev/control ]'

run install kqemuctl install
check "install succeeds" '[ $rc -eq 0 ]'
gid=$(grep '^kvm-users:' /etc/group | cut -d: -f3)
check "install created group kvm-users (gid $gid)" '[ -n "$gid" ]'
check "/dev/kqemu is root:kvm-users 0660, char 10:250 (fa in hex)" 'node_is "0:$gid 660 a:fa"'
check "the live ACL is allow_groups=$gid" '[ "$(cat /sys/module/kqemu/parameters/allow_groups)" = "$gid" ]'
check "modprobe.d carries the same ACL" 'grep -qx "options kqemu allow_groups=$gid" /etc/modprobe.d/kqemu.conf'
check "modules-load.d loads kqemu at boot" 'grep -qx kqemu /etc/modules-load.d/kqemu.conf'
check "install printed what it verified" 'says install "verified: /dev/kqemu is root:kvm-users 0660"'
run again kqemuctl install
check "a second install succeeds and changes nothing" '[ $rc -eq 0 ] && says again "nothing changed"'

run adduser kqemuctl adduser member
check "adduser member adds member to kvm-users" '[ $rc -eq 0 ] && grep -q "^kvm-users:.*member" /etc/group'
check "adduser says a new login is needed" 'says adduser "next login"'
run adduser2 kqemuctl adduser nosuchuser
check "adduser of an unknown user fails with exit status 3" '[ $rc -eq 3 ] && says adduser2 "no user '"'"'nosuchuser'"'"'"'
check "the member opens /dev/kqemu" 'can_open member'
check "the outsider is refused" '! can_open outsider'
check "the member with a login from before adduser is refused" '! can_open -G "" member'

run status kqemuctl status --json
check "status --json reports the live module, the node and the ACL" \
	'says status "\"module\":\"live\"" && says status "\"mode\":\"0660\"" && says status "\"allow_groups\":\"$gid\""'

run doctor kqemuctl doctor --user=member
check "doctor passes after install (exit 0)" '[ $rc -eq 0 ] && says doctor "All checks passed."'
run doctor-member runas member kqemuctl doctor
check "doctor passes as the member itself" '[ $rc -eq 0 ]'

# Fault: the rule removed.
mv /etc/udev/rules.d/60-kqemu.rules /tmp/rule
doctor_fails "the rule is removed" udev-rule "no udev rule for kqemu" "kqemuctl install"
mv /tmp/rule /etc/udev/rules.d/60-kqemu.rules

# Fault: the node chmod'ed; install puts it back through udev.
chmod 0666 /dev/kqemu
doctor_fails "the node is chmod'ed" node "/dev/kqemu is 0:$gid 0666, the rule wants root:kvm-users 0660" "kqemuctl install"
run reapply kqemuctl install
check "install makes udev re-apply the rule to the node" '[ $rc -eq 0 ] && says reapply "re-applied" && node_is "0:$gid 660 a:fa"'

# Fault: the user not in the group, and not in this login.
sed -i "s/^kvm-users:\(.*\):member$/kvm-users:\1:/" /etc/group
doctor_fails "the user is not in the group" user-in-group "member is not in group kvm-users" "kqemuctl adduser member" \
	kqemuctl doctor --user=member
kqemuctl adduser member >/dev/null
doctor_fails "the user's login predates adduser" user-in-group "member is in group kvm-users in the group database (getent group) but not in this login" "newgrp kvm-users" \
	runas -G "" member kqemuctl doctor

# Fault: the live ACL no longer allows the group.
echo > /sys/module/kqemu/parameters/allow_groups
doctor_fails "the live ACL lost the group" acl "does not allow kvm-users" "kqemuctl allow group kvm-users"
run allowg kqemuctl allow group kvm-users
check "allow group kvm-users restores the live ACL" '[ $rc -eq 0 ] && [ "$(cat /sys/module/kqemu/parameters/allow_groups)" = "$gid" ]'

# allow / deny a user: live and persisted, in agreement.
check "listed is refused before allow" '! can_open listed'
run allowu kqemuctl allow user listed
check "allow user listed succeeds and warns that the node's mode still refuses listed" '[ $rc -eq 0 ] && says allowu "listed is not in kvm-users" && ! can_open listed'
chmod 0666 /dev/kqemu
check "with the mode out of the way, the in-kernel ACL lets listed in" 'can_open listed'
chmod 0660 /dev/kqemu
check "allow user listed: live and modprobe.d agree" '[ "$(cat /sys/module/kqemu/parameters/allow_users)" = 1002 ] && grep -q "allow_users=1002" /etc/modprobe.d/kqemu.conf'
run acl kqemuctl acl
check "acl shows them in agreement (exit 0)" '[ $rc -eq 0 ] && says acl "allow_users=1002 allow_groups=$gid"'
run denyu kqemuctl deny user listed
chmod 0666 /dev/kqemu
check "deny user listed: the in-kernel ACL refuses listed, even through mode 0666" '[ $rc -eq 0 ] && ! can_open listed'
chmod 0660 /dev/kqemu
check "deny user listed: live and persisted ACL drop uid 1002" '[ -z "$(cat /sys/module/kqemu/parameters/allow_users)" ] && ! grep -q allow_users /etc/modprobe.d/kqemu.conf'
run denybad kqemuctl deny user
check "deny without a name is a usage error (exit 2)" '[ $rc -eq 2 ]'

# Fault: the module unloaded.
run unload kqemuctl unload
check "unload unloads kqemu" '[ $rc -eq 0 ] && [ ! -d /sys/module/kqemu ]'
doctor_fails "the module is unloaded" module-loaded "kqemu is not loaded" "kqemuctl load"

# Fault: the module blacklisted.
echo "blacklist kqemu" >/etc/modprobe.d/no-kqemu.conf
doctor_fails "the module is blacklisted" module-loaded "/etc/modprobe.d/no-kqemu.conf blacklists it" 'remove the "blacklist kqemu" line from /etc/modprobe.d/no-kqemu.conf'
run blload kqemuctl load
check "load of a blacklisted kqemu fails with exit status 4 and names the file" '[ $rc -eq 4 ] && says blload "blacklisted in /etc/modprobe.d/no-kqemu.conf" && [ ! -d /sys/module/kqemu ]'
rm /etc/modprobe.d/no-kqemu.conf

run load kqemuctl load
check "load loads kqemu with its modprobe.d ACL" '[ $rc -eq 0 ] && [ "$(cat /sys/module/kqemu/parameters/allow_groups)" = "$gid" ]'
check "udev gives the new node root:kvm-users 0660" 'node_is "0:$gid 660 a:fa"'
run doctor2 kqemuctl doctor --user=member
check "doctor passes again after every fault is fixed" '[ $rc -eq 0 ]'

# Another rule that overrides ours: install says so, doctor names the file.
echo 'KERNEL=="kqemu", MODE="0600"' >/etc/udev/rules.d/99-local-kqemu.rules
chmod 0666 /dev/kqemu	# so that install has udev apply the rules again
run override kqemuctl install
check "install fails when another rule overrides ours (exit 1) and says how to find it" \
	'[ $rc -eq 1 ] && says override "/dev/kqemu is 0:$gid 0600 after udev applied" && says override "another rule overrides ours"'
doctor_fails "a second rule fights ours" udev-rule "other rules set /dev/kqemu" "/etc/udev/rules.d/99-local-kqemu.rules"
rm /etc/udev/rules.d/99-local-kqemu.rules
run fixed kqemuctl install
check "without the other rule, install puts the node right again" '[ $rc -eq 0 ] && node_is "0:$gid 660 a:fa"'

# Unload and uninstall while the member holds the device open.
runas member sh -c 'exec 3<>/dev/kqemu; exec sleep 30' &
holder=$!
sleep 1
run busy kqemuctl unload
check "unload while in use fails with exit status 6 and names the process" '[ $rc -eq 6 ] && says busy "in use by pid $holder (sleep)"'
run busyun kqemuctl uninstall
check "uninstall while in use says who uses kqemu and keeps it loaded" '[ $rc -eq 6 ] && says busyun "pid $holder" && [ -d /sys/module/kqemu ]'
kill $holder
wait $holder 2>/dev/null

run uninstall kqemuctl uninstall --purge
check "uninstall --purge succeeds" '[ $rc -eq 0 ]'
check "uninstall left nothing behind: no file, no group, no module" nothing_installed
check "uninstall removed /var/lib/kqemu" '[ ! -e /var/lib/kqemu ]'
run again-un kqemuctl uninstall
check "a second uninstall has nothing to undo" '[ $rc -eq 0 ] && says again-un "nothing to undo"'
udevadm control --exit 2>/dev/null
