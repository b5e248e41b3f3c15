#!/bin/bash
# Pack the test VM's initramfs: busybox, our /init and suites, the test
# users, the modules and the static test programs, plus what each
# guest/pack-*.sh adds (sourced with $root, $moddir, $bindir set).
# Usage: mkinitramfs.sh OUT.cpio.gz MODDIR GUESTBINDIR
set -euo pipefail
out=$1 moddir=$2 bindir=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,lib,tmp,root}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
cp "$here/guest/init" "$root/init"
cp "$here"/guest/suite-*.sh "$here/guest/lib-suite.sh" "$root/lib/"
cp "$moddir"/*.ko "$root/lib/"
cp "$bindir"/* "$root/bin/"
cat > "$root/etc/passwd" <<'EOP'
root:x:0:0:root:/root:/bin/sh
member:x:1000:1000:kvm-users member:/tmp:/bin/sh
outsider:x:1001:1001:in no group of ours:/tmp:/bin/sh
listed:x:1002:1002:allowed by uid:/tmp:/bin/sh
EOP
cat > "$root/etc/group" <<'EOG'
root:x:0:
kvm-users:x:990:member
member:x:1000:
outsider:x:1001:
listed:x:1002:
EOG
# add_binary PATH: copy a dynamically linked host program and the shared
# libraries it needs to the same paths in the initramfs.
add_binary() {
	local bin=$1 lib
	mkdir -p "$root$(dirname "$bin")"
	cp -L "$bin" "$root$bin"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# Suites that need more than busybox (udev, kmod, the helper) add it here.
for pack in "$here"/guest/pack-*.sh; do
	[ -e "$pack" ] || continue
	. "$pack"
done

(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
