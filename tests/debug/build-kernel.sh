#!/bin/bash
# Build (once per config) the debug kernel for `make check-debug`: Debian's
# linux-source-6.1 with tests/debug/debug.config on top of x86_64_defconfig
# and kvm_guest.config.  Cached in $KQEMU_CACHE/debug-<hash>, where <hash>
# covers the source tarball and the fragment: a warm run rebuilds nothing.
# Prints the cache folder: vmlinuz, the built tree (for M= builds) and
# modroot/ (kvm, kvm-amd).  With --cached it only says whether that folder
# is ready (exit 0, its path) or not (exit 1), and builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KQEMU_CACHE:-/var/cache/kqemu}
tarball=/usr/src/linux-source-6.1.tar.xz
if [ ! -f "$tarball" ]; then
	[ "${1:-}" != --cached ] || exit 1
	apt-get install -y -q --no-install-recommends linux-source-6.1 >&2
fi
hash=$( (sha256sum "$tarball" | cut -c1-16; cat "$here/debug.config") | sha256sum | cut -c1-12)
out=$cache/debug-$hash
if [ -f "$out/.ready" ]; then
	echo "$out"
	exit 0
fi
[ "${1:-}" != --cached ] || exit 1
# What building a kernel needs beyond tests/deps.txt (make check never
# builds one): kconfig's lexer and parser, bc for the timeconst header,
# libelf for objtool.
missing=
for tool in flex bison bc; do
	command -v "$tool" >/dev/null || missing="$missing $tool"
done
[ -f /usr/include/libelf.h ] || missing="$missing libelf-dev"
if [ -n "$missing" ]; then
	echo "build-kernel.sh: installing what a kernel build needs:$missing" >&2
	apt-get install -y -q --no-install-recommends $missing >&2
fi
echo "build-kernel.sh: building the debug kernel into $out (first run: about 30 minutes on 2 cores)" >&2
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
tar -C "$out.tmp" -xf "$tarball"
src=$(echo "$out.tmp"/linux-source-6.1)
cd "$src"
make -s x86_64_defconfig >&2
scripts/kconfig/merge_config.sh -m .config kernel/configs/kvm_guest.config "$here/debug.config" >&2
make -s olddefconfig >&2
for opt in KASAN UBSAN PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_LIST DEBUG_OBJECTS DEBUG_KMEMLEAK FAILSLAB FAIL_PAGE_ALLOC; do
	grep -q "^CONFIG_$opt=y" .config || { echo "build-kernel.sh: CONFIG_$opt did not stick" >&2; exit 1; }
done
make -s -j"$(nproc)" bzImage modules >&2
make -s modules_install INSTALL_MOD_PATH="$out.tmp/modroot" >&2
cp arch/x86/boot/bzImage "$out.tmp/vmlinuz"
make -s kernelrelease >"$out.tmp/release"
touch "$out.tmp/.ready"
cd /
mv "$out.tmp" "$out"
echo "$out"
