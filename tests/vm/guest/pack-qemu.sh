# QEMU with kqemu (make qemu: build/qemu, beside the guest programs) and
# the Linux guest it boots: this very kernel, with the small initramfs of
# tests/vm/qemu-guest.  Only for make check-qemu (KQEMU_PACK_QEMU=1), as
# it adds 40 MB, and only when make qemu has run: suite-qemu says so where
# it is missing.
qemu_dir=${KQEMU_QEMU_DIR:-$bindir/../qemu}
if [ "${KQEMU_PACK_QEMU:-0}" = 1 ] && [ -x "$qemu_dir/bin/qemu-system-x86_64" ] &&
	[ -n "${KQEMU_KDIR:-}" ]; then
	mkdir -p "$root/opt/qemu" "$root/opt/guest"
	cp -a "$qemu_dir/bin" "$qemu_dir/lib" "$qemu_dir/share" "$root/opt/qemu/"
	cp -L "$KQEMU_KDIR/vmlinuz" "$root/opt/guest/vmlinuz"
	guest_root=$(mktemp -d)
	mkdir -p "$guest_root"/{bin,dev,proc,sys,tmp}
	cp /bin/busybox "$guest_root/bin/busybox"
	cp "$here/qemu-guest/init" "$guest_root/init"
	chmod 0755 "$guest_root/init"
	(cd "$guest_root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$root/opt/guest/initrd.gz"
	rm -rf "$guest_root"
fi
