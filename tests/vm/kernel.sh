#!/bin/bash
# Fetch (once) and cache the Debian kernel that RELEASE's chroot builds
# kqemu.ko against, so that the VM tests boot the very kernel the module was
# built for.
# Usage: kernel.sh RELEASE        prints the kernel's directory, holding
#   vmlinuz   the kernel image
#   release   its ABI string (uname -r)
#   root/     its packages unpacked (dpkg -x): root/[usr/]lib/modules/ABI/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
release=$1
cache=${KQEMU_CACHE:-/var/cache/kqemu}

root=$("$here/chroot.sh" "$release")
abi=$(chroot_abi "$root")
dir=$cache/kernel-$abi
if [ -f "$dir/.ready" ]; then
	echo "$dir"
	exit 0
fi

echo "kernel.sh: fetching kernel $abi for $release into $dir (first run only)" >&2
# Build in $dir.tmp and rename at the end: an interrupted run leaves no
# half-filled cache behind.  Download inside the chroot so that apt uses that
# release's sources and keys.
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp/root"
dl=$(mktemp -d "$root/tmp/kqemu-kernel.XXXXXX")
trap 'rm -rf "$dl" "$dir.tmp"' EXIT
# apt downloads as user _apt; without this it warns and falls back to root.
in_chroot "$root" chown _apt "${dl#"$root"}"

has() {
	in_chroot "$root" apt-cache show --no-all-versions "$1" >/dev/null 2>&1
}

fetch() {
	echo "kernel.sh: downloading $1" >&2
	in_chroot "$root" sh -c 'cd "$1" && apt-get -q download "$2"' sh \
		"${dl#"$root"}" "$1" >&2
	dpkg-deb -x "$dl/$1"_*.deb "$dir.tmp/root"
}

find_vmlinuz() {
	local f
	for f in boot/vmlinuz-$abi usr/lib/modules/$abi/vmlinuz lib/modules/$abi/vmlinuz; do
		if [ -f "$dir.tmp/root/$f" ]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# linux-image-ABI is the signed image on bookworm and trixie.  Newer
# releases split it: linux-image-ABI is then an empty package depending on
# linux-binary-ABI (vmlinuz), linux-modules-ABI (the modules) and
# linux-base-ABI (modules.builtin and modules.order, which depmod and
# modprobe want, as the unsplit package ships them).
fetch "linux-image-$abi"
if ! find_vmlinuz >/dev/null; then
	for pkg in "linux-binary-$abi" "linux-modules-$abi" "linux-base-$abi"; do
		if has "$pkg"; then
			fetch "$pkg"
		fi
	done
fi
if ! vmlinuz=$(find_vmlinuz); then
	echo "kernel.sh: no vmlinuz for $abi in its packages" >&2
	exit 1
fi
if [ -z "$(find "$dir.tmp/root" -path "*/modules/$abi/*" -name 'kvm.ko*' -print -quit)" ]; then
	echo "kernel.sh: no kvm module for $abi in its packages" >&2
	exit 1
fi

ln -s "root/$vmlinuz" "$dir.tmp/vmlinuz"
echo "$abi" > "$dir.tmp/release"
touch "$dir.tmp/.ready"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
