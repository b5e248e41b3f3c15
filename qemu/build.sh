#!/bin/bash
# `make qemu`: QEMU with the kqemu accelerator, from Debian 13's own qemu
# source package (Debian's patches, then ours in qemu/patches/series), built
# in the trixie chroot (tests/vm/chroot.sh) for x86_64-softmmu only.
#
# The result is cached in $KQEMU_CACHE/qemu-VERSION-HASH, HASH covering
# everything under qemu/ but the packaging, and copied to OUT (default build/qemu):
#   bin/qemu-system-x86_64   the binary (kqemu, KVM and TCG accelerators)
#   share/                   what -L needs, from Debian's firmware packages:
#                            the option ROMs (qemu-system-data), SeaBIOS and
#                            its VGA BIOS (seabios), iPXE's virtio ROM
#   lib/                     the binary's shared libraries from the chroot,
#                            with its loader, for a system without them
#                            (the test VM: lib/ld-linux-x86-64.so.2
#                            --library-path lib bin/qemu-system-x86_64)
#   version                  the Debian source version it was built from
# A warm run finds the cache and builds nothing.
# Usage: qemu/build.sh [OUT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$top/tests/vm/lib.sh"
out=${1:-$top/build/qemu}
cache=${KQEMU_CACHE:-/var/cache/kqemu}
release=trixie
mirror=${KQEMU_MIRROR:-http://deb.debian.org/debian}

# The long outputs (apt, configure, ninja) go to a log, shown where a step
# fails.
log=$cache/qemu-build.log
mkdir -p "$cache"
: >"$log"
quiet() {
	if ! "$@" >>"$log" 2>&1; then
		echo "qemu/build.sh: failed: $*; the end of $log:" >&2
		tail -n 40 "$log" >&2
		exit 1
	fi
}

# The source package's version: the chroot's apt, with a deb-src line of
# our own beside the release's deb line.
root=$("$top/tests/vm/chroot.sh" "$release")
srclist=$root/etc/apt/sources.list.d/kqemu-src.list
if [ ! -f "$srclist" ]; then
	echo "deb-src $mirror $release main" >"$srclist.tmp"
	mv "$srclist.tmp" "$srclist"
	quiet in_chroot "$root" apt-get -q update
fi
version=$(in_chroot "$root" apt-cache showsrc qemu | awk '/^Version:/ { print $2 }' | sort -V | tail -n 1)
if [ -z "$version" ]; then
	echo "qemu/build.sh: no qemu source package in $release's apt sources" >&2
	exit 1
fi
# Every file here but the packaging (package.sh, package/), which the
# build does not read.
hash=$(cd "$here" && find . -type f ! -name '*~' ! -name package.sh ! -path './package/*' -print0 | LC_ALL=C sort -z |
	xargs -0 sha256sum | sha256sum | cut -c1-12)
result=$cache/qemu-${version#*:}-$hash

install_out() {
	rm -rf "$out.tmp"
	mkdir -p "$(dirname "$out")"
	cp -a "$result" "$out.tmp"
	rm -f "$out.tmp/.ready"
	rm -rf "$out"
	mv "$out.tmp" "$out"
	echo "qemu/build.sh: $out holds QEMU $version with kqemu ($(basename "$result"))" >&2
}

if [ -f "$result/.ready" ]; then
	install_out
	exit 0
fi

exec 9>"$cache/.qemu.lock"
flock 9
if [ -f "$result/.ready" ]; then
	install_out
	exit 0
fi

# What the build needs, in the chroot (once; apt skips what is there).
# seabios and ipxe-qemu are Debian's firmware, taken into share/.
echo "qemu/build.sh: building QEMU $version with kqemu in the $release chroot (cached as $result)" >&2
quiet in_chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends dpkg-dev xz-utils patch python3 python3-venv meson \
	ninja-build pkgconf flex bison libglib2.0-dev libpixman-1-dev zlib1g-dev \
	libslirp-dev binutils qemu-system-data seabios ipxe-qemu

# The source package, downloaded once into the cache.
dl=$cache/downloads/qemu-${version#*:}
if [ ! -f "$dl/.ready" ]; then
	rm -rf "$dl.tmp"
	mkdir -p "$dl.tmp"
	tmp=$(mktemp -d "$root/tmp/kqemu-qemu-src.XXXXXX")
	in_chroot "$root" chown _apt "${tmp#"$root"}"
	quiet in_chroot "$root" sh -c 'cd "$1" && apt-get -q source --download-only "qemu=$2"' sh \
		"${tmp#"$root"}" "$version"
	mv "$tmp"/* "$dl.tmp/"
	rm -rf "$tmp"
	touch "$dl.tmp/.ready"
	rm -rf "$dl"
	mv "$dl.tmp" "$dl"
fi

# Unpack (dpkg-source applies Debian's patches), then ours, in order.
work=$root/var/tmp/kqemu-qemu
rm -rf "$work"
mkdir -p "$work"
cp "$dl"/qemu_* "$work/"
quiet in_chroot "$root" sh -c 'cd /var/tmp/kqemu-qemu && dpkg-source --no-check -x qemu_*.dsc src'
while read -r patch; do
	case "$patch" in '' | '#'*) continue ;; esac
	if ! patch -d "$work/src" -p1 --quiet --forward <"$here/patches/$patch"; then
		echo "qemu/build.sh: $patch does not apply to qemu $version" >&2
		exit 1
	fi
done <"$here/patches/series"
# The series carries a copy of kqemu's uapi header (QEMU keeps the kernel
# headers it builds against in linux-headers/): it must be ours.
if ! cmp -s "$work/src/linux-headers/linux/kqemu.h" "$top/include/uapi/linux/kqemu.h"; then
	echo "qemu/build.sh: the series' linux-headers/linux/kqemu.h differs from include/uapi/linux/kqemu.h: update the patch" >&2
	exit 1
fi

# x86_64-softmmu alone, with Debian's paths, so that the packaged binary
# finds Debian's firmware; KVM beside kqemu, for the comparisons.
quiet in_chroot "$root" sh -c 'cd /var/tmp/kqemu-qemu/src && mkdir build && cd build &&
	../configure --target-list=x86_64-softmmu --prefix=/usr \
		--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu \
		--with-pkgversion="Debian $1, kqemu" \
		--disable-download --disable-docs --disable-user --disable-tools \
		--disable-guest-agent --disable-install-blobs --disable-xkbcommon \
		--disable-werror --enable-kqemu --enable-kvm --enable-tcg --enable-slirp' \
	sh "$version"
quiet in_chroot "$root" ninja -C /var/tmp/kqemu-qemu/src/build qemu-system-x86_64

rm -rf "$result.tmp"
"$here/collect.sh" "$root" /var/tmp/kqemu-qemu/src/build "$result.tmp"
echo "$version" >"$result.tmp/version"
touch "$result.tmp/.ready"
rm -rf "$result"
mv "$result.tmp" "$result"
rm -rf "$work"
install_out
