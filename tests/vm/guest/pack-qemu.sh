# QEMU with kqemu (make qemu: build/qemu, beside the guest programs) and
# the Linux guest it boots: this very kernel, with the small initramfs of
# tests/vm/qemu-guest and its bench program (qemu-bench).  Only for make
# check-qemu and make bench (KQEMU_PACK_QEMU=1), as it adds 40 MB, and only when make qemu has run: suite-qemu says so where
# it is missing.  With them the disk of a small Debian 13 system
# (qemu-guest/mkdisk.sh, cached) and, in the guest's initramfs, the modules
# that mount it (kq_mode=disk: virtio-pci, virtio-blk, ext4 and the crc32c
# it asks the crypto API for) and that bring its network up (virtio-net).
qemu_dir=${KQEMU_QEMU_DIR:-$bindir/../qemu}
if [ "${KQEMU_PACK_QEMU:-0}" = 1 ] && [ -x "$qemu_dir/bin/qemu-system-x86_64" ] &&
	[ -n "${KQEMU_KDIR:-}" ]; then
	mkdir -p "$root/opt/qemu" "$root/opt/guest"
	cp -a "$qemu_dir/bin" "$qemu_dir/lib" "$qemu_dir/share" "$root/opt/qemu/"
	cp -L "$KQEMU_KDIR/vmlinuz" "$root/opt/guest/vmlinuz"
	guest_root=$(mktemp -d)
	mkdir -p "$guest_root/modules"
	: >"$guest_root/modules/order"
	for m in virtio_pci virtio_blk crc32c_generic ext4 virtio_net; do
		root=$guest_root pack_module "$mods" "$m" /modules order unpack
	done
	cp "$("$here/qemu-guest/mkdisk.sh")" "$root/opt/guest/disk.img"
	"$here/qemu-guest/mkinitrd.sh" "$guest_root" "$root/opt/guest/initrd.gz" "$bindir/qemu-bench"
	rm -rf "$guest_root"
fi
