#!/bin/bash
# Gather a QEMU build from a chroot into DEST: bin/, share/, lib/ as
# qemu/build.sh describes them.
# Usage: qemu/collect.sh CHROOT BUILDDIR-IN-CHROOT DEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/vm/lib.sh"
root=$1 build=$2 dest=$3

mkdir -p "$dest/bin" "$dest/share" "$dest/lib"
# Stripped: the test VM's initramfs carries it (80 MB with its debug info).
in_chroot "$root" strip -o /tmp/qemu-system-x86_64.stripped "$build/qemu-system-x86_64"
mv "$root/tmp/qemu-system-x86_64.stripped" "$dest/bin/qemu-system-x86_64"
for f in qemu/linuxboot_dma.bin qemu/linuxboot.bin qemu/multiboot_dma.bin \
	qemu/kvmvapic.bin qemu/pvh.bin qemu/efi-virtio.rom \
	seabios/bios-256k.bin seabios/vgabios-stdvga.bin; do
	cp -L "$root/usr/share/$f" "$dest/share/"
done
# The loader and libraries, as the chroot's loader resolves them.
for lib in $(in_chroot "$root" ldd "$build/qemu-system-x86_64" | grep -o '/[^ ]*'); do
	cp -L "$root$lib" "$dest/lib/"
done
