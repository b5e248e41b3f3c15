# shellcheck shell=bash
# Sourced by the tests/vm scripts: what they share about a release's chroot.

# in_chroot CHROOT CMD...: run CMD in CHROOT with a clean environment, so
# that nothing from the host (MAKEFLAGS, locale, PATH) changes the build or
# the messages the scripts grep for.
in_chroot() {
	local root=$1
	shift
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LC_ALL=C "$@"
}

# chroot_abi CHROOT: the ABI (uname -r) of the amd64 kernel headers installed
# in CHROOT, e.g. 6.1.0-50-amd64.  The glob leaves out the linux-headers-amd64
# metapackage; sort -V picks the newest if several are installed.
chroot_abi() {
	local abi
	abi=$(in_chroot "$1" dpkg-query -W -f='${Package} ${db:Status-Status}\n' \
		'linux-headers-*-amd64' |
		awk '$2 == "installed" { sub(/^linux-headers-/, "", $1); print $1 }' |
		sort -V | tail -n 1)
	if [ -z "$abi" ]; then
		echo "no linux-headers-*-amd64 installed in $1" >&2
		return 1
	fi
	echo "$abi"
}
