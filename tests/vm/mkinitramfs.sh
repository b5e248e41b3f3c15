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

# $mods: the module tree of $KQEMU_KDIR's kernel (the folder kernel.sh
# made), where it is set.
mods=
if [ -n "${KQEMU_KDIR:-}" ]; then
	for mods in "$KQEMU_KDIR"/root/lib/modules/"$(cat "$KQEMU_KDIR/release")" \
		"$KQEMU_KDIR"/root/usr/lib/modules/"$(cat "$KQEMU_KDIR/release")"; do
		[ -d "$mods" ] && break
	done
fi
# pack_module MODS NAME DIR LIST [unpack]: the module NAME of the module
# tree MODS and what it needs, into the initramfs's DIR, their file names
# in load order appended to DIR/LIST (nothing for one built in); with
# unpack, decompressed, for busybox's insmod (an initramfs without kmod).
pack_module() {
	local mods=$1 name=$2 dir=$root$3 list=$4 unpack=${5:-} file dep
	mkdir -p "$dir"
	grep -qx "$name" "$dir/names-$list" 2>/dev/null && return 0
	file=$(find "$mods/kernel" -name "$name.ko*" | head -n 1)
	[ -n "$file" ] || return 0	# built in
	for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
		pack_module "$mods" "$dep" "$3" "$list" "$unpack"
	done
	echo "$name" >>"$dir/names-$list"
	case "$unpack:$file" in
	unpack:*.xz) xz -dc "$file" >"$dir/$name.ko" ;;
	unpack:*.zst) zstd -qdc "$file" >"$dir/$name.ko" ;;
	unpack:*.gz) gzip -dc "$file" >"$dir/$name.ko" ;;
	unpack:*) cp "$file" "$dir/$name.ko" ;;
	*) cp "$file" "$dir/" ;;
	esac
	if [ -n "$unpack" ]; then echo "$name.ko"; else echo "${file##*/}"; fi >>"$dir/$list"
}

# Suites that need more than busybox (udev, kmod, the helper) add it here.
for pack in "$here"/guest/pack-*.sh; do
	[ -e "$pack" ] || continue
	. "$pack"
done

(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
