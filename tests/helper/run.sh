#!/bin/bash
# Unit tests of kqemuctl: no root needed, no kernel touched.  Every file
# operation runs under --root in a fresh tree; the shadow tools and udevadm
# are fakes that log what they were asked (fake-tools/, found through
# KQEMUCTL_TOOL_DIR), and the module syscalls go to an LD_PRELOAD shim
# (fake-kernel.c) that plays the kernel in a fake sysfs, as kmod's own
# testsuite does.  Expected files are in golden/.  Prints ok/not ok lines.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${KQEMU_BUILD:-$top/build}/helper
K=$build/kqemuctl
golden=$here/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KQEMUCTL_TOOL_DIR=$here/fake-tools FAKE_LOG=$tmp/tools.log
rel=$(uname -r)

passed=0 failed=0
check() {	# check WHAT CMD: CMD is eval'd; show the last output on failure
	if eval "$2"; then
		passed=$((passed + 1))
		echo "ok - helper: $1"
	else
		failed=$((failed + 1))
		echo "not ok - helper: $1"
		sed 's/^/#   /' "$tmp/out" 2>/dev/null | head -n 20
	fi
}
# kq ARGS...: kqemuctl --root=$R ARGS; output in $tmp/out, status in $rc.
kq() {
	"$K" --root="$R" "$@" >"$tmp/out" 2>&1
	rc=$?
}
says() { grep -qF -- "$1" "$tmp/out"; }
# doctor_says CHECK RESULT TEXT: the line of CHECK has RESULT and TEXT.
doctor_says() { grep "^$2 $1 " "$tmp/out" | grep -qF -- "$3"; }
fix_says() { grep -A1 "^FAIL $1 " "$tmp/out" | grep "fix: " | grep -qF -- "$2"; }
# A tree with the test users; "with-group" adds kvm-users (gid 990).
newroot() {
	R=$tmp/root-$1
	rm -rf "$R"
	mkdir -p "$R/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\nmember:x:1000:1000::/home/member:/bin/sh\nlisted:x:1002:1002::/home/listed:/bin/sh\n' >"$R/etc/passwd"
	printf 'root:x:0:\nmember:x:1000:\nlisted:x:1002:\n' >"$R/etc/group"
	[ "${2:-}" != with-group ] || echo 'kvm-users:x:990:' >>"$R/etc/group"
	: >"$FAKE_LOG"
}
# Every path, its mode and its contents' checksum: two trees are the same
# when their snapshots are.
snapshot() { (cd "$R" && find . -printf '%p %M\n' | sort && find . -type f -exec md5sum {} + | sort); }
same_tree() { diff -u "$1" <(snapshot) >"$tmp/out"; }
installed_files="etc/sysusers.d/kqemu.conf etc/udev/rules.d/60-kqemu.rules etc/modprobe.d/kqemu.conf etc/modules-load.d/kqemu.conf var/lib/kqemu/install.manifest"
# A stand-in kqemu.ko: an ELF object with just a .modinfo section, enough
# for libkmod and depmod.  VERMAGIC defaults to the running kernel.
fake_module() {
	local vermagic=${1:-$rel} dir=$R/lib/modules/$rel/extra
	mkdir -p "$dir"
	# shellcheck disable=SC2059 # $2 holds more NUL-separated keys
	printf "name=kqemu\\0vermagic=%s SMP preempt mod_unload \\0license=GPL\\0${2:-}" "$vermagic" >"$tmp/modinfo"
	cc -c -x c /dev/null -o "$tmp/empty.o"
	objcopy --add-section .modinfo="$tmp/modinfo" --set-section-flags .modinfo=alloc,readonly \
		"$tmp/empty.o" "$dir/kqemu.ko"
	depmod -b "$R" "$rel" 2>/dev/null
}
# A loaded kqemu in the fake sysfs, as the shim would leave it.
fake_loaded() {
	mkdir -p "$R/sys/module/kqemu/parameters"
	echo live >"$R/sys/module/kqemu/initstate"
	echo "${3:-0}" >"$R/sys/module/kqemu/refcnt"
	echo "$1" >"$R/sys/module/kqemu/parameters/allow_users"
	echo "$2" >"$R/sys/module/kqemu/parameters/allow_groups"
}
shim() { LD_PRELOAD=$tmp/fake-kernel.so FAKE_SYSFS=$R/sys "$@"; }

cc -shared -fPIC -O2 -Wall -Wextra -Werror -Wno-format-truncation -o "$tmp/fake-kernel.so" "$here/fake-kernel.c" -ldl ||
	{ echo "not ok - helper: build the fake-kernel shim"; exit 1; }

echo "# options and usage errors (exit status 2)"
R=/nonexistent
"$K" --help >"$tmp/out" 2>&1
check "--help lists every verb, one line each" \
	'[ $(grep -cE "^  (install|uninstall|load|unload|status|allow|deny|acl|adduser|doctor) " "$tmp/out") -eq 10 ]'
"$K" --version >"$tmp/out" 2>&1
version=$(sed -n '1s/^kqemu (\(.*\)).*/\1/p' "$top/debian/changelog")
check "--version prints the version of debian/changelog ($version)" 'grep -qx "kqemuctl $version" "$tmp/out"'
check "kmod/main.c's MODULE_VERSION is that version too" 'grep -qx "MODULE_VERSION(\"$version\");" "$top/kmod/main.c"'
make -s -C "$top" install-dkms DESTDIR="$tmp/dkms" >"$tmp/out" 2>&1
check "the DKMS tree is kqemu-$version, and its dkms.conf says PACKAGE_VERSION=\"$version\"" \
	'grep -qx "PACKAGE_VERSION=\"$version\"" "$tmp/dkms/usr/src/kqemu-$version/dkms.conf"'
check "debian/kqemu-utils.kqemu.sysusers (dh_installsysusers) is udev/kqemu.sysusers" \
	'cmp "$top/udev/kqemu.sysusers" "$top/debian/kqemu-utils.kqemu.sysusers" >"$tmp/out" 2>&1'
dist=$(cd "$build/.." && pwd)/dist
rm -f "$dist/kqemuctl.1"
make -s -C "$top" BUILD="${dist%/dist}" "$dist/kqemuctl.1" >"$tmp/out" 2>&1
check "the installed man page says kqemu $version and has a date" \
	'grep -qE "^\.TH KQEMUCTL 1 \"[0-9]{4}-[0-9]{2}-[0-9]{2}\" \"kqemu $version\"" "$dist/kqemuctl.1"'
for bad in "" "frobnicate" "--mode=999 install" "--mode=abc install" "--group=-x install" \
	   "--group=a:b install" "--root=relative install" "install extra" "--bogus doctor" \
	   "allow" "allow person member" "deny group" "adduser"; do
	"$K" --root="$tmp" $bad >"$tmp/out" 2>&1
	rc=$?
	check "'kqemuctl $bad' is a usage error (exit 2) that says what is wrong" '[ $rc -eq 2 ] && [ -s "$tmp/out" ]'
done

# Not root, on the real host: refused before anything is touched.
if [ "$(id -u)" -eq 0 ]; then
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
else
	as_nobody() { "$@"; }
fi
for verb in install uninstall load unload "allow user root" "deny user root" "adduser root"; do
	as_nobody "$K" $verb >"$tmp/out" 2>&1
	rc=$?
	check "'kqemuctl $verb' as a user is refused (exit 4), the fix repeating the command, and no strerror after the sentence" \
		'[ $rc -eq 4 ] && says "run it as root (sudo kqemuctl $verb), or try --dry-run" && ! says "Operation not permitted"'
done
as_nobody "$K" allow user "a b's" >"$tmp/out" 2>&1
rc=$?
check "the not-root fix quotes what a shell needs quoted" "[ \$rc -eq 4 ] && says \"(sudo kqemuctl allow user 'a b'\\\\''s'), or\""
for bad in "--bogus doctor" "--root" "--frob=1 status"; do
	"$K" $bad >"$tmp/out" 2>&1
	check "getopt's error for '$bad' is ours, one line, ending in see kqemuctl --help (exit 2)" \
		'[ $? -eq 2 ] && [ $(wc -l <"$tmp/out") -eq 1 ] && says "; see kqemuctl --help"'
done
as_nobody "$K" acl >"$tmp/out" 2>&1
rc=$?
check "'kqemuctl acl' as a user is allowed (it only reads)" '[ $rc -ne 4 ]'

echo "# install: golden files, the group through the shadow tools"
newroot fresh
before=$tmp/fresh.before
snapshot >"$before"
kq install
cp "$tmp/out" "$tmp/install.out"
check "install under --root succeeds" '[ $rc -eq 0 ]'
for f in sysusers.d:sysusers.conf udev/rules.d:60-kqemu.rules modprobe.d:modprobe.conf modules-load.d:modules-load.conf; do
	dir=${f%%:*} gold=${f#*:}
	file=$dir/$(basename "$gold" | sed 's/^sysusers.conf$/kqemu.conf/; s/^modprobe.conf$/kqemu.conf/; s/^modules-load.conf$/kqemu.conf/')
	check "install wrote /etc/$file as golden/install/$gold" 'diff -u "$golden/install/$gold" "$R/etc/$file" >"$tmp/out"'
done
check "install wrote the manifest as in golden/" 'diff -u "$golden/install/install.manifest" "$R/var/lib/kqemu/install.manifest" >"$tmp/out"'
hashes_match() {	# every file line of the manifest has the file's sha256
	local kind path hash rest
	while read -r kind path hash rest; do
		[ "$kind" != file ] || [ "$(sha256sum <"$R$path" | cut -d" " -f1)" = "$hash" ] || return 1
	done <"$R/var/lib/kqemu/install.manifest"
}
check "each hash in the manifest is what sha256sum says of the file" hashes_match
check "install printed each step as in golden/ (the paths under --root as typed)" 'diff -u "$golden/install/stdout" <(sed "s|$R/|/|g" "$tmp/install.out") >"$tmp/out" && grep -qx "created: $R/etc/sysusers.d/kqemu.conf" "$tmp/install.out"'
check "without systemd-sysusers, install created the group with groupadd --system --prefix" \
	'grep -qx "groupadd --system --prefix $R kvm-users" "$FAKE_LOG" && grep -qx "kvm-users:x:990:" "$R/etc/group"'
check "under --root, install loaded nothing and left udev alone" '! grep -q "insert\|udevadm" "$FAKE_LOG"'
installed=$tmp/fresh.installed
snapshot >"$installed"

echo "# idempotence"
kq install
check "a second install succeeds and says nothing changed" '[ $rc -eq 0 ] && says "installed as asked already; nothing changed"'
check "a second install changed no file" 'same_tree "$installed"'
check "a second install ran no tool" '[ $(grep -c groupadd "$FAKE_LOG") -eq 1 ]'
kq install --dry-run --mode=0640
check "install --dry-run --mode=0640 says what would change" '[ $rc -eq 0 ] && says "would be updated: $R/etc/udev/rules.d/60-kqemu.rules" && says "dry run: nothing was changed."'
check "install --dry-run changed nothing" 'same_tree "$installed"'

echo "# uninstall undoes exactly what install did"
kq uninstall
check "uninstall succeeds" '[ $rc -eq 0 ] && says "kqemu is uninstalled."'
check "uninstall keeps the group it created (no --purge)" 'grep -q "^kvm-users:" "$R/etc/group" && says "kept: group kvm-users"'
kq uninstall
check "a second uninstall has nothing to undo (exit 0)" '[ $rc -eq 0 ] && says "nothing to undo"'
newroot purge
snapshot >"$before"
kq install
kq uninstall --purge
check "uninstall --purge deletes the group install created, with groupdel --prefix" \
	'[ $rc -eq 0 ] && grep -qx "groupdel --prefix $R kvm-users" "$FAKE_LOG"'
check "install then uninstall --purge leaves the tree as it was before install" 'same_tree "$before"'
newroot existing with-group
snapshot >"$before"
kq install
check "install uses an existing group and does not create it" '[ $rc -eq 0 ] && says "unchanged: group kvm-users (gid 990)" && ! grep -q groupadd "$FAKE_LOG"'
kq uninstall --purge
check "uninstall --purge keeps a group install did not create" '[ $rc -eq 0 ] && says "kept: group kvm-users (it existed before install)" && ! grep -q groupdel "$FAKE_LOG"'
check "install then uninstall leaves the tree as it was before install" 'same_tree "$before"'

echo "# options reach the files"
newroot options with-group
kq install --group=kvm-users --mode=0640 --uaccess
check "install --mode=0640 --uaccess writes the rule as in golden/" \
	'[ $rc -eq 0 ] && diff -u "$golden/rule-mode-uaccess.rules" "$R/etc/udev/rules.d/60-kqemu.rules" >"$tmp/out"'
kq install
check "install with the defaults again updates our own rule" '[ $rc -eq 0 ] && says "updated: $R/etc/udev/rules.d/60-kqemu.rules" && diff -u "$golden/install/60-kqemu.rules" "$R/etc/udev/rules.d/60-kqemu.rules" >"$tmp/out"'

echo "# never clobber an admin's file"
newroot edited with-group
kq install
echo '# my local change' >>"$R/etc/udev/rules.d/60-kqemu.rules"
cp "$R/etc/udev/rules.d/60-kqemu.rules" "$tmp/edited.rules"
kq install --mode=0640
check "install refuses to overwrite a rule edited since install (exit 5)" \
	'[ $rc -eq 5 ] && says "refusing to overwrite $R/etc/udev/rules.d/60-kqemu.rules: it was edited since kqemuctl wrote it" && says "--force"'
check "the edited rule is untouched" 'cmp -s "$tmp/edited.rules" "$R/etc/udev/rules.d/60-kqemu.rules"'
kq install --mode=0640 --force
check "install --force replaces it and keeps the admin's as a backup" \
	'[ $rc -eq 0 ] && says "replaced (backup kept): $R/etc/udev/rules.d/60-kqemu.rules" && cmp -s "$tmp/edited.rules" "$R/etc/udev/rules.d/60-kqemu.rules.kqemuctl-backup"'
kq uninstall
check "uninstall puts the admin's backup back" \
	'[ $rc -eq 0 ] && cmp -s "$tmp/edited.rules" "$R/etc/udev/rules.d/60-kqemu.rules" && [ ! -e "$R/etc/udev/rules.d/60-kqemu.rules.kqemuctl-backup" ]'

newroot adminfile with-group
mkdir -p "$R/etc/modprobe.d"
echo "options kqemu allow_groups=5" >"$R/etc/modprobe.d/kqemu.conf"
snapshot >"$before"
kq install
check "install refuses a modprobe.d file it did not write (exit 5)" \
	'[ $rc -eq 5 ] && says "refusing to overwrite $R/etc/modprobe.d/kqemu.conf: kqemuctl did not write it"'
check "the refused install rolled back to the tree before it" 'same_tree "$before"'
"$K" --root="$R/" allow user root >"$tmp/out" 2>&1
check "with --root=DIR/ the message names DIR/etc/... as typed, one slash, and no strerror after the sentence" \
	'says "refusing to overwrite $R/etc/modprobe.d/kqemu.conf: kqemuctl did not write it" && ! says "File exists"'

newroot keep with-group
kq install
echo '# mine now' >>"$R/etc/modules-load.d/kqemu.conf"
kq uninstall
check "uninstall keeps a file edited since install and says so" \
	'[ $rc -eq 0 ] && says "kept: $R/etc/modules-load.d/kqemu.conf (edited since install" && [ -f "$R/etc/modules-load.d/kqemu.conf" ]'
check "uninstall removed the files that were still ours" '[ ! -e "$R/etc/udev/rules.d/60-kqemu.rules" ] && [ ! -e "$R/var/lib/kqemu" ]'

echo "# rollback after an injected failure"
newroot rollback
mkdir -p "$R/etc/modules-load.d/kqemu.conf"	# a directory where our file goes
snapshot >"$before"
kq install
check "install fails when it cannot write modules-load.d (exit 1) and names the file" \
	'[ $rc -eq 1 ] && says "cannot read $R/etc/modules-load.d/kqemu.conf: Is a directory"'
check "it rolled back: removed the files and deleted the group it created" \
	'says "rolling back" && grep -qx "groupdel --prefix $R kvm-users" "$FAKE_LOG"'
check "the tree is as it was before the failed install" 'same_tree "$before"'
newroot groupfail
snapshot >"$before"
FAKE_GROUPADD_FAIL=1 kq install
check "install fails when groupadd fails, and says which tool and status" \
	'[ $rc -ne 0 ] && says "cannot create group '"'"'kvm-users'"'"'" && says "exited with status 10"'
check "after the groupadd failure the tree is as it was" 'same_tree "$before"'
newroot notools
KQEMUCTL_TOOL_DIR=$tmp/empty-tools kq install
check "without systemd-sysusers or groupadd, install says what to install (exit 3)" \
	'[ $rc -eq 3 ] && says "neither systemd-sysusers nor groupadd is installed"'

if [ -x /usr/bin/systemd-sysusers ] || [ -x /bin/systemd-sysusers ]; then
	echo "# the group through systemd-sysusers"
	mkdir -p "$tmp/sysusers-tools"
	ln -sf "$(command -v systemd-sysusers)" "$tmp/sysusers-tools/systemd-sysusers"
	newroot sysusers
	KQEMUCTL_TOOL_DIR=$tmp/sysusers-tools kq install
	check "with systemd-sysusers, install creates the group from our sysusers.d file" \
		'[ $rc -eq 0 ] && grep -q "^kvm-users:x:[0-9]*:" "$R/etc/group"'
	gid=$(grep '^kvm-users:' "$R/etc/group" | cut -d: -f3)
	check "modprobe.d carries that group's gid ($gid)" 'grep -qx "options kqemu allow_groups=$gid" "$R/etc/modprobe.d/kqemu.conf"'
	newroot sysusers-pkg
	install -D -m 0644 "$top/udev/kqemu.sysusers" "$R/usr/lib/sysusers.d/kqemu.conf"
	install -D -m 0644 "$top/udev/60-kqemu.rules" "$R/usr/lib/udev/rules.d/60-kqemu.rules"
	KQEMUCTL_TOOL_DIR=$tmp/sysusers-tools kq install
	check "on a tree with the package's sysusers.d file, install creates the group from it and writes no /etc copy" \
		'[ $rc -eq 0 ] && grep -q "^kvm-users:x:[0-9]*:" "$R/etc/group" && [ ! -e "$R/etc/sysusers.d" ] && [ ! -e "$R/etc/udev" ]'
else
	echo "# systemd-sysusers is not installed here: its path is covered by the VM suite only"
fi

echo "# adduser"
newroot adduser with-group
kq adduser member
check "adduser runs usermod --append --groups kvm-users --prefix and says to log in again" \
	'[ $rc -eq 0 ] && grep -qx "usermod --append --groups kvm-users --prefix $R member" "$FAKE_LOG" && says "next login" && grep -qx "kvm-users:x:990:member" "$R/etc/group"'
kq adduser member
check "adduser of a member changes nothing" '[ $rc -eq 0 ] && says "unchanged: member is in kvm-users already"'
kq adduser nobody
check "adduser of an unknown user fails (exit 3)" '[ $rc -eq 3 ] && says "no user '"'"'nobody'"'"'"'
newroot adduser-nogroup
kq adduser member
check "adduser without the group says to install first (exit 3)" '[ $rc -eq 3 ] && says "run kqemuctl install first"'

echo "# allow / deny / acl, persisted and live"
newroot acl with-group
kq install
kq allow user member
check "allow user member (module not loaded) persists allow_users=1000" \
	'[ $rc -eq 0 ] && grep -qx "options kqemu allow_users=1000 allow_groups=990" "$R/etc/modprobe.d/kqemu.conf"'
kq uninstall
check "uninstall after allow still knows the modprobe.d file as ours" '[ $rc -eq 0 ] && [ ! -e "$R/etc/modprobe.d/kqemu.conf" ]'
newroot live with-group
kq install
fake_loaded "" 990
kq allow user listed
check "allow user listed writes the live allow_users too" \
	'[ $rc -eq 0 ] && [ "$(cat "$R/sys/module/kqemu/parameters/allow_users")" = 1002 ] && says "live and $R/etc/modprobe.d/kqemu.conf"'
cp "$R/etc/modprobe.d/kqemu.conf" "$tmp/live.conf"
kq allow user member --dry-run
check "allow --dry-run on a loaded kqemu changes neither the live ACL nor the file" \
	'[ $rc -eq 0 ] && says "would have allowed uid 1000" && [ "$(cat "$R/sys/module/kqemu/parameters/allow_users")" = 1002 ] && cmp -s "$tmp/live.conf" "$R/etc/modprobe.d/kqemu.conf"'
kq acl
check "acl shows live and persisted in agreement (exit 0)" '[ $rc -eq 0 ] && [ $(grep -c "allow_users=1002 allow_groups=990" "$tmp/out") -eq 2 ]'
kq deny group kvm-users
check "deny group kvm-users empties allow_groups live and persisted" \
	'[ $rc -eq 0 ] && [ -z "$(cat "$R/sys/module/kqemu/parameters/allow_groups")" ] && grep -qx "options kqemu allow_users=1002" "$R/etc/modprobe.d/kqemu.conf" && says "fail their next ioctl with EACCES"'
echo 5 >"$R/sys/module/kqemu/parameters/allow_groups"
kq acl
check "acl reports a live ACL that differs from modprobe.d (exit 1)" '[ $rc -eq 1 ] && says "they disagree"'
kq allow group nosuchgroup
check "allow of an unknown group fails (exit 3)" '[ $rc -eq 3 ] && says "no group '"'"'nosuchgroup'"'"'"'
kq allow user nosuchuser
check "allow of an unknown user fails (exit 3)" '[ $rc -eq 3 ] && says "no user '"'"'nosuchuser'"'"'"'
echo "# admin" >>"$R/etc/modprobe.d/kqemu.conf"
echo 1002 >"$R/sys/module/kqemu/parameters/allow_users"
kq allow user member
check "allow refuses to rewrite an edited modprobe.d file (exit 5)" '[ $rc -eq 5 ] && says "refusing to overwrite $R/etc/modprobe.d/kqemu.conf"'
check "and puts the live ACL back, so the two still agree with before" '[ "$(cat "$R/sys/module/kqemu/parameters/allow_users")" = 1002 ]'

echo "# users and groups through NSS on the host, from the files under --root"
cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$tmp/fake-nss.so" "$here/fake-nss.c" -ldl
nss() { LD_PRELOAD=$tmp/fake-nss.so "$K" "$@" >"$tmp/out" 2>&1; rc=$?; }
nss --dry-run allow user ldapuser
check "on the host, allow finds a user that only NSS knows (LDAP/sssd): uid 5000" \
	'[ $rc -eq 0 ] && says "would have allowed uid 5000"'
nss --dry-run allow group ldap.admins
check "on the host, allow finds a dotted group that only NSS knows: gid 6000" \
	'[ $rc -eq 0 ] && says "would have allowed gid 6000"'
nss --dry-run --group=ldap.admins adduser ldapuser
check "on the host, adduser sees a membership only getgrouplist() reports" \
	'[ $rc -eq 0 ] && says "unchanged: ldapuser is in ldap.admins already"'
newroot nss with-group
LD_PRELOAD=$tmp/fake-nss.so kq allow user ldapuser
check "under --root the root's /etc/passwd counts, not NSS: no such user (exit 3)" \
	'[ $rc -eq 3 ] && says "no user '"'"'ldapuser'"'"' in /etc/passwd under --root"'
for good in ldap.admins kvm_users samba\$ a-b.c 1st-group; do
	kq --group="$good" --dry-run install
	check "--group=$good is a group name adduser takes" '[ $rc -eq 0 ]'
done
for bad in 12345 .hidden -x a:b "a b" a/b "" abcdefghijklmnopqrstuvwxyz0123456789 \$; do
	kq --group="$bad" install
	check "--group='$bad' is a usage error (exit 2) that says what a name may be" '[ $rc -eq 2 ] && says "not all digits"'
done

echo "# ACL ids: what the kernel takes (kmod/acl.c), no more, never truncated"
newroot ids with-group
echo 'nobodyid:x:4294967295:4294967295::/:/bin/sh' >>"$R/etc/passwd"
for bad in 4294967295 4294967296 99999999999 ""; do
	kq allow user "$bad"
	check "allow user '$bad' is refused as a uid kqemu cannot take (exit 2)" \
		'[ $rc -eq 2 ] && [ ! -e "$R/etc/modprobe.d/kqemu.conf" ]'
done
kq allow user 4294967295
check "the refusal of (uid_t)-1 says what a uid may be" 'says "a decimal number from 0 to 4294967294"'
kq allow user nobodyid
check "allow of a user whose uid is (uid_t)-1 is refused (exit 2)" '[ $rc -eq 2 ] && says "means \"no id\""'
for name in 0x10 +5 1.5 1e3; do
	kq allow user "$name"
	check "allow user '$name' is not read as a number: no such user (exit 3)" '[ $rc -eq 3 ] && says "no user"'
done
kq allow group 00042
check "allow group 00042 is gid 42, persisted as 42" '[ $rc -eq 0 ] && grep -qx "options kqemu allow_groups=42" "$R/etc/modprobe.d/kqemu.conf"'
kq deny group 42
newroot full with-group
for i in $(seq 1 32); do kq allow user $((4000000000 + i)) || break; done
check "32 ten-digit uids are all persisted, none cut off" \
	'[ "$(sed -n "s/^options kqemu allow_users=//p" "$R/etc/modprobe.d/kqemu.conf" | tr , "\n" | wc -l)" -eq 32 ] && grep -q "allow_users=4000000001,.*,4000000032$" "$R/etc/modprobe.d/kqemu.conf"'
cp "$R/etc/modprobe.d/kqemu.conf" "$tmp/full.conf"
kq allow user 4000000033
check "a 33rd uid is a clear error (exit 1) naming the limit, and changes nothing" \
	'[ $rc -eq 1 ] && says "at most 32 uids" && cmp -s "$tmp/full.conf" "$R/etc/modprobe.d/kqemu.conf"'
kq allow user 4000000032
check "allowing a uid already there when full is fine (exit 0)" '[ $rc -eq 0 ]'
kq deny user 4000000001
check "deny on a full list takes one out" '[ $rc -eq 0 ] && ! grep -q "4000000001," "$R/etc/modprobe.d/kqemu.conf"'
newroot badfile with-group
kq install
for bad in "allow_users=1000,abc" "allow_users=4294967295" "allow_users=-1" "allow_users=$(seq -s, 1 33)"; do
	sed -i "s/^options kqemu .*/options kqemu $bad allow_groups=990/" "$R/etc/modprobe.d/kqemu.conf"
	cp "$R/etc/modprobe.d/kqemu.conf" "$tmp/bad.conf"
	kq allow user member
	check "allow refuses to build on a modprobe.d ACL the kernel would refuse ($bad), untouched" \
		'[ $rc -eq 1 ] && says "which kqemu refuses" && says "the next load of kqemu would fail" && cmp -s "$tmp/bad.conf" "$R/etc/modprobe.d/kqemu.conf"'
done
kq acl
check "acl names the entry the kernel would refuse (exit 1)" '[ $rc -eq 1 ] && says "which kqemu refuses"'
kq install
check "install refuses it too (exit 1)" '[ $rc -eq 1 ] && says "which kqemu refuses"'
kq doctor
check "doctor fails the acl check for it, with the fix" 'doctor_says acl FAIL "which kqemu refuses: the next load of kqemu fails" && fix_says acl "correct $R/etc/modprobe.d/kqemu.conf by hand"'

newroot fullgroups with-group
mkdir -p "$R/etc/modprobe.d"
kq install
sed -i "s/^options kqemu .*/options kqemu allow_groups=$(seq -s, 1 32)/" "$R/etc/modprobe.d/kqemu.conf"
cp "$R/etc/modprobe.d/kqemu.conf" "$tmp/full.conf"
kq install --force
check "install with 32 other groups persisted says kqemu takes no 33rd (exit 1), and writes nothing" \
	'[ $rc -eq 1 ] && says "allows 32 groups already" && cmp -s "$tmp/full.conf" "$R/etc/modprobe.d/kqemu.conf"'
newroot garbage-live with-group
fake_loaded "1000,x" 990
kq allow user member
check "allow with no modprobe.d file and a live ACL it cannot read says so (exit 1), changing nothing" \
	'[ $rc -eq 1 ] && says "cannot read the live ACL" && [ ! -e "$R/etc/modprobe.d/kqemu.conf" ] && [ "$(cat "$R/sys/module/kqemu/parameters/allow_users")" = "1000,x" ]'

echo "# acl: legal modprobe.d quoting is no disagreement"
newroot quoting with-group
kq install
fake_loaded 1000,1002 990
for line in 'options kqemu "allow_users=1000,1002" allow_groups="990"' \
	    'options kqemu allow_users="1002 1000" allow_groups=990' \
	    'options  kqemu	allow_users=1000,1002	allow_groups=990 ' \
	    "$(printf 'options kqemu allow_users=5 allow_groups=990\noptions kqemu allow_users=1000,1002')"; do
	printf '# mine\n%s\n' "$line" >"$R/etc/modprobe.d/kqemu.conf"
	kq acl
	check "acl: live 1000,1002/990 agrees with: $(echo "$line" | tr '\n\t' '; ')" '[ $rc -eq 0 ] && ! says "disagree"'
done
printf 'options kqemu allow_users=1000 allow_groups=990\n' >"$R/etc/modprobe.d/kqemu.conf"
kq acl
check "acl: live 1000,1002 and persisted 1000 do disagree (exit 1)" '[ $rc -eq 1 ] && says "they disagree"'

echo "# JSON: every string escaped, the output always parses"
valid_json() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" 2>/dev/null; }
newroot json with-group
fake_loaded 1002 990
mkdir -p "$R/sys/class/misc/kqemu/stats"
for c in vms vcpus mapped_bytes denials revocations; do echo 3 >"$R/sys/class/misc/kqemu/stats/$c"; done
echo 'not "a number"' >"$R/sys/class/misc/kqemu/stats/vms"
kq status --json
check "status --json parses, with a counter that is not a number as null" '[ $rc -eq 0 ] && valid_json && says "\"vms\":null"'
kq doctor --json "--user=gh\"o\\st	é$(printf '\001\377')"
check "doctor --json parses with quotes, a backslash, a tab, UTF-8, a control byte and a stray byte in a user name" \
	'valid_json && says "gh\\\"o\\\\st\\té\\u0001\\ufffd"'

echo "# one owner record for every file, however kqemu came (package, make install, kqemuctl)"
configure() { "$top/packaging/configure.sh" --root="$R" "$@" >"$tmp/out" 2>&1; rc=$?; }
# packaged NAME: a tree with the files kqemu-utils (or make install) puts
# under /usr/lib, as the Makefile's install-utils names them; $before is
# its snapshot, then the postinst's configure.sh runs.
packaged() {
	newroot "pkg-$1" with-group
	install -D -m 0644 "$top/udev/60-kqemu.rules" "$R/usr/lib/udev/rules.d/60-kqemu.rules"
	install -D -m 0644 "$top/udev/kqemu.sysusers" "$R/usr/lib/sysusers.d/kqemu.conf"
	install -D -m 0644 "$top/udev/kqemu.modules-load" "$R/usr/lib/modules-load.d/kqemu.conf"
	snapshot >"$before"
	[ "${2:-}" = bare ] || configure configure
}
manifest_line() { grep "^file $1 " "$R/var/lib/kqemu/install.manifest" 2>/dev/null; }
sha() { sha256sum <"$R$1" | cut -d' ' -f1; }
packaged fresh
check "the package's configure succeeds and writes modprobe.d as kqemuctl would" \
	'[ $rc -eq 0 ] && diff -u "$golden/install/modprobe.conf" "$R/etc/modprobe.d/kqemu.conf" >"$tmp/out"'
check "it records the file in kqemuctl's manifest, as configure's, with its sha256" \
	'[ "$(manifest_line /etc/modprobe.d/kqemu.conf)" = "file /etc/modprobe.d/kqemu.conf $(sha /etc/modprobe.d/kqemu.conf) - configure" ]'
snapshot >"$tmp/pkg.configured"
configure configure
check "a second configure (an upgrade) changes nothing" '[ $rc -eq 0 ] && same_tree "$tmp/pkg.configured"'
kq allow user root
check "on a packaged host, allow user root works (exit 0) and persists allow_users=0" \
	'[ $rc -eq 0 ] && grep -qx "options kqemu allow_users=0 allow_groups=990" "$R/etc/modprobe.d/kqemu.conf"'
check "the file stays the package's in the manifest, with the new hash" \
	'[ "$(manifest_line /etc/modprobe.d/kqemu.conf)" = "file /etc/modprobe.d/kqemu.conf $(sha /etc/modprobe.d/kqemu.conf) - configure" ]'
kq deny user root
check "on a packaged host, deny user root works (exit 0)" \
	'[ $rc -eq 0 ] && cmp -s "$golden/install/modprobe.conf" "$R/etc/modprobe.d/kqemu.conf"'
fake_loaded "" 990
kq allow user member
check "on a packaged host with kqemu loaded, allow user member lets uid 1000 in live and persisted" \
	'[ $rc -eq 0 ] && [ "$(cat "$R/sys/module/kqemu/parameters/allow_users")" = 1000 ] && grep -qx "options kqemu allow_users=1000 allow_groups=990" "$R/etc/modprobe.d/kqemu.conf"'
kq acl
check "on a packaged host, acl says live and persisted agree (exit 0)" '[ $rc -eq 0 ] && ! says "disagree"'
kq deny user member
check "on a packaged host, deny user member takes uid 1000 out live and persisted" \
	'[ $rc -eq 0 ] && [ -z "$(cat "$R/sys/module/kqemu/parameters/allow_users")" ] && cmp -s "$golden/install/modprobe.conf" "$R/etc/modprobe.d/kqemu.conf"'
rm -rf "$R/sys"
kq adduser member
check "on a packaged host, adduser puts member in the package's group" '[ $rc -eq 0 ] && grep -qx "kvm-users:x:990:member" "$R/etc/group"'
sed -i 's/:member$/:/' "$R/etc/group"
snapshot >"$tmp/pkg.configured"
kq install
check "kqemuctl install on a packaged host writes no /etc copy of the package's files" \
	'[ $rc -eq 0 ] && says "unchanged: $R/etc/udev/rules.d/60-kqemu.rules ($R/usr/lib/udev/rules.d/60-kqemu.rules says the same" && says "nothing changed" && same_tree "$tmp/pkg.configured"'
kq uninstall
check "kqemuctl uninstall on a packaged host keeps the package's modprobe.d file and says whose it is" \
	'[ $rc -eq 0 ] && says "kept: $R/etc/modprobe.d/kqemu.conf (kqemu'"'"'s package" && same_tree "$tmp/pkg.configured"'
kq allow user root
configure purge
check "purge after allow removes the modprobe.d file, the manifest and /var/lib/kqemu" \
	'[ $rc -eq 0 ] && [ ! -e "$R/etc/modprobe.d/kqemu.conf" ] && [ ! -e "$R/var/lib/kqemu" ]'
check "after purge the tree is as the package's files left it" 'same_tree "$before"'

packaged mixed
kq install --mode=0640
check "kqemuctl install --mode=0640 on a packaged host writes its own rule over the package's" \
	'[ $rc -eq 0 ] && says "created: $R/etc/udev/rules.d/60-kqemu.rules" && grep -q "MODE=\"0640\"" "$R/etc/udev/rules.d/60-kqemu.rules"'
kq uninstall
check "kqemuctl uninstall then removes its rule and keeps the package's file" \
	'[ $rc -eq 0 ] && [ ! -e "$R/etc/udev" ] && [ -f "$R/etc/modprobe.d/kqemu.conf" ] && manifest_line /etc/modprobe.d/kqemu.conf >/dev/null'
kq install --mode=0640
configure purge
check "purge after kqemuctl install on a packaged host removes kqemuctl's files too: the tree is as before" \
	'[ $rc -eq 0 ] && same_tree "$before"'

packaged force
echo "# mine" >>"$R/etc/modprobe.d/kqemu.conf"
cp "$R/etc/modprobe.d/kqemu.conf" "$tmp/mine.conf"
kq allow user root
check "allow refuses a package's modprobe.d file the admin edited (exit 5), untouched" \
	'[ $rc -eq 5 ] && says "it was edited since kqemuctl wrote it" && cmp -s "$tmp/mine.conf" "$R/etc/modprobe.d/kqemu.conf"'
kq allow user root --force
check "allow --force replaces it and keeps the admin's as a backup" \
	'[ $rc -eq 0 ] && cmp -s "$tmp/mine.conf" "$R/etc/modprobe.d/kqemu.conf.kqemuctl-backup"'
configure purge
check "purge after --force leaves no manifest and no backup, and puts the admin's file back" \
	'[ $rc -eq 0 ] && [ ! -e "$R/var/lib/kqemu" ] && [ ! -e "$R/etc/modprobe.d/kqemu.conf.kqemuctl-backup" ] && cmp -s "$tmp/mine.conf" "$R/etc/modprobe.d/kqemu.conf"'

packaged edited
kq allow user root
echo "# mine" >>"$R/etc/modprobe.d/kqemu.conf"
configure purge
check "purge keeps a modprobe.d file edited since kqemu wrote it, and says so" \
	'[ $rc -eq 0 ] && says "keeping /etc/modprobe.d/kqemu.conf: it was edited" && [ -f "$R/etc/modprobe.d/kqemu.conf" ] && [ ! -e "$R/var/lib/kqemu" ]'

packaged admin bare
mkdir -p "$R/etc/modprobe.d"
echo "options kqemu allow_groups=5" >"$R/etc/modprobe.d/kqemu.conf"
snapshot >"$before"
configure configure
check "configure keeps an admin's modprobe.d file and does not claim it" \
	'[ $rc -eq 0 ] && grep -qx "options kqemu allow_groups=5" "$R/etc/modprobe.d/kqemu.conf" && ! manifest_line /etc/modprobe.d/kqemu.conf'
kq allow user root
check "allow refuses that admin's file (exit 5): kqemuctl did not write it" '[ $rc -eq 5 ] && says "kqemuctl did not write it"'
configure purge
check "purge keeps the admin's file, and leaves the tree as before" '[ $rc -eq 0 ] && same_tree "$before"'

packaged legacy bare
mkdir -p "$R/etc/modprobe.d"
printf '# Written by kqemu: who may open /dev/kqemu (see kqemuctl acl).\noptions kqemu allow_groups=990\n' >"$R/etc/modprobe.d/kqemu.conf"
kq allow user root
check "allow adopts the file kqemu 1.0's package wrote (exit 0), as configure's" \
	'[ $rc -eq 0 ] && grep -qx "options kqemu allow_users=0 allow_groups=990" "$R/etc/modprobe.d/kqemu.conf" && manifest_line /etc/modprobe.d/kqemu.conf | grep -q " configure$"'
packaged legacy-upgrade bare
mkdir -p "$R/etc/modprobe.d"
printf '# Written by kqemu: who may open /dev/kqemu (see kqemuctl acl).\noptions kqemu allow_groups=990\n' >"$R/etc/modprobe.d/kqemu.conf"
configure configure
check "configure (the upgrade from 1.0) adopts 1.0's file into the manifest" \
	'[ $rc -eq 0 ] && [ "$(manifest_line /etc/modprobe.d/kqemu.conf)" = "file /etc/modprobe.d/kqemu.conf $(sha /etc/modprobe.d/kqemu.conf) - configure" ]'
rm -rf "$R/var/lib/kqemu"
configure purge
check "purge removes 1.0's file even when no manifest lists it" '[ $rc -eq 0 ] && [ ! -e "$R/etc/modprobe.d/kqemu.conf" ]'

newroot fnv with-group
mkdir -p "$R/etc/modprobe.d" "$R/var/lib/kqemu"
printf "# Written by kqemuctl; change it with kqemuctl allow/deny, which\n# also apply it live.  kqemu's in-kernel ACL: numeric uids and gids.\noptions kqemu allow_groups=990\n" >"$R/etc/modprobe.d/kqemu.conf"
echo "file /etc/modprobe.d/kqemu.conf 74f11b280a5dbca4 -" >"$R/var/lib/kqemu/install.manifest"
kq allow user root
check "a manifest of kqemuctl 1.0 (FNV-1a hashes) still proves the file is ours" \
	'[ $rc -eq 0 ] && [ "$(manifest_line /etc/modprobe.d/kqemu.conf)" = "file /etc/modprobe.d/kqemu.conf $(sha /etc/modprobe.d/kqemu.conf) -" ]'
printf '# Written by kqemuctl install; kqemuctl uninstall removes it.\n# Load kqemu at boot, so /dev/kqemu is there before anyone asks for it.\nkqemu\n' >"$R/etc/modules-load.conf.1.0"
mkdir -p "$R/etc/modules-load.d"
mv "$R/etc/modules-load.conf.1.0" "$R/etc/modules-load.d/kqemu.conf"
echo "file /etc/modules-load.d/kqemu.conf 36113924ab962e45 -" >>"$R/var/lib/kqemu/install.manifest"
kq allow user member
check "kqemuctl rewrites a 1.0 FNV-1a entry whose file is unchanged as its SHA-256" \
	'[ $rc -eq 0 ] && [ "$(manifest_line /etc/modules-load.d/kqemu.conf)" = "file /etc/modules-load.d/kqemu.conf $(sha /etc/modules-load.d/kqemu.conf) -" ]'
echo "file /etc/udev/rules.d/60-kqemu.rules b4d1b94ce36c8dad -" >>"$R/var/lib/kqemu/install.manifest"
mkdir -p "$R/etc/udev/rules.d"
echo "# something" >"$R/etc/udev/rules.d/60-kqemu.rules"
configure purge
check "purge keeps a file only a 1.0 FNV-1a hash vouches for, and says why" \
	'[ $rc -eq 0 ] && says "keeping /etc/udev/rules.d/60-kqemu.rules: kqemuctl 1.0 recorded it" && [ -f "$R/etc/udev/rules.d/60-kqemu.rules" ] && [ ! -e "$R/etc/modules-load.d/kqemu.conf" ] && [ ! -e "$R/var/lib/kqemu/install.manifest" ]'

newroot ctl-then-pkg with-group
snapshot >"$before"
kq install
install -D -m 0644 "$top/udev/60-kqemu.rules" "$R/usr/lib/udev/rules.d/60-kqemu.rules"
configure configure
check "configure after kqemuctl install keeps kqemuctl's modprobe.d file as kqemuctl's" \
	'[ $rc -eq 0 ] && manifest_line /etc/modprobe.d/kqemu.conf | grep -q " -$"'
configure purge
rm -r "$R/usr"
check "purge then removes all kqemuctl install wrote: the tree is as before" '[ $rc -eq 0 ] && same_tree "$before"'

packaged both
kq allow user root
echo "# mine" >>"$R/etc/modprobe.d/kqemu.conf"
kq allow user member --force
echo "# mine again" >>"$R/etc/modprobe.d/kqemu.conf"
configure purge
check "purge with an edited file and the backup --force made keeps both and says to merge them" \
	'[ $rc -eq 0 ] && says "keeping /etc/modprobe.d/kqemu.conf.kqemuctl-backup: /etc/modprobe.d/kqemu.conf is there (yours); merge them by hand" && [ -f "$R/etc/modprobe.d/kqemu.conf" ] && [ -f "$R/etc/modprobe.d/kqemu.conf.kqemuctl-backup" ] && [ ! -e "$R/var/lib/kqemu" ]'

newroot pkg-groupadd
install -D -m 0644 "$top/udev/kqemu.sysusers" "$R/usr/lib/sysusers.d/kqemu.conf"
PATH=$here/fake-tools:$PATH configure configure
check "configure under --root without the group creates it with groupadd --system --prefix and persists its gid" \
	'[ $rc -eq 0 ] && grep -qx "groupadd --system --prefix $R kvm-users" "$FAKE_LOG" && grep -qx "options kqemu allow_groups=990" "$R/etc/modprobe.d/kqemu.conf"'

packaged doctor
fake_module
fake_loaded "" 990
mkdir -p "$R/proc/1" "$R/sys/kernel/security"
printf 'vendor_id\t: AuthenticAMD\nflags\t\t: fpu vme svm npt\n' >"$R/proc/cpuinfo"
printf 'PATH=/bin\0HOME=/\0' >"$R/proc/1/environ"
echo "[none] integrity confidentiality" >"$R/sys/kernel/security/lockdown"
sed -i 's/^kvm-users:x:990:$/kvm-users:x:990:member/' "$R/etc/group"
kq doctor --user=member
check "doctor on a packaged host passes every check files can fake (the package's rule in /usr/lib)" \
	'for c in cpu-virtualization module-built secure-boot module-loaded udev-rule group user-in-group acl other-hypervisor container; do doctor_says $c pass "" || exit 1; done'
configure bogus
check "configure.sh with an unknown action is a usage error (exit 2)" '[ $rc -eq 2 ] && says "usage:"'

echo "# status"
newroot status with-group
kq status --json
check "status --json with no module says so" '[ $rc -eq 0 ] && says "{\"module\":\"not loaded\",\"node\":null"'
fake_loaded 1002 990
mkdir -p "$R/sys/class/misc/kqemu/stats"
for c in vms vcpus mapped_bytes denials revocations; do echo 3 >"$R/sys/class/misc/kqemu/stats/$c"; done
kq status --json
check "status --json reports the live ACL and every counter" \
	'[ $rc -eq 0 ] && says "\"acl\":{\"allow_users\":\"1002\",\"allow_groups\":\"990\"}" && says "\"counters\":{\"vms\":3,\"vcpus\":3,\"mapped_bytes\":3,\"denials\":3,\"revocations\":3}"'
kq status
check "status in words" '[ $rc -eq 0 ] && says "module:     kqemu live" && says "live ACL:   allow_users=1002 allow_groups=990"'

echo "# status: the module's recent access events (stats/recent)"
# The fake sysfs of the status tree above; uid 1001 is in no /etc/passwd.
recent_file=$R/sys/class/misc/kqemu/stats/recent
ev1='1764590403 denied uid=1001 pid=123 comm=kqemu-run gen=4'
ev2='1764590404 policy uid=0 pid=130 comm=tee gen=5'
ev3='1764590405 revoked uid=1000 pid=124 comm=kqemu-run gen=5'
kq status
check "status with a kqemu that has no stats/recent (an older module) says nothing about it" \
	'[ $rc -eq 0 ] && says "revocations 3" && ! grep -qi "recent" "$tmp/out"'
kq status --json
check "status --json with no stats/recent: recent is null" '[ $rc -eq 0 ] && valid_json && says "\"recent\":null,\"recent_skipped\":0}"'
: >"$recent_file"
kq status
check "status with an empty stats/recent says there was no event" \
	'[ $rc -eq 0 ] && grep -qx "recent:     no denial, revocation or policy change since kqemu was loaded" "$tmp/out"'
kq status --json
check "status --json with an empty stats/recent: an empty array" '[ $rc -eq 0 ] && valid_json && says "\"recent\":[],\"recent_skipped\":0}"'
printf '%s\n' "$ev1" "$ev2" "$ev3" >"$recent_file"
TZ=UTC kq status
check "status lists a denial after the counters: time, uid, the user when known, pid and comm" \
	'[ $rc -eq 0 ] && [ "$(sed -n "/^revocations /{n;p}" "$tmp/out")" = "recent:     2025-12-01 12:00:03 denied  uid 1001, pid 123 kqemu-run" ]'
check "status lists a policy change, marked as one, with its generation" \
	'grep -qx "            2025-12-01 12:00:04 policy  uid 0 (root), pid 130 tee changed the policy (generation 5)" "$tmp/out"'
check "status lists a revocation with the user's name from /etc/passwd under --root" \
	'grep -qx "            2025-12-01 12:00:05 revoked uid 1000 (member), pid 124 kqemu-run" "$tmp/out"'
TZ=JST-9 kq status
check "status shows the times in local time (TZ=JST-9: 21:00:03)" 'says "2025-12-01 21:00:03 denied  uid 1001"'
kq status --json
check "status --json has each event as an object, the user null when unknown" \
	'[ $rc -eq 0 ] && valid_json && says "\"recent\":[{\"time\":1764590403,\"kind\":\"denied\",\"uid\":1001,\"user\":null,\"pid\":123,\"comm\":\"kqemu-run\",\"gen\":4},{\"time\":1764590404,\"kind\":\"policy\",\"uid\":0,\"user\":\"root\",\"pid\":130,\"comm\":\"tee\",\"gen\":5},{\"time\":1764590405,\"kind\":\"revoked\",\"uid\":1000,\"user\":\"member\",\"pid\":124,\"comm\":\"kqemu-run\",\"gen\":5}],\"recent_skipped\":0}"'
printf '1764590403 denied uid=1001 pid=123 comm=a\xe9\x9b[2J gen=4\n' >"$recent_file"
kq status
check "status shows a comm's bytes past ASCII as ?, so no terminal sequence gets through" \
	'[ $rc -eq 0 ] && says "pid 123 a??[2J" && ! grep -q "$(printf "\x9b")" "$tmp/out"'
kq status --json
check "status --json passes such a comm through the JSON writer: it parses" 'valid_json && says "\"comm\":\"a\\ufffd\\ufffd[2J\""'
echo '1764590403 denied uid=1001 pid=123 comm= gen=4' >"$recent_file"
TZ=UTC kq status
check "status takes an empty comm (prctl can set one) and shows the pid alone" \
	'[ $rc -eq 0 ] && grep -qx "recent:     2025-12-01 12:00:03 denied  uid 1001, pid 123" "$tmp/out" && ! says "Skipped"'
for bad in "garbage" "" "$ev1 extra" "${ev1% gen=4}" "1764590403 allowed uid=1001 pid=123 comm=x gen=4" \
	   "1764590403 denied uid=4294967295 pid=123 comm=x gen=4" "1764590403 denied uid=-1 pid=123 comm=x gen=4" \
	   "1764590403 denied uid=1001 pid=12x comm=x gen=4" "1764590403 denied uid=1001 pid=2147483648 comm=x gen=4" \
	   "1764590403 denied uid=1001 pid=123 comm=sixteen-bytes-xx gen=4" "1764590403  denied uid=1001 pid=123 comm=x gen=4" \
	   "$ev1 " "99999999999999999999 denied uid=1001 pid=123 comm=x gen=4" "-5 denied uid=1001 pid=123 comm=x gen=4" \
	   "1764590403 denied uid=1001 pid=123 comm=x gen=18446744073709551616" "1764590403 denied pid=123 uid=1001 comm=x gen=4" \
	   "1764590403 denied uid=1001 pid=123 comm=a$(printf '\t')b gen=4" "1764590403 denied uid=1001 pid=123 comm=x gen=4$(printf '\r')"; do
	printf '%s\n%s\n%s\n' "$ev1" "$bad" "$ev3" >"$recent_file"
	TZ=UTC kq status
	shown_bad=$(printf '%s' "$bad" | tr '\t\r' '~~')
	check "status skips a malformed line ($shown_bad), says so and shows the others" \
		'[ $rc -eq 0 ] && [ $(grep -cE "^(recent:)? +2025-12-01 12:00:0[35] " "$tmp/out") -eq 2 ] && says "Skipped 1 line of $recent_file not in the form this kqemuctl knows."'
	kq status --json
	check "status --json skips it too: two events, recent_skipped 1 ($shown_bad)" \
		'[ $rc -eq 0 ] && valid_json && [ $(grep -o "\"kind\":" "$tmp/out" | wc -l) -eq 2 ] && says "\"recent_skipped\":1}"'
done
for i in $(seq 1 20); do echo "$((1764590400 + i)) denied uid=1001 pid=$i comm=x gen=1"; done >"$recent_file"
kq status --json
check "status keeps the newest 16 of more lines than the module keeps" \
	'valid_json && [ $(grep -o "\"kind\":" "$tmp/out" | wc -l) -eq 16 ] && says "\"pid\":5," && ! says "\"pid\":4,"'
rm "$recent_file"
mkdir "$recent_file"
kq status
check "status with a stats/recent it cannot read says so in one sentence, and exits 0 with the rest shown" \
	'[ $rc -eq 0 ] && says "revocations 3" && [ $(grep -c "recent" "$tmp/out") -eq 1 ] && says "kqemuctl: cannot read $recent_file (Is a directory): the recent denials and revocations are not shown"'
rmdir "$recent_file"
printf '%s\n' "$ev1" >"$recent_file"
FAKE_EACCES=$recent_file shim "$K" --root="$R" status --json >"$tmp/out" 2>"$tmp/err"; rc=$?
check "status --json with a root-only stats/recent: recent null, and on stderr the sentence that root can read it" \
	'[ $rc -eq 0 ] && valid_json && says "\"recent\":null" && grep -qx "kqemuctl: cannot read $recent_file (Permission denied): the recent denials and revocations are not shown; root can read them: sudo kqemuctl status" "$tmp/err"'
rm -rf "$R/sys/module/kqemu"
kq status
check "status with no module loaded says nothing of stats/recent" '[ $rc -eq 0 ] && ! grep -qi "recent" "$tmp/out"'

echo "# load / unload through libkmod, with the module syscalls faked"
newroot kmod with-group
fake_module
kq install
shim "$K" --root="$R" load >"$tmp/out" 2>&1; rc=$?
check "load inserts kqemu with the modprobe.d options" '[ $rc -eq 0 ] && grep -qx "insert kqemu allow_groups=990 *" "$FAKE_LOG" && says "loaded: kqemu"'
check "the fake sysfs now has the live ACL" '[ "$(cat "$R/sys/module/kqemu/parameters/allow_groups")" = 990 ]'
shim "$K" --root="$R" load >"$tmp/out" 2>&1; rc=$?
check "load of a loaded kqemu changes nothing" '[ $rc -eq 0 ] && says "loaded already" && [ $(grep -c insert "$FAKE_LOG") -eq 1 ]'
echo 1 >"$R/sys/module/kqemu/refcnt"
shim "$K" --root="$R" unload >"$tmp/out" 2>&1; rc=$?
check "unload of a kqemu in use fails (exit 6) and says so" '[ $rc -eq 6 ] && says "cannot unload '"'"'kqemu'"'"': in use by" && ! grep -q remove "$FAKE_LOG"'
echo 0 >"$R/sys/module/kqemu/refcnt"
shim "$K" --root="$R" unload >"$tmp/out" 2>&1; rc=$?
check "unload removes kqemu" '[ $rc -eq 0 ] && grep -qx "remove kqemu" "$FAKE_LOG" && [ ! -d "$R/sys/module/kqemu" ]'
shim "$K" --root="$R" unload >"$tmp/out" 2>&1; rc=$?
check "unload of an unloaded kqemu changes nothing" '[ $rc -eq 0 ] && says "not loaded"'
for err in ENOKEY:8:"mokutil --import" EKEYREJECTED:8:"mokutil --import" ENOEXEC:8:"built for another kernel"; do
	IFS=: read -r name want hint <<<"$err"
	FAKE_INIT_ERRNO=$name shim "$K" --root="$R" load >"$tmp/out" 2>&1; rc=$?
	check "a load the kernel refuses with $name exits $want and says: $hint" '[ $rc -eq $want ] && says "could not insert '"'"'kqemu'"'"'" && says "$hint"'
done
echo "blacklist kqemu" >"$R/etc/modprobe.d/local.conf"
: >"$FAKE_LOG"
shim "$K" --root="$R" load >"$tmp/out" 2>&1; rc=$?
check "load of a blacklisted kqemu fails (exit 4), names the file, inserts nothing" \
	'[ $rc -eq 4 ] && says "blacklisted in $R/etc/modprobe.d/local.conf" && ! grep -q insert "$FAKE_LOG"'
rm "$R/etc/modprobe.d/local.conf"
newroot nomodule
shim "$K" --root="$R" load >"$tmp/out" 2>&1; rc=$?
check "load with no kqemu.ko for this kernel fails (exit 3) with the build steps" '[ $rc -eq 3 ] && says "cannot find module '"'"'kqemu'"'"'" && says "modules_install"'

echo "# doctor, each check faked under --root"
# A healthy host as far as files can fake it; the node cannot be faked
# without root (mknod), so the node check is left to the VM suite.
healthy() {
	newroot "doctor-$1" with-group
	mkdir -p "$R/proc/1" "$R/sys/kernel/security"
	printf 'vendor_id\t: AuthenticAMD\nflags\t\t: fpu vme svm npt\n' >"$R/proc/cpuinfo"
	printf 'PATH=/bin\0HOME=/\0' >"$R/proc/1/environ"
	echo "[none] integrity confidentiality" >"$R/sys/kernel/security/lockdown"
	fake_module
	"$K" --root="$R" install >/dev/null 2>&1
	sed -i 's/^kvm-users:x:990:$/kvm-users:x:990:member/' "$R/etc/group"
	fake_loaded "" 990
}
healthy base
kq doctor --user=member
check "doctor passes the checks a healthy tree can fake" \
	'for c in cpu-virtualization module-built secure-boot module-loaded udev-rule group user-in-group acl other-hypervisor container; do doctor_says $c pass "" || exit 1; done'
check "doctor fails the node check when there is no node, with the fix" \
	'[ $rc -eq 1 ] && doctor_says node FAIL "/dev/kqemu does not exist" && fix_says node "systemctl start systemd-udevd"'
kq doctor --user=member --json
check "doctor --json gives one object per check" '[ $(grep -o "\"check\":" "$tmp/out" | wc -l) -eq 12 ] && says "{\"check\":\"node\",\"result\":\"fail\""'

echo "# doctor: recent-access, from the module's stats/recent"
# hint_says TEXT: a hint line under recent-access's (pass) line says TEXT.
hint_says() { sed -n '/^pass recent-access /,/^[a-zA-Z]/p' "$tmp/out" | grep "^ *hint: " | grep -qF -- "$1"; }
no_hint() { ! sed -n '/^pass recent-access /,/^[a-zA-Z]/p' "$tmp/out" | grep -q "hint: "; }
# events LINE...: stats/recent holds these lines; "AGO KIND UID" is shorthand.
events() {
	local now ago kind uid
	now=$(date +%s)
	mkdir -p "$R/sys/class/misc/kqemu/stats"
	: >"$R/sys/class/misc/kqemu/stats/recent"
	for e in "$@"; do
		read -r ago kind uid <<<"$e"
		echo "$((now - ago)) $kind uid=$uid pid=4$uid comm=kqemu-run gen=7" >>"$R/sys/class/misc/kqemu/stats/recent"
	done
}
healthy recent
kq doctor --user=member
check "doctor: a kqemu without stats/recent skips recent-access, and it fails nothing more" \
	'[ $rc -eq 1 ] && doctor_says recent-access skip "this kqemu keeps no list of recent access events" && says "1 check failed."'
events
kq doctor --user=member
check "doctor: an empty stats/recent passes recent-access with no hint" \
	'doctor_says recent-access pass "no denial or revocation in the last 24 hours (of kqemu'"'"'s last 0 events)" && no_hint'
events "60 denied 1002" "30 denied 1002"
kq doctor --user=member
check "doctor: a non-member refused in the last 24 hours is named, with the count, as a pass" \
	'doctor_says recent-access pass "in the last 24 hours kqemu refused listed (uid 1002) 2 times, last at " && says "1 check failed."'
check "doctor: the hint for a non-member is kqemuctl adduser, then log in again" \
	'hint_says "listed is not in kvm-users: kqemuctl adduser listed, then log in again"'
events "60 denied 1000"
kq doctor --user=member
check "doctor: a member of kvm-users who was refused must log in again" \
	'doctor_says recent-access pass "refused member (uid 1000) once" && hint_says "member is in kvm-users per /etc/group under --root but was refused" && hint_says "member must log in again (or run newgrp kvm-users)"'
events "90000 denied 1002" "86500 denied 1000" "90000 revoked 1000"
kq doctor --user=member
check "doctor: denials and revocations older than 24 hours give no hint" \
	'doctor_says recent-access pass "no denial or revocation in the last 24 hours (of kqemu'"'"'s last 3 events)" && no_hint'
events "90000 denied 1002" "120 policy 0" "60 revoked 1000"
kq doctor --user=member
check "doctor: a revocation in the last 24 hours is named, and what it means for the process" \
	'doctor_says recent-access pass "in the last 24 hours kqemu revoked the access of member (uid 1000) once" && ! doctor_says recent-access pass "listed" && hint_says "a policy change revoked open file descriptors: they fail with EACCES for good"'
events "60 denied 1002" "50 revoked 1000"
kq doctor --user=member
check "doctor: denials and revocations together, one hint each" \
	'doctor_says recent-access pass "refused listed (uid 1002) once, last at " && doctor_says recent-access pass "; it revoked the access of member (uid 1000) once" && hint_says "kqemuctl adduser listed" && hint_says "a policy change revoked"'
events "60 denied 4242"
kq doctor --user=member
check "doctor: a refused uid with no account gets kqemuctl allow user UID" \
	'doctor_says recent-access pass "refused uid 4242 once" && hint_says "uid 4242 has no account in /etc/passwd under --root; if it should use kqemu: kqemuctl allow user 4242"'
events "60 denied 0"
kq doctor --user=member
check "doctor: a refused root (strict=1) gets kqemuctl allow user root" 'hint_says "root is refused only with strict=1; to let it in: kqemuctl allow user root"'
echo 1002 >"$R/sys/module/kqemu/parameters/allow_users"
events "60 denied 1002"
kq doctor --user=member
check "doctor: a refused user in allow_users now needs nothing" 'hint_says "listed is in allow_users now, so was refused before that: nothing to do"'
echo >"$R/sys/module/kqemu/parameters/allow_users"
echo 5 >"$R/sys/module/kqemu/parameters/allow_groups"
events "60 denied 1000"
kq doctor --user=member
check "doctor: a refused member while the live ACL lacks the group gets kqemuctl allow group" \
	'hint_says "member is in kvm-users, but the live ACL does not allow the group: kqemuctl allow group kvm-users"'
echo 990 >"$R/sys/module/kqemu/parameters/allow_groups"
sed -i '/^kvm-users:/d' "$R/etc/group"
events "60 denied 1002"
kq doctor --user=member
check "doctor: with no group to add them to, a refused user gets kqemuctl allow user" \
	'hint_says "there is no group kvm-users to add listed to: kqemuctl allow user listed"'
echo 'kvm-users:x:990:member' >>"$R/etc/group"
events "60 denied 1002"
echo garbage >>"$R/sys/class/misc/kqemu/stats/recent"
kq doctor --user=member
check "doctor: a malformed line in stats/recent is skipped, the rest still counts" \
	'doctor_says recent-access pass "refused listed (uid 1002) once" && hint_says "kqemuctl adduser listed"'
events "90000 denied 1002"
echo garbage >>"$R/sys/class/misc/kqemu/stats/recent"
kq doctor --user=member
check "doctor: with nothing recent, skipped lines are mentioned" \
	'doctor_says recent-access pass "(of kqemu'"'"'s last 1 events; lines this kqemuctl does not know were skipped)"'
events "60 denied 1002"
kq doctor --user=member --json
check "doctor --json: recent-access is a pass whose fix holds the hint" \
	'valid_json && says "{\"check\":\"recent-access\",\"result\":\"pass\",\"detail\":\"in the last 24 hours kqemu refused listed (uid 1002) once, last at " && says "\"fix\":\"listed is not in kvm-users: kqemuctl adduser listed, then log in again\"}"'
FAKE_EACCES=$R/sys/class/misc/kqemu/stats/recent shim "$K" --root="$R" doctor --user=member >"$tmp/out" 2>&1; rc=$?
check "doctor: a root-only stats/recent skips recent-access with one sentence, and fails nothing more" \
	'doctor_says recent-access skip "cannot read $R/sys/class/misc/kqemu/stats/recent (Permission denied): run doctor as root to see who was refused recently" && says "1 check failed."'
rm "$R/sys/class/misc/kqemu/stats/recent"
mkdir "$R/sys/class/misc/kqemu/stats/recent"
kq doctor --user=member
check "doctor: a stats/recent that cannot be read otherwise is a skip that names the error" \
	'doctor_says recent-access skip "cannot read $R/sys/class/misc/kqemu/stats/recent (Is a directory)" && says "1 check failed."'
rmdir "$R/sys/class/misc/kqemu/stats/recent"
events "60 denied 1002"
rm -r "$R/sys/module/kqemu"
kq doctor --user=member
check "doctor: recent-access is skipped when kqemu is not loaded" 'doctor_says recent-access skip "kqemu is not loaded"'

healthy intel
printf 'vendor_id\t: GenuineIntel\nflags\t\t: fpu vme sse\n' >"$R/proc/cpuinfo"
kq doctor
check "doctor: no vmx on Intel names VT-x and the firmware fix" \
	'[ $rc -eq 1 ] && doctor_says cpu-virtualization FAIL "no VT-x (vmx)" && fix_says cpu-virtualization "Intel Virtualization Technology"'
# IA32_FEATURE_CONTROL, as /dev/cpu/0/msr gives it at offset 0x3a: locked, VMX off.
mkdir -p "$R/dev/cpu/0"
{ head -c 58 /dev/zero; printf '\001\000\000\000\000\000\000\000'; } >"$R/dev/cpu/0/msr"
kq doctor
check "doctor: VT-x locked off in IA32_FEATURE_CONTROL names the firmware setup and EPERM" \
	'[ $rc -eq 1 ] && doctor_says cpu-virtualization FAIL "locked VT-x off (IA32_FEATURE_CONTROL" && fix_says cpu-virtualization "enable \"Intel Virtualization Technology\" (VT-x) in the firmware setup"'
rm -r "$R/dev/cpu"
printf 'vendor_id\t: AuthenticAMD\nflags\t\t: fpu\n' >"$R/proc/cpuinfo"
kq doctor
check "doctor: no svm on AMD names SVM Mode" 'doctor_says cpu-virtualization FAIL "no VT-x or AMD-V" && fix_says cpu-virtualization "SVM Mode"'

healthy vermagic
fake_module 5.10.0-99-amd64
kq doctor
check "doctor: a kqemu.ko built for another kernel, with the rebuild command" \
	'doctor_says module-built FAIL "was built for 5.10.0-99-amd64, the running kernel is $rel" && fix_says module-built "make -C kmod KDIR=/lib/modules/$rel/build"'
rm -rf "$R/lib/modules"
mkdir -p "$R/var/lib/dkms/kqemu"
kq doctor
check "doctor: no kqemu.ko, DKMS present: dkms autoinstall" \
	'doctor_says module-built FAIL "no kqemu.ko for the running kernel" && fix_says module-built "dkms autoinstall -k $rel"'

healthy secureboot
mkdir -p "$R/sys/firmware/efi/efivars"
printf '\x06\x00\x00\x00\x01' >"$R/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098e06b8c"
kq doctor
check "doctor: Secure Boot on and kqemu.ko unsigned: the signing and MOK steps" \
	'doctor_says secure-boot FAIL "Secure Boot is on, and kqemu.ko is unsigned" && fix_says secure-boot "sign-file sha256" && fix_says secure-boot "mokutil --import MOK.der"'
fake_module "$rel" "signer=Local MOK\0sig_key=AB:CD\0sig_hashalgo=sha256\0"
kq doctor
check "doctor: Secure Boot on and kqemu.ko signed: passes, and says how to enroll a rejected key" \
	'doctor_says secure-boot pass "signed by \"Local MOK\"" && says "Key was rejected by service"'
printf '\x06\x00\x00\x00\x00' >"$R/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098e06b8c"
echo "none [integrity] confidentiality" >"$R/sys/kernel/security/lockdown"
fake_module
kq doctor
check "doctor: lockdown with an unsigned kqemu.ko fails the same way" 'doctor_says secure-boot FAIL "the kernel is locked down, and kqemu.ko is unsigned"'

healthy blacklist
rm -rf "$R/sys/module/kqemu"
echo "blacklist kqemu" >"$R/etc/modprobe.d/zz-local.conf"
kq doctor
check "doctor: module not loaded because blacklisted: names the file and the line" \
	'doctor_says module-loaded FAIL "$R/etc/modprobe.d/zz-local.conf blacklists it" && fix_says module-loaded "remove the \"blacklist kqemu\" line from $R/etc/modprobe.d/zz-local.conf"'
check "doctor: skips the ACL check when the module is not loaded" 'doctor_says acl skip "kqemu is not loaded"'

healthy rule
rm "$R/etc/udev/rules.d/60-kqemu.rules"
kq doctor
check "doctor: no udev rule, fix kqemuctl install" 'doctor_says udev-rule FAIL "no udev rule for kqemu" && fix_says udev-rule "kqemuctl install"'
mkdir -p "$R/lib/udev/rules.d"
cp "$golden/install/60-kqemu.rules" "$R/etc/udev/rules.d/"
echo 'KERNEL=="kqemu", MODE="0666"' >"$R/lib/udev/rules.d/90-old-kqemu.rules"
kq doctor
check "doctor: two rules fighting over the node, naming the other file" \
	'doctor_says udev-rule FAIL "other rules set /dev/kqemu" && fix_says udev-rule " $R/lib/udev/rules.d/90-old-kqemu.rules"'

healthy group
sed -i '/^kvm-users:/d' "$R/etc/group"
kq doctor
check "doctor: the group is missing: kqemuctl install" 'doctor_says group FAIL "group kvm-users does not exist" && fix_says group "kqemuctl install"'
healthy user
kq doctor --user=listed
check "doctor: the user is not in the group: kqemuctl adduser" 'doctor_says user-in-group FAIL "listed is not in group kvm-users" && fix_says user-in-group "kqemuctl adduser listed"'
kq doctor --user=ghost
check "doctor: an unknown --user is named" 'doctor_says user-in-group FAIL "no user ghost"'

healthy acl
echo 5 >"$R/sys/module/kqemu/parameters/allow_groups"
kq doctor --user=member
check "doctor: the live ACL does not allow the group: kqemuctl allow group" \
	'doctor_says acl FAIL "allow_groups=5) does not allow kvm-users (gid 990)" && fix_says acl "kqemuctl allow group kvm-users"'
echo 990,5 >"$R/sys/module/kqemu/parameters/allow_groups"
kq doctor --user=member
check "doctor: the live ACL differs from modprobe.d" 'doctor_says acl FAIL "differs from $R/etc/modprobe.d/kqemu.conf"'

healthy hypervisor
mkdir -p "$R/sys/module/kvm_amd" "$R/sys/module/kvm/parameters"
echo Y >"$R/sys/module/kvm/parameters/enable_virt_at_load"
kq doctor
check "doctor: kvm_amd with enable_virt_at_load=Y holds AMD-V" \
	'doctor_says other-hypervisor FAIL "kvm_amd is loaded with enable_virt_at_load=Y: it holds AMD-V" && fix_says other-hypervisor "options kvm enable_virt_at_load=0"'
mkdir -p "$R/sys/module/kqemu/parameters"
echo Y >"$R/sys/module/kqemu/parameters/share_svm"
kq doctor
check "doctor: kvm_amd with enable_virt_at_load=Y passes where kqemu shares SVM (share_svm=1)" \
	'doctor_says other-hypervisor pass "kqemu shares it (share_svm=1)"'
echo N >"$R/sys/module/kqemu/parameters/share_svm"
kq doctor
check "doctor: ... and fails with share_svm=0" \
	'doctor_says other-hypervisor FAIL "kvm_amd is loaded with enable_virt_at_load=Y: it holds AMD-V"'
rm -f "$R/sys/module/kqemu/parameters/share_svm"
echo N >"$R/sys/module/kvm/parameters/enable_virt_at_load"
kq doctor
check "doctor: kvm_amd without enable_virt_at_load passes" 'doctor_says other-hypervisor pass "kvm_amd is loaded but takes the CPU only while its guests run"'
mkdir -p "$R/sys/module/vboxdrv"
kq doctor
check "doctor: vboxdrv loaded" 'doctor_says other-hypervisor FAIL "vboxdrv is loaded" && fix_says other-hypervisor "systemctl stop vboxdrv"'

for marker in /.dockerenv /run/.containerenv; do
	healthy container
	mkdir -p "$R/run"
	: >"$R$marker"
	kq doctor
	check "doctor: $marker means a container" 'doctor_says container FAIL "running inside a container ($marker exists)" && fix_says container "run kqemuctl on the host"'
done
healthy container-env
printf 'PATH=/bin\0container=lxc\0' >"$R/proc/1/environ"
kq doctor
check "doctor: container= in PID 1's environment" 'doctor_says container FAIL "running inside a container (lxc, per PID 1'"'"'s environment)"'

echo "# make install PREFIX=/usr/local and make uninstall, under DESTDIR"
D=$tmp/destdir
mkdir -p "$D/usr/local/bin"
echo mine >"$D/usr/local/bin/other-tool"
make -s -C "$top" install-utils install-dkms DESTDIR="$D" PREFIX=/usr/local >"$tmp/out" 2>&1
rc=$?
check "make install PREFIX=/usr/local puts the tools under /usr/local and the DKMS source in /usr/src (where DKMS reads it)" \
	'[ $rc -eq 0 ] && [ -x "$D/usr/local/bin/kqemuctl" ] && [ -f "$D/usr/local/lib/udev/rules.d/60-kqemu.rules" ] && [ -f "$D/usr/src/kqemu-$version/dkms.conf" ] && [ ! -e "$D/usr/local/src" ]'
check "its configure.sh finds the sysusers.d file it installed" \
	'[ "$(sed -n "s/^sysusers=//p" "$D/usr/local/lib/kqemu/configure.sh")" = "\${here%/kqemu}/sysusers.d/kqemu.conf" ] && [ -f "$D/usr/local/lib/sysusers.d/kqemu.conf" ]'
make -s -C "$top" uninstall DESTDIR="$D" PREFIX=/usr/local >"$tmp/out" 2>&1
rc=$?
check "make uninstall removes every file and every directory install made, and nothing else" \
	'[ $rc -eq 0 ] && [ "$(cd "$D" && find . | sort | tr "\n" " ")" = ". ./usr ./usr/local ./usr/local/bin ./usr/local/bin/other-tool " ]'

echo "# the man page and the bash completion know every verb"
: >"$tmp/out"
verbs=$("$K" --help | sed -n 's/^  \([a-z]*\) .*/\1/p' | tr '\n' ' ')
for verb in $verbs; do
	check "kqemuctl.1 documents '$verb'" 'grep -qE "^\.(B|BR|BI) .*\<$verb\>" "$top/helper/kqemuctl.1"'
done
# complete WORDS...: what the completion offers for the last (partial) word.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kqemuctl; echo "${COMPREPLY[*]}"' \
		sh "$top/helper/kqemuctl.bash-completion" "$@"
}
check "completion offers every verb" '[ "$(complete_words kqemuctl "")" = "$(echo $verbs)" ]'
check "completion offers user|group after allow" '[ "$(complete_words kqemuctl allow "")" = "user group" ]'
check "completion completes options" '[ "$(complete_words kqemuctl --pu)" = "--purge" ]'
# In real bash, on a pty: readline splits "--group=ro" at '=' (COMP_WORDBREAKS).
typed() { python3 "$here/complete-pty.py" "$top/helper/kqemuctl.bash-completion" "$1"; }
if command -v python3 >/dev/null && [ "$(typed "kqemuctl --pur")" = "kqemuctl --purge" ]; then
	for pair in "--user=roo:--user=root" "--user roo:--user root" "--group=roo:--group=root" \
		    "--group roo:--group root" "--mode=064:--mode=0640" "--mode 064:--mode 0640" \
		    "--root=/us:--root=/usr" "--root /us:--root /usr" "--group=root doc:--group=root doctor" \
		    "--group root allow us:--group root allow user" "--gro:--group=" "allow gr:allow group"; do
		line="kqemuctl ${pair%%:*}" want="kqemuctl ${pair#*:}"
		got=$(typed "$line")
		check "in real bash, '$line<TAB>' becomes '$want'" '[ "${got%/}" = "$want" ]'
	done
else
	check "in real bash on a pty, the completion completes at all" false
fi

echo "# helper unit tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
