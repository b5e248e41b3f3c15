#!/bin/bash
# `make deb`'s package for Debian 13: qemu-system-x86-kqemu, the QEMU that
# make qemu built (QEMUDIR, build/qemu), as /usr/bin/qemu-system-x86_64-kqemu
# beside Debian's qemu-system-x86, with Debian's firmware packages as its
# dependencies.  Built with dpkg-buildpackage and debhelper in the trixie
# chroot (qemu/package/debian), into OUTDIR.
# With --check (make check), ok/not ok lines besides: lintian -EvIL
# +pedantic finds no error or warning, every file it installs is kqemu's
# own name, and it installs in the chroot, where that binary runs with
# Debian's own libraries and firmware, and removes cleanly.
# Usage: qemu/package.sh [--check] QEMUDIR OUTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$top/tests/vm/lib.sh"
check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
qemu_dir=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
cache=${KQEMU_CACHE:-/var/cache/kqemu}
pkg=qemu-system-x86-kqemu
log=$cache/qemu-package.log
: >"$log"
quiet() {
	if ! "$@" >>"$log" 2>&1; then
		echo "qemu/package.sh: failed: $*; the end of $log:" >&2
		tail -n 30 "$log" >&2
		[ $check = 1 ] && echo "not ok - the package $pkg builds in the trixie chroot"
		exit 1
	fi
}

# QEMU's Debian version and kqemu's, in one native version: the package
# is ours, not a revision of Debian's.
qemu_version=$(cat "$qemu_dir/version")
kqemu_version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
version=$(echo "${qemu_version#*:}" | tr '-' '+')+kqemu$kqemu_version

root=$("$top/tests/vm/chroot.sh" trixie)
quiet in_chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends build-essential debhelper lintian
work=$root/var/tmp/kqemu-qemu-deb
rm -rf "$work"
mkdir -p "$work/src/prebuilt"
cp -a "$here/package/debian" "$work/src/"
cp "$qemu_dir/bin/qemu-system-x86_64" "$work/src/prebuilt/"
cat >"$work/src/debian/changelog" <<EOF
qemu-kqemu ($version) trixie; urgency=medium

  * QEMU $qemu_version, from Debian 13's qemu source package, with
    kqemu $kqemu_version's patch series (qemu/patches in kqemu's source).

 -- kqemu developers <dev@kqemu.invalid>  $(dpkg-parsechangelog -l "$top/debian/changelog" -S Date)
EOF
quiet in_chroot "$root" sh -c 'cd /var/tmp/kqemu-qemu-deb/src && dpkg-buildpackage -b -us -uc --no-sign'
deb=$(cd "$work" && ls "${pkg}_"*_amd64.deb)
rm -f "$out/${pkg}_"*.deb
cp "$work/$deb" "$out/"
echo "qemu/package.sh: $out/$deb" >&2
if [ $check = 0 ]; then
	rm -rf "$work"
	exit 0
fi
echo "ok - the package $pkg builds in the trixie chroot ($deb)"

status=0
verdict() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; status=1; fi; }

lintian_rc=0
in_chroot "$root" lintian -EvIL +pedantic --profile debian --tag-display-limit 0 \
	"/var/tmp/kqemu-qemu-deb/$deb" >"$work/lintian.log" 2>&1 || lintian_rc=$?
grep -E '^[EWIPX]: ' "$work/lintian.log" | sed 's/^/#   /'
verdict "lintian -EvIL +pedantic (Debian 13's): no error and no warning on $deb" \
	'[ $lintian_rc = 0 ] && ! grep -qE "^[EW]: " "$work/lintian.log"'

# Beside Debian's qemu-system-x86: nothing it installs may be a file of
# Debian's, so every name is kqemu's own.
dpkg-deb --fsys-tarfile "$out/$deb" | tar -t | grep -v '/$' >"$work/files"
sed 's/^/#   /' "$work/files"
verdict "every file it installs has a name of its own (kqemu in each), none of Debian's qemu packages'" \
	'[ -s "$work/files" ] && ! grep -v kqemu "$work/files" | grep -q .'

# Installed in the chroot (which has what it depends on, as make qemu
# installed Debian's firmware and QEMU's libraries there), it runs from
# its own name with Debian's paths, then goes without a trace.
if quiet in_chroot "$root" dpkg -i "/var/tmp/kqemu-qemu-deb/$deb"; then
	verdict "it installs on Debian 13, and qemu-system-x86_64-kqemu lists kqemu among its accelerators" \
		'in_chroot "$root" qemu-system-x86_64-kqemu -accel help | grep -qx kqemu'
	verdict "... and finds SeaBIOS and the option ROMs in Debian's firmware packages" \
		'in_chroot "$root" sh -c "echo quit | qemu-system-x86_64-kqemu -accel tcg -nodefaults -display none -S -monitor stdio" >"$work/run.log" 2>&1'
	sed 's/^/#   /' "$work/run.log" | head -n 5
	quiet in_chroot "$root" dpkg --purge "$pkg"
	verdict "dpkg --purge leaves none of its files" \
		'! in_chroot "$root" sh -c "ls /usr/bin/qemu-system-x86_64-kqemu /usr/share/doc/$pkg" >/dev/null 2>&1'
else
	echo "not ok - it installs on Debian 13 (dpkg -i in the trixie chroot)"
	status=1
fi
rm -rf "$work"
exit $status
