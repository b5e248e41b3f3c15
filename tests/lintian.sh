#!/bin/bash
# The Debian packages as they would be uploaded: build source and binaries
# with dpkg-buildpackage (in a copy of the tree), then lintian -EvIL
# +pedantic on the .changes.  Any error or warning fails; every override
# is in debian/*.lintian-overrides with its reason.  Prints ok/not ok.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v lintian >/dev/null; then
	echo "not ok - lintian is not installed (apt-get install lintian; it is in tests/deps.txt)"
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/kqemu"
"$top/tests/system/tree.sh" | tar -x -C "$work/kqemu"
if ! (cd "$work/kqemu" && dpkg-buildpackage -us -uc) >"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log" | sed 's/^/#   /'
	echo "not ok - dpkg-buildpackage builds the source and binary packages"
	exit 1
fi
echo "ok - dpkg-buildpackage builds the source and binary packages (and its dh_auto_test passed)"
changes=$(ls "$work"/kqemu_*.changes)
# What the package must hold for its scripts to work, not only pass lintian.
mkdir "$work/utils"
dpkg-deb -R "$work"/kqemu-utils_*.deb "$work/utils"
check() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; status=1; fi; }
status=0
check "kqemu-utils declares kvm-users in /usr/lib/sysusers.d/kqemu.conf (dh_installsysusers)" \
	'cmp -s "$top/udev/kqemu.sysusers" "$work/utils/usr/lib/sysusers.d/kqemu.conf"'
check "its postinst runs systemd-sysusers for it, before configure.sh" \
	'grep -q "systemd-sysusers.*kqemu.conf" "$work/utils/DEBIAN/postinst" && [ "$(grep -n "systemd-sysusers" "$work/utils/DEBIAN/postinst" | head -n 1 | cut -d: -f1)" -lt "$(grep -n configure.sh "$work/utils/DEBIAN/postinst" | cut -d: -f1)" ]'
check "its postrm carries the manifest functions (packaging/manifest.sh) and purges with them" \
	'grep -q "^kqemu_purge() {" "$work/utils/DEBIAN/postrm" && sh -n "$work/utils/DEBIAN/postrm"'
check "kqemu-run is dynamically linked (hardened by dpkg-buildflags)" \
	'file "$work/utils/usr/bin/kqemu-run" | grep -q "dynamically linked"'
check "both man pages and the README are in the package" \
	'[ -f "$work/utils/usr/share/man/man1/kqemuctl.1.gz" ] && [ -f "$work/utils/usr/share/man/man1/kqemu-run.1.gz" ] && [ -f "$work/utils/usr/share/doc/kqemu-utils/README.md.gz" ]'

lintian -EvIL +pedantic --profile debian --tag-display-limit 0 "$changes" >"$work/lintian.log" 2>&1
grep -E '^[EWIPX]: ' "$work/lintian.log" | sed 's/^/#   /'
if grep -qE '^[EW]: ' "$work/lintian.log"; then
	echo "not ok - lintian -EvIL +pedantic: no error and no warning on $(basename "$changes")"
	exit 1
fi
echo "ok - lintian -EvIL +pedantic: no error and no warning on $(basename "$changes")"
exit $status
